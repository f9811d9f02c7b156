package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** Every {@code hash} error is a non-zero exit and one {@code error:} line that names the problem. */
class HashCommandErrorTest {
    private static final JsonNode CASE = HashGoldenFiles.CONFIG.get("cases").get(0);

    @TempDir
    Path tmp;
    private String config;
    private String ids;
    private String out;
    private String batch;
    private String seq;

    @BeforeEach
    void goodInputs() {
        config = HashGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode()).toString();
        ids = HashGoldenFiles.file(CASE.get("files").get("input_ids")).toString();
        out = tmp.resolve("out.i64.bin").toString();
        batch = CASE.get("B").asText();
        seq = CASE.get("T").asText();
    }

    private CliRun hash(String configFile, String idsFile, String... more) {
        String[] base = {"hash", "--config", configFile, "--lut", HashGoldenFiles.lut().toString(), "--ids", idsFile,
                "--batch", batch, "--seq", seq};
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return CliRun.of(all);
    }

    @Test
    void missingIdsFile() {
        String missing = tmp.resolve("nope.i64.bin").toString();
        hash(config, missing, "--out", out).assertError(Main.RUNTIME_ERROR, missing, "no such file");
        assertFalse(Files.exists(Path.of(out)), "no output on error");
    }

    @Test
    void missingConfigFile() {
        String missing = tmp.resolve("nope.json").toString();
        hash(missing, ids, "--out", out).assertError(Main.RUNTIME_ERROR, missing, "no such file");
    }

    @Test
    void missingLookupTable() {
        String missing = tmp.resolve("nope.i32.bin").toString();
        CliRun.of("hash", "--config", config, "--lut", missing, "--describe")
                .assertError(Main.RUNTIME_ERROR, missing, "no such file");
    }

    @Test
    void idsFileOfTheWrongSize() throws IOException {
        Path shortIds = tmp.resolve("short.i64.bin");
        Files.write(shortIds, new byte[8 * 3]);
        long expected = 8L * CASE.get("B").asInt() * CASE.get("T").asInt();
        hash(config, shortIds.toString(), "--out", out)
                .assertError(Main.RUNTIME_ERROR, shortIds.toString(), "24 bytes", "expected", expected + " bytes");
    }

    @Test
    void badJson() throws IOException {
        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "{\"max_ngram_size\": 3,\n");
        hash(bad.toString(), ids, "--out", out).assertError(Main.RUNTIME_ERROR, bad.toString(), "invalid JSON");
    }

    @Test
    void unknownConfigKey() throws IOException {
        Path typo = HashGoldenFiles.writeConfig(tmp, "typo.json", JsonNodeFactory.instance.objectNode().put("n_heads", 8));
        hash(typo.toString(), ids, "--out", out).assertError(Main.RUNTIME_ERROR, "unknown config key", "n_heads");
    }

    @Test
    void unknownOption() {
        hash(config, ids, "--out", out, "--bogus", "1").assertError(Main.USAGE_ERROR, "unknown option --bogus");
    }

    @Test
    void missingOut() {
        hash(config, ids).assertError(Main.USAGE_ERROR, "missing required option --out");
    }

    @Test
    void badBatchValue() {
        CliRun.of("hash", "--config", config, "--ids", ids, "--batch", "four", "--seq", seq, "--out", out)
                .assertError(Main.USAGE_ERROR, "--batch", "four");
    }

    @Test
    void idPastTheTable() throws IOException {
        Path bad = tmp.resolve("bad.i64.bin");
        ByteBuffer buf = ByteBuffer.allocate(8 * 2).order(ByteOrder.LITTLE_ENDIAN).putLong(5).putLong(10_000_000);
        Files.write(bad, buf.array());
        CliRun.of("hash", "--config", config, "--lut", HashGoldenFiles.lut().toString(), "--ids", bad.toString(),
                        "--batch", "1", "--seq", "2", "--out", out)
                .assertError(Main.RUNTIME_ERROR, "token id 10000000", "outside the compression table");
    }

    @Test
    void noTableAndNoCompressedVocabSize() {
        CliRun.of("hash", "--config", config, "--describe")
                .assertError(Main.USAGE_ERROR, "without --lut", "compressed_vocab_size");
    }

    @Test
    void tableDisagreesWithCompressedVocabSize() {
        String cfg = HashGoldenFiles.writeConfig(tmp, "v.json",
                JsonNodeFactory.instance.objectNode().put("compressed_vocab_size", 1000)).toString();
        CliRun.of("hash", "--config", cfg, "--lut", HashGoldenFiles.lut().toString(), "--describe")
                .assertError(Main.RUNTIME_ERROR, "compressed_vocab_size 1000", "99464");
    }

    @Test
    void describeWithHashOptionsIsAUsageError() {
        CliRun.of("hash", "--config", config, "--lut", HashGoldenFiles.lut().toString(), "--describe", "--out", out)
                .assertError(Main.USAGE_ERROR, "--describe", "--out");
    }
}
