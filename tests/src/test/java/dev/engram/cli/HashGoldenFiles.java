package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.engram.testing.Golden;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The default-config hash goldens (golden_hash.json configs[0]) as the files the {@code hash} command takes. */
final class HashGoldenFiles {
    static final JsonNode CONFIG = Golden.json("hash/golden_hash.json").get("configs").get(0);

    private HashGoldenFiles() {}

    static Path file(JsonNode fileEntry) {
        return Golden.dir().resolve("hash").resolve(fileEntry.get("file").asText());
    }

    static Path lut() {
        return file(CONFIG.get("tokenizer").get("table"));
    }

    /** The golden engram_config with extra keys, written as JSON into {@code dir}. */
    static Path writeConfig(Path dir, String name, ObjectNode extra) {
        ObjectNode cfg = CONFIG.get("engram_config").deepCopy();
        cfg.setAll(extra);
        Path p = dir.resolve(name);
        try {
            Files.writeString(p, cfg.toPrettyString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** The expected {@code hash} output of a case: its per-layer hash-id files concatenated in layer_ids order. */
    static byte[] expectedHashBytes(JsonNode testCase) throws IOException {
        var all = new ByteArrayOutputStream();
        for (JsonNode layer : CONFIG.get("engram_config").get("layer_ids")) {
            all.write(Files.readAllBytes(file(testCase.get("files").get("layer" + layer.asInt() + "_hash_ids"))));
        }
        return all.toByteArray();
    }
}
