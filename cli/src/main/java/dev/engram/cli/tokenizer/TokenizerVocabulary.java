package dev.engram.cli.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.engram.tokenizer.BuiltCompressionTable;
import dev.engram.tokenizer.CompressionTableBuilder;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face tokenizer.json opened with the real tokenizers library (DJL's binding, native code from its
 * jar, offline), seen as the official {@code CompressedTokenizer} sees it (SEMANTICS.md §2.1): every id
 * {@code 0 .. len(tokenizer)-1} decoded on its own with {@code tokenizer.decode([id], skip_special_tokens=False)},
 * and its raw token string ({@code convert_ids_to_tokens(id)}) for the ids whose text is a partial UTF-8 byte
 * sequence. {@link #compressionTable()} feeds both to {@link CompressionTableBuilder}, which applies the
 * normalizer sequence, so the table is the one the existing path builds from the same strings.
 *
 * <p>An id the tokenizer has no token for (a gap in the ids) decodes to {@code ""}, as in the library.
 * Not thread-safe; close it to free the native tokenizers.
 */
public final class TokenizerVocabulary implements AutoCloseable {
    /** The name AutoTokenizer and DJL look for inside a model directory. */
    public static final String FILE_NAME = "tokenizer.json";

    private final Path file;
    private final int size;
    private final long maxTokenId;
    private final boolean cleanUpTokenizationSpaces;
    private final HuggingFaceTokenizer tokenizer;
    private final HuggingFaceTokenizer withoutDecoder;

    private TokenizerVocabulary(TokenizerJson json, boolean cleanUp, HuggingFaceTokenizer tokenizer,
                                HuggingFaceTokenizer withoutDecoder) {
        this.file = json.file;
        this.size = json.vocabSize;
        this.maxTokenId = json.maxTokenId;
        this.cleanUpTokenizationSpaces = cleanUp;
        this.tokenizer = tokenizer;
        this.withoutDecoder = withoutDecoder;
    }

    /**
     * Opens a tokenizer.json as transformers' fast tokenizer decodes it by default (no clean-up of
     * tokenization spaces, as DeepSeek-V3's tokenizer_config.json and transformers' default say).
     *
     * @param path a tokenizer.json, or a directory holding one
     * @return the opened vocabulary
     * @throws TokenizerFileException when the file is missing, not a tokenizers file, rejected by the library,
     *                                or the library cannot be loaded
     */
    public static TokenizerVocabulary open(Path path) {
        return open(path, false);
    }

    /**
     * Opens a tokenizer.json.
     *
     * @param path                      a tokenizer.json, or a directory holding one
     * @param cleanUpTokenizationSpaces apply transformers' {@code clean_up_tokenization} to every decoded text,
     *                                  as a tokenizer whose tokenizer_config.json sets
     *                                  {@code clean_up_tokenization_spaces: true} does
     * @return the opened vocabulary
     * @throws TokenizerFileException when the file is missing, not a tokenizers file, rejected by the library,
     *                                or the library cannot be loaded
     * @throws IllegalStateException  when DJL's tokenizers binding is not on the class path
     */
    public static TokenizerVocabulary open(Path path, boolean cleanUpTokenizationSpaces) {
        if (path == null) throw new IllegalArgumentException("tokenizer path is null");
        Path file = resolve(path);
        TokenizerJson json = TokenizerJson.read(file);
        if (!DjlRuntime.onClassPath()) {
            throw new IllegalStateException("reading " + file + " needs the Hugging Face tokenizers binding"
                    + " (ai.djl.huggingface:tokenizers) on the class path; bin/engram has it after mvn package");
        }
        DjlRuntime.goOffline();
        HuggingFaceTokenizer tokenizer = load(file, () -> HuggingFaceTokenizer.newInstance(file, Map.of()));
        try {
            HuggingFaceTokenizer bare = load(file, () -> HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json.withoutDecoder.getBytes(StandardCharsets.UTF_8)), Map.of()));
            return new TokenizerVocabulary(json, cleanUpTokenizationSpaces, tokenizer, bare);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    private static Path resolve(Path path) {
        if (Files.isDirectory(path)) {
            Path inside = path.resolve(FILE_NAME);
            if (!Files.isRegularFile(inside)) throw new TokenizerFileException(path, "directory has no " + FILE_NAME);
            return inside;
        }
        if (!Files.exists(path)) throw new TokenizerFileException(path, "no such file");
        if (!Files.isRegularFile(path)) throw new TokenizerFileException(path, "not a regular file");
        return path;
    }

    private interface Loader {
        HuggingFaceTokenizer load() throws IOException;
    }

    /** Turns the library's failures into one exception that names the file. */
    private static HuggingFaceTokenizer load(Path file, Loader loader) {
        try {
            return loader.load();
        } catch (IOException e) {
            throw new TokenizerFileException(file, "cannot read it: " + e, e);
        } catch (LinkageError e) { // UnsatisfiedLinkError, or the binding's class initialisation failing on it
            throw new TokenizerFileException(file, "cannot load the tokenizers native library: " + e, e);
        } catch (RuntimeException e) {
            String why = e.getCause() != null && e.getMessage() != null && e.getMessage().startsWith("Failed to load")
                    ? "cannot load the tokenizers native library (" + e.getMessage() + " " + e.getCause() + ")"
                    : "the tokenizers library rejects it: " + e.getMessage();
            throw new TokenizerFileException(file, why, e);
        }
    }

    /** {@return the tokenizer.json read} */
    public Path file() {
        return file;
    }

    /** {@return {@code len(tokenizer)}: the distinct token strings of the model vocabulary and the added tokens} */
    public int size() {
        return size;
    }

    /**
     * {@return the highest id in the file} Above {@code size() - 1} when the ids have gaps: the ids from
     * {@code size()} on are then outside the table, as in the reference.
     */
    public long maxTokenId() {
        return maxTokenId;
    }

    /**
     * {@return {@code tokenizer.decode([id], skip_special_tokens=False)}} with the clean-up this vocabulary was
     * opened with.
     *
     * @param id a token id in {@code [0, size())}
     * @throws IndexOutOfBoundsException when {@code id} is outside that range
     */
    public String decode(int id) {
        String text = tokenizer.decode(new long[] {checkId(id)}, false);
        return cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
    }

    /**
     * {@return {@code convert_ids_to_tokens(id)}: the token string as stored (byte-level form), {@code ""} for an
     * id with no token}
     *
     * @param id a token id in {@code [0, size())}
     * @throws IndexOutOfBoundsException when {@code id} is outside that range
     */
    public String rawToken(int id) {
        // No decoder: tokenizers decodes one id to its token string (id_to_token), or "" when there is none.
        return withoutDecoder.decode(new long[] {checkId(id)}, false);
    }

    /** {@return {@link #decode(int)} of every id in order, {@code size()} strings} */
    public List<String> decodedTexts() {
        List<String> out = new ArrayList<>(size);
        for (int id = 0; id < size; id++) out.add(decode(id));
        return out;
    }

    /** {@return {@link #rawToken(int)} of every id in order, {@code size()} strings} */
    public List<String> rawTokens() {
        List<String> out = new ArrayList<>(size);
        for (int id = 0; id < size; id++) out.add(rawToken(id));
        return out;
    }

    /**
     * {@return the compression table of this vocabulary: {@link CompressionTableBuilder#build} of
     * {@link #decodedTexts()} and {@link #rawTokens()}}
     */
    public BuiltCompressionTable compressionTable() {
        return CompressionTableBuilder.build(decodedTexts(), rawTokens());
    }

    /** Frees the native tokenizers; further calls fail. */
    @Override
    public void close() {
        tokenizer.close();
        withoutDecoder.close();
    }

    private long checkId(int id) {
        if (id < 0 || id >= size) {
            throw new IndexOutOfBoundsException("token id " + id + " is outside [0, " + size + ") of " + file);
        }
        return id;
    }

    /**
     * transformers' {@code PreTrainedTokenizerBase.clean_up_tokenization}: removes the space before
     * punctuation and English contractions, in this order.
     *
     * @param text a decoded text
     * @return the text cleaned up
     */
    static String cleanUpTokenization(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }
}
