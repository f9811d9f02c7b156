package dev.engram.cli;

import dev.engram.cli.tokenizer.TokenizerVocabulary;
import dev.engram.io.LittleEndianFiles;
import dev.engram.tokenizer.BuiltCompressionTable;
import dev.engram.tokenizer.KeyKind;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/** {@code table}: the compression table of a Hugging Face tokenizer.json, written as the int64 file {@code --lut} reads. */
final class TableCommand implements Command {
    private static final Set<String> VALUES = Set.of("tokenizer", "out");
    private static final String CLEAN_UP = "clean-up-tokenization-spaces";

    @Override
    public String name() {
        return "table";
    }

    @Override
    public String summary() {
        return "the compression table (raw id -> compressed id) of a tokenizer.json, for --lut";
    }

    @Override
    public String help() {
        return """
                usage: engram table --tokenizer TOKENIZER.json --out LUT.i64.bin [--clean-up-tokenization-spaces]

                Builds the compression table of the official CompressedTokenizer (SEMANTICS.md section 2.1) from a
                Hugging Face tokenizer.json with the real tokenizers library (offline: its native code comes
                from its jar). Every id 0 .. len(tokenizer)-1 is decoded on its own, as
                tokenizer.decode([id], skip_special_tokens=False); a text with U+FFFD (a partial UTF-8 byte
                token) keys by its raw token string, any other by its normalization (NFKC, NFD, StripAccents,
                Lowercase, whitespace runs to one space, Strip), or by itself when that is empty. Distinct keys
                are numbered by first occurrence. Writes raw id -> compressed id, len(tokenizer) int64
                little-endian values: the file hash and forward take as --lut.

                options:
                  --tokenizer FILE   tokenizer.json, or a model directory holding one
                  --out FILE         where to write the table; the name must end in .i64.bin
                  --clean-up-tokenization-spaces
                                     apply transformers' clean_up_tokenization to every decoded text, as
                                     AutoTokenizer does when tokenizer_config.json sets
                                     clean_up_tokenization_spaces to true (DeepSeek-V3 sets false, the default)
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out) {
        Args args = Args.parse(name(), argv, VALUES, Set.of(CLEAN_UP));
        Path tokenizerPath = args.requiredPath("tokenizer");
        Path outFile = args.requiredPath("out");
        if (!outFile.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".i64.bin")) {
            throw new UsageException("--out must name a *.i64.bin file (the table is int64; the name gives the dtype"
                    + " to --lut), got " + outFile);
        }
        checkWritable(outFile);
        BuiltCompressionTable built;
        int size;
        long maxId;
        try (TokenizerVocabulary vocabulary = TokenizerVocabulary.open(tokenizerPath, args.flag(CLEAN_UP))) {
            built = vocabulary.compressionTable();
            size = vocabulary.size();
            maxId = vocabulary.maxTokenId();
            out.printf(Locale.ROOT, "tokenizer: %s%n", vocabulary.file());
        }
        long[] table = built.table().toArray();
        LittleEndianFiles.writeInt64(outFile, table);
        long compressed = built.numNewToken();
        out.printf(Locale.ROOT, "vocab size (len(tokenizer)): %d%n", size);
        out.printf(Locale.ROOT, "compressed size V': %d (%.2f%% fewer ids)%n", compressed, 100.0 * (size - compressed) / size);
        out.printf(Locale.ROOT, "keys: %d normalized, %d raw token (partial UTF-8), %d raw text (normalized to empty)%n",
                count(built, KeyKind.NORMALIZED), count(built, KeyKind.RAW_TOKEN), count(built, KeyKind.RAW_TEXT_FALLBACK));
        if (maxId >= size) {
            out.printf(Locale.ROOT, "note: the file has ids up to %d but len(tokenizer) is %d: ids %d and above are"
                    + " outside the table, as in the reference%n", maxId, size, size);
        }
        out.printf(Locale.ROOT, "wrote %s: %d int64 little-endian entries (%d bytes)%n", outFile, table.length,
                8L * table.length);
        return Main.OK;
    }

    /** Fails before the (long) decoding when the table could not be written anyway. */
    private static void checkWritable(Path outFile) {
        if (Files.isDirectory(outFile)) throw new IllegalArgumentException(outFile + ": --out is a directory");
        Path dir = outFile.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(outFile + ": cannot write --out, " + dir + " is not a directory");
        }
        if (Files.exists(outFile) ? !Files.isWritable(outFile) : !Files.isWritable(dir)) {
            throw new IllegalArgumentException(outFile + ": cannot write --out, permission denied");
        }
    }

    private static long count(BuiltCompressionTable built, KeyKind kind) {
        return built.kinds().stream().filter(kind::equals).count();
    }
}
