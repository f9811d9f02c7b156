package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.engram.testing.Golden;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code hash} against the default-config goldens of the official code: the bytes must match exactly. */
class HashCommandGoldenTest {
    private static final JsonNode GOLDEN = HashGoldenFiles.CONFIG;

    @TempDir
    Path tmp;

    @TestFactory
    List<DynamicTest> rawIdsWithTheLookupTableGiveTheGoldenHashIds() {
        Path config = HashGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : GOLDEN.get("cases")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                Path out = tmp.resolve(c.get("name").asText() + ".hash.i64.bin");
                CliRun.of("hash", "--config", config.toString(), "--lut", HashGoldenFiles.lut().toString(),
                        "--ids", HashGoldenFiles.file(c.get("files").get("input_ids")).toString(),
                        "--batch", c.get("B").asText(), "--seq", c.get("T").asText(), "--out", out.toString()).assertOk();
                assertArrayEquals(HashGoldenFiles.expectedHashBytes(c), Files.readAllBytes(out));
            }));
        }
        return tests;
    }

    /**
     * Without a table the ids are taken as compressed, and so is pad_id (the identity table maps it to
     * itself): the config gives compressed_vocab_size and the golden's compressed pad id.
     */
    @TestFactory
    List<DynamicTest> compressedIdsWithoutTableGiveTheSameHashIds() {
        JsonNode tok = GOLDEN.get("tokenizer");
        ObjectNode extra = JsonNodeFactory.instance.objectNode()
                .put("compressed_vocab_size", tok.get("compressed_vocab_size").asLong())
                .put("pad_id", tok.get("pad_id_compressed").asLong());
        Path config = HashGoldenFiles.writeConfig(tmp, "compressed.json", extra);
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : GOLDEN.get("cases")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                Path out = tmp.resolve(c.get("name").asText() + ".hash.i64.bin");
                CliRun.of("hash", "--config", config.toString(),
                        "--ids", HashGoldenFiles.file(c.get("files").get("compressed_ids")).toString(),
                        "--batch", c.get("B").asText(), "--seq", c.get("T").asText(), "--out", out.toString()).assertOk();
                assertArrayEquals(HashGoldenFiles.expectedHashBytes(c), Files.readAllBytes(out));
            }));
        }
        return tests;
    }

    @Test
    void describePrintsTheGoldenParameters() throws Exception {
        Path config = HashGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        CliRun run = CliRun.of("hash", "--describe", "--config", config.toString(), "--lut", HashGoldenFiles.lut().toString())
                .assertOk();
        JsonNode d = new ObjectMapper().readTree(run.out());
        assertEquals(GOLDEN.get("tokenizer").get("compressed_vocab_size").asLong(), d.get("compressed_vocab_size").asLong());
        assertEquals(GOLDEN.get("tokenizer").get("pad_id_compressed").asLong(), d.get("pad_id_compressed").asLong());
        JsonNode layers = d.get("layers");
        assertEquals(GOLDEN.get("layers").size(), layers.size());
        for (int i = 0; i < layers.size(); i++) {
            JsonNode expected = GOLDEN.get("layers").get(i), actual = layers.get(i);
            assertEquals(expected.get("layer_id").asInt(), actual.get("layer_id").asInt(), "layer order");
            assertArrayEquals(Golden.longs(expected.get("multipliers")), Golden.longs(actual.get("multipliers")));
            assertArrayEquals(Golden.longs(expected.get("flat_primes")), Golden.longs(actual.get("moduli")));
            assertArrayEquals(Golden.longs(expected.get("offsets")), Golden.longs(actual.get("offsets")));
            assertEquals(expected.get("total_rows").asLong(), actual.get("total_rows").asLong());
        }
    }
}
