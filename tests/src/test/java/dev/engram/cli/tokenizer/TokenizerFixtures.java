package dev.engram.cli.tokenizer;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tiny tokenizer.json files of src/test/resources/dev/engram/cli/tokenizer (made by make_tokenizers.py
 * there), copied out of the class path into a directory: the tokenizers library reads files, and in a test
 * bundle the resources sit inside a jar.
 */
public final class TokenizerFixtures {
    /** DeepSeek-V3-like byte-level BPE: golden_hash.json's 45 raw tokens, then 4 more and 2 added tokens. */
    public static final String BYTE_LEVEL = "byte_level_bpe.tokenizer.json";
    /** Llama-like BPE with byte_fallback and the Replace/ByteFallback/Fuse/Strip decoder. */
    public static final String BYTE_FALLBACK = "byte_fallback_bpe.tokenizer.json";

    private TokenizerFixtures() {}

    /** Copies fixture {@code name} to {@code dir/target}, skipping (with the reason) where DJL is absent. */
    public static Path copy(String name, Path dir, String target) {
        assumeTokenizersLibrary();
        Path out = dir.resolve(target);
        try (InputStream in = TokenizerFixtures.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("test resource " + name + " is missing");
            Files.createDirectories(out.getParent());
            Files.copy(in, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Copies fixture {@code name} to {@code dir/name}. */
    public static Path copy(String name, Path dir) {
        return copy(name, dir, name);
    }

    /**
     * Skips where DJL's tokenizers binding is not on the class path: the GPU test bundle leaves it out
     * (tests/make-bundle.sh; its jar alone is 18 MB of a 64 MiB bundle). Maven runs always have it.
     */
    public static void assumeTokenizersLibrary() {
        Assumptions.assumeTrue(DjlRuntime.onClassPath(), "DJL's tokenizers binding (ai.djl.huggingface:tokenizers)"
                + " is not on the class path; the test bundle for the GPU machine leaves it out");
    }
}
