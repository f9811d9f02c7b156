package dev.engram.gpu;

import com.fasterxml.jackson.databind.JsonNode;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LittleEndianFiles;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.StateDictFiles;
import dev.engram.testing.Compare;
import dev.engram.testing.Golden;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The golden forward files (the official torch module, float32 on the CPU) reproduced by a FLOAT32
 * {@link EngramLayer} on the GPU: the output of every layer and case, norm-wise relative error
 * ≤ {@value #TOL} (the CPU reference reaches 9e-7 on the same files).
 */
@RequiresGpu
class GoldenForwardGpuTest {
    static final double TOL = 1e-5;
    private static final JsonNode MANIFEST = Golden.json("forward/manifest.json");

    @TestFactory
    List<DynamicTest> everyLayerAndCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode cfg : MANIFEST.get("configs")) {
            EngramConfig config = EngramConfigJson.parse("{\"engram_config\":" + cfg.get("engram_config")
                    + ",\"backbone_config\":" + cfg.get("backbone_config") + "}").withGateNormEps(EngramConfig.FLOAT32_EPS);
            CompressionTable table = CompressionTable.load(forward(cfg.get("tokenizer").get("table").get("file").asText()));
            for (JsonNode layer : cfg.get("layers")) {
                for (JsonNode c : cfg.get("cases")) {
                    String name = cfg.get("name").asText() + " L" + layer.get("layer_id").asInt() + " " + c.get("name").asText();
                    tests.add(DynamicTest.dynamicTest(name, () -> check(config, table, layer, c, name)));
                }
            }
        }
        return tests;
    }

    private static void check(EngramConfig config, CompressionTable table, JsonNode layer, JsonNode c, String name) {
        CudaDevice.get(0).makeCurrent();
        long liveBefore = DeviceBuffer.liveBytes();
        NgramHashMapping mapping = NgramHashMapping.create(config, table);
        int layerId = layer.get("layer_id").asInt();
        Path weightsDir = forward(layer.get("weights").get("value_proj.weight").get("file").asText()).getParent();
        EngramWeights weights = StateDictFiles.load(weightsDir, config, mapping.layer(layerId));
        int b = c.get("B").asInt(), t = c.get("T").asInt();
        long[] ids = LittleEndianFiles.readInt64(forward(c.get("input_ids").get("file").asText()));
        double[] hiddenD = LittleEndianFiles.readFloat32AsDouble(forward(c.get("hidden_states").get("file").asText()));
        float[] hidden = new float[hiddenD.length];
        for (int i = 0; i < hidden.length; i++) hidden[i] = (float) hiddenD[i];
        double[] expected = LittleEndianFiles.readFloat32AsDouble(
                weightsDir.getParent().resolve(c.get("name").asText()).resolve("float32").resolve("output.f32.bin"));

        float[] out;
        try (EngramLayer engram = EngramLayer.create(mapping, layerId, weights, DType.FLOAT32, b * t)) {
            out = engram.forward(ids, hidden, b, t);
        }
        double[] actual = new double[out.length];
        for (int i = 0; i < out.length; i++) actual[i] = out[i];
        double err = Compare.normwiseRelativeError(actual, expected);
        System.out.printf("golden forward on the GPU, %s: norm-wise relative error %.2e%n", name, err);
        Compare.assertAllClose(actual, expected, TOL, "golden output " + name);
        assertEquals(liveBefore, DeviceBuffer.liveBytes(), "live device bytes after the layer is closed");
    }

    private static Path forward(String relative) {
        return Golden.dir().resolve("forward").resolve(relative);
    }
}
