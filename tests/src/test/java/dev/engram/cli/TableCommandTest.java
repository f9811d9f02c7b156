package dev.engram.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.engram.cli.tokenizer.TokenizerFixtures;
import dev.engram.cli.tokenizer.TokenizerVocabulary;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code table --tokenizer tokenizer.json --out LUT.i64.bin}, end to end in-process: output file, stdout, exit codes. */
class TableCommandTest {
    @TempDir
    Path dir;

    @Test
    void writesTheInt64TableAndPrintsTheSizes() throws IOException {
        Path tokenizer = TokenizerFixtures.copy(TokenizerFixtures.BYTE_LEVEL, dir);
        Path out = dir.resolve("lut.i64.bin");
        CliRun run = CliRun.of("table", "--tokenizer", tokenizer.toString(), "--out", out.toString()).assertOk();
        assertTrue(run.out().contains("vocab size (len(tokenizer)): 51\n"), run.out());
        assertTrue(run.out().contains("compressed size V': 24 (52.94% fewer ids)\n"), run.out());
        assertTrue(run.out().contains("keys: 47 normalized, 3 raw token (partial UTF-8), 1 raw text (normalized to empty)"),
                run.out());
        assertTrue(run.out().contains("wrote " + out + ": 51 int64 little-endian entries (408 bytes)"), run.out());

        long[] expected;
        try (TokenizerVocabulary v = TokenizerVocabulary.open(tokenizer)) {
            expected = v.compressionTable().table().toArray();
        }
        byte[] bytes = Files.readAllBytes(out);
        assertEquals(8 * 51, bytes.length);
        long[] written = new long[51];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(written);
        assertArrayEquals(expected, written);
        // The golden toy vocabulary's official table is the first 45 entries.
        assertArrayEquals(new long[] {0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6}, java.util.Arrays.copyOf(written, 18));
        assertArrayEquals(expected, CompressionTable.load(out).toArray(), "the existing loader reads it back");
    }

    @Test
    void theTableIsWhatHashTakesAsLut() throws IOException {
        Path out = dir.resolve("lut.i64.bin");
        CliRun.of("table", "--tokenizer", TokenizerFixtures.copy(TokenizerFixtures.BYTE_FALLBACK, dir).toString(),
                "--out", out.toString()).assertOk();
        Path config = HashGoldenFiles.writeConfig(dir, "config.json", JsonNodeFactory.instance.objectNode());
        CliRun describe = CliRun.of("hash", "--describe", "--config", config.toString(), "--lut", out.toString()).assertOk();
        var json = new ObjectMapper().readTree(describe.out());
        assertEquals(18, json.get("compressed_vocab_size").asLong());
        // pad_id 2 is "</s>", the third distinct key
        assertEquals(2, json.get("pad_id_compressed").asLong());
    }

    @Test
    void takesAModelDirectoryAndTheCleanUpFlag() throws IOException {
        TokenizerFixtures.copy(TokenizerFixtures.BYTE_LEVEL, dir, "model/tokenizer.json");
        Path plain = dir.resolve("plain.i64.bin");
        Path cleaned = dir.resolve("cleaned.i64.bin");
        CliRun.of("table", "--tokenizer", dir.resolve("model").toString(), "--out", plain.toString()).assertOk();
        CliRun run = CliRun.of("table", "--tokenizer=" + dir.resolve("model"), "--out=" + cleaned,
                "--clean-up-tokenization-spaces").assertOk();
        assertTrue(run.out().startsWith("tokenizer: " + dir.resolve("model").resolve("tokenizer.json") + "\n"), run.out());
        // "ok ." and "ok." are each a new key at the same place: the same table, other keys (see ByteLevelVocabularyTest)
        assertArrayEquals(Files.readAllBytes(plain), Files.readAllBytes(cleaned));
    }

    @Test
    void helpAndTheCommandList() {
        assertTrue(CliRun.of("table", "--help").assertOk().out().startsWith("usage: engram table --tokenizer"));
        assertTrue(CliRun.of("--help").assertOk().out().contains("  table    "));
    }

    @Test
    void badTokenizerFilesExitOneAndWriteNothing() throws IOException {
        TokenizerFixtures.assumeTokenizersLibrary();
        Path out = dir.resolve("lut.i64.bin");
        Path missing = dir.resolve("missing.json");
        run(missing, out).assertError(Main.RUNTIME_ERROR, missing + ": no such file");
        Path config = Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 1024}");
        run(config, out).assertError(Main.RUNTIME_ERROR, config + ": not a tokenizer.json", "no \"model\" object");
        Path truncated = Files.writeString(dir.resolve("truncated.json"), "{\"model\": {\"vocab\": {\"a\": 0");
        run(truncated, out).assertError(Main.RUNTIME_ERROR, truncated + ": not a tokenizer.json: not valid JSON");
        Path weights = Files.write(dir.resolve("weights.bin"), new byte[] {0, 1, 2, (byte) 0xff});
        run(weights, out).assertError(Main.RUNTIME_ERROR, weights + ": not a tokenizer.json: not UTF-8 text");
        Path rejected = Files.writeString(dir.resolve("rejected.json"), "{\"model\": {\"type\": \"Nope\", \"vocab\": {\"a\": 0}}}");
        run(rejected, out).assertError(Main.RUNTIME_ERROR, rejected + ": the tokenizers library rejects it");
        run(dir, out).assertError(Main.RUNTIME_ERROR, dir + ": directory has no tokenizer.json");
        assertFalse(Files.exists(out), "no table is written for a bad tokenizer");
    }

    @Test
    void anOutputThatCannotBeWrittenFailsBeforeDecoding() throws IOException {
        Path tokenizer = TokenizerFixtures.copy(TokenizerFixtures.BYTE_LEVEL, dir);
        Path noDir = dir.resolve("no-such-dir").resolve("lut.i64.bin");
        run(tokenizer, noDir).assertError(Main.RUNTIME_ERROR, "cannot write --out", "is not a directory");
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        run(tokenizer, file.resolve("lut.i64.bin")).assertError(Main.RUNTIME_ERROR, "cannot write --out");
        Path directory = Files.createDirectory(dir.resolve("taken.i64.bin"));
        run(tokenizer, directory).assertError(Main.RUNTIME_ERROR, "--out is a directory");
        // Exit 1 before the tokenizer is opened: a bad tokenizer path with a bad output reports the output.
        run(dir.resolve("missing.json"), noDir).assertError(Main.RUNTIME_ERROR, "cannot write --out");
    }

    @Test
    void usageErrorsExitTwo() {
        CliRun.of("table", "--out", "x.i64.bin").assertError(Main.USAGE_ERROR, "missing required option --tokenizer");
        CliRun.of("table", "--tokenizer", "t.json").assertError(Main.USAGE_ERROR, "missing required option --out");
        CliRun.of("table", "--tokenizer", "t.json", "--out", "lut.bin")
                .assertError(Main.USAGE_ERROR, "--out must name a *.i64.bin file");
        CliRun.of("table", "--tokenizer", "t.json", "--out", "lut.i32.bin")
                .assertError(Main.USAGE_ERROR, "--out must name a *.i64.bin file");
        CliRun.of("table", "--tokenizer", "t.json", "--out", "x.i64.bin", "--vocab", "3")
                .assertError(Main.USAGE_ERROR, "unknown option --vocab");
        CliRun.of("table", "t.json").assertError(Main.USAGE_ERROR, "unexpected argument 't.json'");
    }

    private static CliRun run(Path tokenizer, Path out) {
        return CliRun.of("table", "--tokenizer", tokenizer.toString(), "--out", out.toString());
    }
}
