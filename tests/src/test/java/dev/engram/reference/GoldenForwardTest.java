package dev.engram.reference;

import com.fasterxml.jackson.databind.JsonNode;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LittleEndianFiles;
import dev.engram.testing.Compare;
import dev.engram.testing.Golden;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The CPU reference against golden_forward (the official torch module, CPU): every intermediate of
 * every layer and case. Error measure: norm-wise relative (∞-norm), see {@link Compare}.
 * <ul>
 *   <li>float64 files: the reference run with gate-norm eps 2^-52 (torch's float64 default), ≤ 1e-12;</li>
 *   <li>float32 files: the same double-precision reference with eps 2^-23 (torch's float32 default),
 *       within float32 rounding, ≤ {@value #FLOAT32_TOL}.</li>
 * </ul>
 * Integer tensors (compressed ids, hash ids, table rows) must match exactly.
 */
class GoldenForwardTest {
    static final double FLOAT64_TOL = 1e-12;
    static final double FLOAT32_TOL = 2e-6;
    private static final JsonNode MANIFEST = Golden.json("forward/manifest.json");

    @TestFactory
    List<DynamicTest> everyIntermediate() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode cfg : MANIFEST.get("configs")) {
            EngramConfig base = EngramConfigJson.parse("{\"engram_config\":" + cfg.get("engram_config")
                    + ",\"backbone_config\":" + cfg.get("backbone_config") + "}");
            CompressionTable table = CompressionTable.load(forward(cfg.get("tokenizer").get("table").get("file").asText()));
            for (JsonNode layer : cfg.get("layers")) {
                int layerId = layer.get("layer_id").asInt();
                for (JsonNode c : cfg.get("cases")) {
                    for (String dtype : List.of("float64", "float32")) {
                        String name = cfg.get("name").asText() + " L" + layerId + " " + c.get("name").asText() + " " + dtype;
                        tests.add(DynamicTest.dynamicTest(name, () -> check(base, table, layer, c, dtype)));
                    }
                }
            }
        }
        return tests;
    }

    private static void check(EngramConfig base, CompressionTable table, JsonNode layer, JsonNode c, String dtype) {
        boolean f64 = dtype.equals("float64");
        EngramConfig config = base.withGateNormEps(f64 ? EngramConfig.FLOAT64_EPS : EngramConfig.FLOAT32_EPS);
        NgramHashMapping mapping = NgramHashMapping.create(config, table);
        int layerId = layer.get("layer_id").asInt();
        assertEquals(layer.get("compressed_vocab_size").asLong(), mapping.compressedVocabSize());
        assertEquals(layer.get("pad_id_compressed").asLong(), mapping.padIdCompressed());
        assertArrayEquals(Golden.longs(layer.get("multipliers")), mapping.layer(layerId).multipliers());
        assertArrayEquals(Golden.longs(layer.get("primes")), mapping.layer(layerId).moduli());
        assertArrayEquals(Golden.longs(layer.get("offsets")), mapping.layer(layerId).offsets());

        Path weightsDir = forward(layer.get("weights").get("value_proj.weight").get("file").asText()).getParent();
        EngramWeights weights = StateDictFiles.load(weightsDir, config, mapping.layer(layerId));
        ReferenceEngramLayer engram = new ReferenceEngramLayer(mapping, layerId, weights);

        int b = c.get("B").asInt(), t = c.get("T").asInt();
        long[] ids = LittleEndianFiles.readInt64(forward(c.get("input_ids").get("file").asText()));
        double[] hidden = LittleEndianFiles.readFloat32AsDouble(forward(c.get("hidden_states").get("file").asText()));
        ForwardTrace trace = engram.trace(ids, hidden, b, t);

        Path caseDir = weightsDir.getParent().resolve(c.get("name").asText());
        Path dir = caseDir.resolve(dtype);
        // Integer tensors do not depend on the dtype; the goldens keep them beside the float32 run.
        Path ints = caseDir.resolve("float32");
        assertArrayEquals(LittleEndianFiles.readInt64(ints.resolve("compressed_ids.i64.bin")), trace.compressedIds());
        assertArrayEquals(LittleEndianFiles.readInt64(ints.resolve("hash_ids.i64.bin")), trace.hashIds());
        assertArrayEquals(LittleEndianFiles.readInt64(ints.resolve("shifted_ids.i64.bin")), trace.shiftedIds());

        int full = engram.fullLength(t);
        int channels = config.hcMult() * config.hiddenSize();
        double[] residual = new double[trace.output().length];
        for (int i = 0; i < residual.length; i++) residual[i] = trace.output()[i] + hidden[i];
        Map<String, double[]> actual = new LinkedHashMap<>();
        actual.put("embeddings_4d", trace.embeddings());
        actual.put("embeddings", trace.embeddings());
        actual.put("key_proj", trace.keyProj());
        actual.put("normed_key", trace.normedKey());
        actual.put("normed_query", trace.normedQuery());
        actual.put("gate_dot", trace.gateDot());
        actual.put("gate_signed_sqrt", trace.gateSignedSqrt());
        actual.put("gate", trace.gate());
        actual.put("value_proj", trace.valueProj());
        actual.put("value", trace.value());
        actual.put("conv_in_normed", trace.convInNormed());
        actual.put("conv_out_bct_full", trace.convOutFull());
        actual.put("conv_out_bct", firstSteps(trace.convOutFull(), b * channels, full, t));
        actual.put("short_conv_out", trace.shortConvOut());
        actual.put("output", trace.output());
        actual.put("output_plus_residual", residual);

        StringBuilder report = new StringBuilder();
        for (var e : actual.entrySet()) {
            double[] expected = f64 ? LittleEndianFiles.readFloat64(dir.resolve(e.getKey() + ".f64.bin"))
                    : LittleEndianFiles.readFloat32AsDouble(dir.resolve(e.getKey() + ".f32.bin"));
            double err = Compare.normwiseRelativeError(e.getValue(), expected);
            report.append(String.format(" %s=%.1e", e.getKey(), err));
            Compare.assertAllClose(e.getValue(), expected, f64 ? FLOAT64_TOL : FLOAT32_TOL, e.getKey());
        }
        System.out.println("golden forward L" + layerId + " " + c.get("name").asText() + " " + dtype + ":" + report);
    }

    /** The first {@code t} steps of each of {@code rows} rows of length {@code full}. */
    private static double[] firstSteps(double[] a, int rows, int full, int t) {
        double[] out = new double[rows * t];
        for (int r = 0; r < rows; r++) System.arraycopy(a, r * full, out, r * t, t);
        return out;
    }

    private static Path forward(String relative) {
        return Golden.dir().resolve("forward").resolve(relative);
    }
}
