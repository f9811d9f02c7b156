package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LittleEndianFiles;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.reference.StateDictFiles;
import dev.engram.testing.Golden;
import dev.engram.tokenizer.CompressionTable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The golden forward vectors (forward/manifest.json, config "main": the official torch module) as the files
 * the {@code forward} command takes, and the same forward computed directly with the library.
 */
final class ForwardGoldenFiles {
    static final JsonNode CONFIG = Golden.json("forward/manifest.json").get("configs").get(0);

    private ForwardGoldenFiles() {}

    static List<JsonNode> layers() {
        return list(CONFIG.get("layers"));
    }

    static List<JsonNode> cases() {
        return list(CONFIG.get("cases"));
    }

    static int layerId(JsonNode layer) {
        return layer.get("layer_id").asInt();
    }

    static Path lut() {
        return file(CONFIG.get("tokenizer").get("table"));
    }

    static Path weights(JsonNode layer) {
        return file(layer.get("weights").get("value_proj.weight")).getParent();
    }

    static Path ids(JsonNode testCase) {
        return file(testCase.get("input_ids"));
    }

    static Path hidden(JsonNode testCase) {
        return file(testCase.get("hidden_states"));
    }

    /** The ids after the compression table, as the goldens keep them beside the float32 run. */
    static Path compressedIds(JsonNode layer, JsonNode testCase) {
        return caseDir(layer, testCase).resolve("float32").resolve("compressed_ids.i64.bin");
    }

    /** The official module's output in float64 (parameters and inputs upcast, eps 2^-52) or float32. */
    static double[] officialOutput(JsonNode layer, JsonNode testCase, boolean float64) {
        Path dir = caseDir(layer, testCase);
        return float64 ? LittleEndianFiles.readFloat64(dir.resolve("float64").resolve("output.f64.bin"))
                : LittleEndianFiles.readFloat32AsDouble(dir.resolve("float32").resolve("output.f32.bin"));
    }

    /** The golden config in the reference's split form, {@code extra} keys set in its engram_config. */
    static Path writeConfig(Path dir, String name, ObjectNode extra) {
        ObjectNode engram = CONFIG.get("engram_config").deepCopy();
        engram.setAll(extra);
        ObjectNode cfg = JsonNodeFactory.instance.objectNode();
        cfg.set("engram_config", engram);
        cfg.set("backbone_config", CONFIG.get("backbone_config"));
        Path p = dir.resolve(name);
        try {
            Files.writeString(p, cfg.toPrettyString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** The command line of a forward of a golden layer and case, raw ids through the table. */
    static List<String> args(Path config, JsonNode layer, JsonNode testCase, Path out) {
        return new ArrayList<>(List.of("forward", "--config", config.toString(), "--layer", String.valueOf(layerId(layer)),
                "--weights", weights(layer).toString(), "--ids", ids(testCase).toString(),
                "--hidden", hidden(testCase).toString(), "--batch", testCase.get("B").asText(),
                "--seq", testCase.get("T").asText(), "--lut", lut().toString(), "--out", out.toString()));
    }

    /** The same forward computed directly: the config read from the same file, the reference in double. */
    static double[] referenceForward(Path config, JsonNode layer, JsonNode testCase) {
        EngramConfig c = EngramConfigJson.read(config);
        NgramHashMapping mapping = NgramHashMapping.create(c, CompressionTable.load(lut()));
        int layerId = layerId(layer);
        var weights = StateDictFiles.load(weights(layer), c, mapping.layer(layerId));
        return new ReferenceEngramLayer(mapping, layerId, weights).forward(LittleEndianFiles.readInt64(ids(testCase)),
                LittleEndianFiles.readFloat32AsDouble(hidden(testCase)), testCase.get("B").asInt(), testCase.get("T").asInt());
    }

    private static Path caseDir(JsonNode layer, JsonNode testCase) {
        return weights(layer).getParent().resolve(testCase.get("name").asText());
    }

    private static Path file(JsonNode entry) {
        return Golden.dir().resolve("forward").resolve(entry.get("file").asText());
    }

    private static List<JsonNode> list(JsonNode array) {
        List<JsonNode> out = new ArrayList<>();
        array.forEach(out::add);
        return out;
    }
}
