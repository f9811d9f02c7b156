package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.engram.EngramConfig;
import dev.engram.io.LittleEndianFiles;
import dev.engram.testing.Compare;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code forward --device cpu} on the golden forward vectors: the file it writes holds exactly the
 * reference forward computed directly (every bit for .f64.bin, the nearest float of each value for
 * .f32.bin), and matches the official module as {@code GoldenForwardTest} requires of the reference.
 */
class ForwardCommandGoldenTest {
    private static final double FLOAT64_TOL = 1e-12;
    private static final double FLOAT32_TOL = 2e-6;

    @TempDir
    Path tmp;

    @TestFactory
    List<DynamicTest> everyLayerAndCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode layer : ForwardGoldenFiles.layers()) {
            for (JsonNode c : ForwardGoldenFiles.cases()) {
                String name = "L" + ForwardGoldenFiles.layerId(layer) + " " + c.get("name").asText();
                tests.add(DynamicTest.dynamicTest(name + " float64", () -> checkFloat64(layer, c)));
                tests.add(DynamicTest.dynamicTest(name + " float32", () -> checkFloat32(layer, c)));
            }
        }
        return tests;
    }

    /** gate_norm_eps 2^-52 as the config gives it: the official float64 run. */
    private void checkFloat64(JsonNode layer, JsonNode c) throws IOException {
        Path config = ForwardGoldenFiles.writeConfig(tmp, "f64.json", eps(EngramConfig.FLOAT64_EPS));
        Path out = tmp.resolve("out.f64.bin");
        CliRun run = CliRun.of(ForwardGoldenFiles.args(config, layer, c, out).toArray(String[]::new)).assertOk();
        assertTrue(run.out().contains("[" + c.get("B").asInt() + ", " + c.get("T").asInt() + ", 4, 64] float64"), run.out());

        double[] expected = ForwardGoldenFiles.referenceForward(config, layer, c);
        assertArrayEquals(bits(expected), bits(LittleEndianFiles.readFloat64(out)), "bit for bit the reference forward");
        Compare.assertAllClose(LittleEndianFiles.readFloat64(out), ForwardGoldenFiles.officialOutput(layer, c, true),
                FLOAT64_TOL, "vs the official float64 output");
    }

    /** No gate_norm_eps in the config: the default 2^-23, the official float32 run. */
    private void checkFloat32(JsonNode layer, JsonNode c) throws IOException {
        Path config = ForwardGoldenFiles.writeConfig(tmp, "f32.json", JsonNodeFactory.instance.objectNode());
        Path out = tmp.resolve("out.f32.bin");
        CliRun.of(ForwardGoldenFiles.args(config, layer, c, out).toArray(String[]::new)).assertOk();

        double[] expected = ForwardGoldenFiles.referenceForward(config, layer, c);
        float[] rounded = new float[expected.length];
        for (int i = 0; i < rounded.length; i++) rounded[i] = (float) expected[i];
        assertArrayEquals(bits(rounded), Files.readAllBytes(out), "the reference forward rounded to float, little-endian");
        Compare.assertAllClose(LittleEndianFiles.readFloat32AsDouble(out), ForwardGoldenFiles.officialOutput(layer, c, false),
                FLOAT32_TOL, "vs the official float32 output");
    }

    @Test
    void gateNormEpsOfTheConfigIsHonoured() {
        JsonNode layer = ForwardGoldenFiles.layers().getFirst(), c = ForwardGoldenFiles.cases().getFirst();
        double[] official64 = ForwardGoldenFiles.officialOutput(layer, c, true);
        double[] withF64Eps = forward(ForwardGoldenFiles.writeConfig(tmp, "a.json", eps(EngramConfig.FLOAT64_EPS)), layer, c);
        double[] withDefault = forward(ForwardGoldenFiles.writeConfig(tmp, "b.json", JsonNodeFactory.instance.objectNode()), layer, c);
        double[] withLarge = forward(ForwardGoldenFiles.writeConfig(tmp, "c.json", eps(0.25)), layer, c);
        Compare.assertAllClose(withF64Eps, official64, FLOAT64_TOL, "eps 2^-52");
        // 2^-23 instead moves the norms by ~1e-7 relative: far outside the float64 tolerance.
        assertTrue(Compare.normwiseRelativeError(withDefault, official64) > 1e3 * FLOAT64_TOL, "default eps 2^-23 must differ");
        assertTrue(Compare.normwiseRelativeError(withLarge, official64) > 1e-3, "eps 0.25 must differ a lot");
    }

    /** Without --lut the ids are taken as compressed: the golden compressed ids give the same output. */
    @Test
    void compressedIdsWithoutTableGiveTheSameOutput() throws IOException {
        JsonNode layer = ForwardGoldenFiles.layers().getLast(), c = ForwardGoldenFiles.cases().getFirst();
        Path withLut = tmp.resolve("lut.f64.bin");
        CliRun.of(ForwardGoldenFiles.args(ForwardGoldenFiles.writeConfig(tmp, "raw.json", JsonNodeFactory.instance.objectNode()),
                layer, c, withLut).toArray(String[]::new)).assertOk();

        ObjectNode compressed = JsonNodeFactory.instance.objectNode()
                .put("compressed_vocab_size", layer.get("compressed_vocab_size").asLong())
                .put("pad_id", layer.get("pad_id_compressed").asLong());
        Path config = ForwardGoldenFiles.writeConfig(tmp, "compressed.json", compressed);
        Path withoutLut = tmp.resolve("nolut.f64.bin");
        List<String> args = ForwardGoldenFiles.args(config, layer, c, withoutLut);
        int lut = args.indexOf("--lut");
        args.subList(lut, lut + 2).clear();
        args.set(args.indexOf("--ids") + 1, ForwardGoldenFiles.compressedIds(layer, c).toString());
        CliRun.of(args.toArray(String[]::new)).assertOk();
        assertArrayEquals(Files.readAllBytes(withLut), Files.readAllBytes(withoutLut));
    }

    private double[] forward(Path config, JsonNode layer, JsonNode c) {
        Path out = tmp.resolve(config.getFileName() + ".out.f64.bin");
        CliRun.of(ForwardGoldenFiles.args(config, layer, c, out).toArray(String[]::new)).assertOk();
        return LittleEndianFiles.readFloat64(out);
    }

    private static ObjectNode eps(double eps) {
        return JsonNodeFactory.instance.objectNode().put("gate_norm_eps", eps);
    }

    private static long[] bits(double[] v) {
        long[] b = new long[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Double.doubleToRawLongBits(v[i]);
        return b;
    }

    private static byte[] bits(float[] v) {
        var buf = java.nio.ByteBuffer.allocate(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float f : v) buf.putFloat(f);
        return buf.array();
    }
}
