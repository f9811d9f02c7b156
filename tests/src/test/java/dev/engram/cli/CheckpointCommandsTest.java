package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.cuda.BFloat16;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LittleEndianFiles;
import dev.engram.io.SafetensorsFile;
import dev.engram.io.TensorInfo;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.reference.StateDictFiles;
import dev.engram.table.Fp8Table;
import dev.engram.testing.Compare;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code convert}, {@code forward --checkpoint} and {@code inspect} on the golden forward layers (CPU reference):
 * an fp32 checkpoint gives the very bytes of {@code forward --weights}; bf16 and fp8 tables give exactly the
 * reference on the dequantized table, close to the fp32 output; sharded checkpoints, conversions between
 * checkpoints and {@code --chunks} work; {@code inspect} lists the layers and says whether they fit.
 */
class CheckpointCommandsTest {
    @TempDir
    Path tmp;
    private Path config;

    @BeforeEach
    void config() {
        config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
    }

    @Test
    void fp32CheckpointWritesTheBytesOfTheWeightsDirectory() {
        for (JsonNode layer : ForwardGoldenFiles.layers()) {
            Path ckpt = tmp.resolve("L" + ForwardGoldenFiles.layerId(layer) + ".safetensors");
            CliRun conv = CheckpointFiles.convert(config, layer, ckpt);
            assertTrue(conv.out().contains("table F32 [" + rows(layer) + ", 8]: max abs error 0.000e+00, norm-wise"
                    + " relative error 0.000e+00"), conv.out());
            for (JsonNode c : ForwardGoldenFiles.cases()) {
                String name = "L" + ForwardGoldenFiles.layerId(layer) + " " + c.get("name").asText();
                for (String type : List.of("f64", "f32")) {
                    Path fromWeights = tmp.resolve("w." + type + ".bin"), fromCkpt = tmp.resolve("c." + type + ".bin");
                    byte[] expected = CheckpointFiles.run(ForwardGoldenFiles.args(config, layer, c, fromWeights), fromWeights);
                    List<String> args = CheckpointFiles.forwardArgs(config, layer, c, ckpt, fromCkpt);
                    CliRun run = CliRun.of(args.toArray(String[]::new)).assertOk();
                    assertTrue(run.out().contains("from the double-precision CPU reference; weights from " + ckpt
                            + " (model.layers." + ForwardGoldenFiles.layerId(layer) + ".engram., table F32)"), run.out());
                    assertArrayEquals(expected, CheckpointFiles.bytes(fromCkpt), name + " " + type);
                }
                Path chunked = tmp.resolve("chunked.f64.bin");
                List<String> args = CheckpointFiles.forwardArgs(config, layer, c, ckpt, chunked);
                args.addAll(List.of("--chunks", "16,1"));
                assertArrayEquals(CheckpointFiles.bytes(tmp.resolve("w.f64.bin")), CheckpointFiles.run(args, chunked),
                        name + " --chunks 16,1");
            }
        }
    }

    /**
     * The converted table's values are what an independent rounding of the golden table gives (BFloat16, or
     * Fp8Table.quantize on the heap), so the forward equals, bit for bit in double, the reference on those values.
     */
    @ParameterizedTest(name = "--table {0} {1}")
    @CsvSource(value = {"bf16, '', 8, 1e-2", "fp8, '', 8, 5e-2", "fp8, --block 2, 2, 5e-2"})
    void roundedTablesGiveTheReferenceOnTheDequantizedTable(String table, String blockOption, int block, double tol) {
        for (JsonNode layer : ForwardGoldenFiles.layers()) {
            int id = ForwardGoldenFiles.layerId(layer);
            Path ckpt = tmp.resolve(table + id + ".safetensors");
            List<String> more = new java.util.ArrayList<>(List.of("--table", table));
            if (!blockOption.isEmpty()) more.addAll(List.of(blockOption.split(" ")));
            CliRun conv = CheckpointFiles.convert(config, layer, ckpt, more.toArray(String[]::new));

            EngramConfig c = EngramConfigJson.read(config);
            NgramHashMapping mapping = NgramHashMapping.create(c, CompressionTable.load(ForwardGoldenFiles.lut()));
            EngramWeights w = StateDictFiles.load(ForwardGoldenFiles.weights(layer), c, mapping.layer(id));
            float[] source = w.embedding();
            float[] dequantized;
            try (Arena arena = Arena.ofConfined()) {
                dequantized = table.equals("bf16") ? BFloat16.toFloats(BFloat16.fromFloats(source))
                        : Fp8Table.quantize(source, c.headDim(), block, arena).toFloats();
            }
            String dtype = table.equals("bf16") ? "BF16" : "F8_E4M3";
            String expectedReport = String.format(Locale.ROOT, "layer %d: table %s [%d, 8]%s: max abs error %.3e,"
                            + " norm-wise relative error %.3e", id, dtype, source.length / 8,
                    table.equals("fp8") ? ", block " + block : "", maxAbs(dequantized, source), normwise(dequantized, source));
            assertTrue(conv.out().contains(expectedReport), "expected '" + expectedReport + "' in:\n" + conv.out());
            System.out.println("convert --table " + table + " " + blockOption + ": " + conv.out().lines().findFirst().orElseThrow());

            ReferenceEngramLayer onDequantized = new ReferenceEngramLayer(mapping, id, w.dense(),
                    EmbeddingRows.of(dequantized, c.headDim()));
            for (JsonNode testCase : ForwardGoldenFiles.cases()) {
                Path out = tmp.resolve("out.f64.bin");
                CheckpointFiles.run(CheckpointFiles.forwardArgs(config, layer, testCase, ckpt, out), out);
                double[] actual = LittleEndianFiles.readFloat64(out);
                double[] expected = onDequantized.forward(LittleEndianFiles.readInt64(ForwardGoldenFiles.ids(testCase)),
                        LittleEndianFiles.readFloat32AsDouble(ForwardGoldenFiles.hidden(testCase)),
                        testCase.get("B").asInt(), testCase.get("T").asInt());
                String name = "L" + id + " " + testCase.get("name").asText() + " --table " + table + " " + blockOption;
                assertArrayEquals(bits(expected), bits(actual), name + ": bit for bit the reference on the dequantized table");
                double[] fp32 = ForwardGoldenFiles.referenceForward(config, layer, testCase);
                double err = Compare.normwiseRelativeError(actual, fp32);
                System.out.printf(Locale.ROOT, "forward on %s: norm-wise relative error %.3e vs the fp32 table%n", name, err);
                assertTrue(err > 0 && err < tol, name + ": error " + err + " vs fp32 should be in (0, " + tol + ")");
            }
        }
    }

    @Test
    void shardedCheckpointAndConversionBetweenCheckpoints() {
        JsonNode l1 = ForwardGoldenFiles.layers().getFirst(), l15 = ForwardGoldenFiles.layers().getLast();
        Path a = tmp.resolve("model-00001-of-00002.safetensors"), b = tmp.resolve("model-00002-of-00002.safetensors");
        CheckpointFiles.convert(config, l1, a);
        CheckpointFiles.convert(config, l15, b);
        Path index = CheckpointFiles.index(tmp.resolve("model.safetensors.index.json"), a, b);
        JsonNode c = ForwardGoldenFiles.cases().getFirst();
        for (JsonNode layer : List.of(l1, l15)) {
            Path w = tmp.resolve("w.f64.bin"), s = tmp.resolve("s.f64.bin");
            assertArrayEquals(CheckpointFiles.run(ForwardGoldenFiles.args(config, layer, c, w), w),
                    CheckpointFiles.run(CheckpointFiles.forwardArgs(config, layer, c, index, s), s),
                    "sharded, layer " + ForwardGoldenFiles.layerId(layer));
        }
        CliRun inspect = CliRun.of("inspect", index.toString(), "--config", config.toString());
        assertEquals(Main.OK, inspect.code(), inspect.out() + inspect.err());
        assertTrue(inspect.out().contains("50 tensors in 2 files"), inspect.out());
        assertTrue(inspect.out().contains("every layer fits (layer_ids [1, 15])"), inspect.out());

        // Both layers from the sharded checkpoint into one fp8 file under another prefix: the same bytes as fp8
        // conversions of the golden weights, and read back with --prefix.
        Path all = tmp.resolve("all.safetensors");
        CliRun conv = CliRun.of("convert", "--checkpoint", index.toString(), "--config", config.toString(), "--layer",
                "1,15", "--out", all.toString(), "--out-prefix", "layers.{layer}.", "--table", "fp8").assertOk();
        assertTrue(conv.out().contains("wrote " + all + ": 2 layers under layers.{layer}."), conv.out());
        for (JsonNode layer : List.of(l1, l15)) {
            int id = ForwardGoldenFiles.layerId(layer);
            Path direct = tmp.resolve("direct" + id + ".safetensors");
            CheckpointFiles.convert(config, layer, direct, "--table", "fp8");
            try (SafetensorsFile x = SafetensorsFile.open(all); SafetensorsFile y = SafetensorsFile.open(direct)) {
                for (TensorInfo t : y.tensors()) {
                    String name = t.name().replace("model.layers." + id + ".engram.", "layers." + id + ".");
                    assertEquals(t.dtype(), x.tensor(name).dtype(), name);
                    assertArrayEquals(t.shape(), x.tensor(name).shape(), name);
                    assertEquals(-1, x.data(name).mismatch(y.data(t.name())), name + ": same bytes");
                }
            }
            Path p = tmp.resolve("p.f64.bin"), d = tmp.resolve("d.f64.bin");
            List<String> args = CheckpointFiles.forwardArgs(config, layer, c, all, p);
            args.addAll(List.of("--prefix", "layers.{layer}."));
            assertArrayEquals(CheckpointFiles.run(CheckpointFiles.forwardArgs(config, layer, c, direct, d), d),
                    CheckpointFiles.run(args, p), "layer " + id + " through --prefix");
        }
    }

    @Test
    void inspectListsLayersAndSaysWhetherTheyFit() {
        JsonNode l1 = ForwardGoldenFiles.layers().getFirst();
        Path ckpt = tmp.resolve("l1.safetensors");
        CheckpointFiles.convert(config, l1, ckpt, "--table", "fp8", "--block", "4");

        CliRun listed = CliRun.of("inspect", ckpt.toString());
        assertEquals(Main.OK, listed.code(), listed.err());
        assertEquals("", listed.err());
        String out = listed.out();
        assertTrue(out.contains("26 tensors in 1 file"), out);
        assertTrue(out.contains("prefix model.layers.{layer}.engram.: layer 1\n"), out);
        assertTrue(out.contains("layer 1: 26 tensors, "), out);
        assertTrue(out.contains(", table F8_E4M3 [" + rows(l1) + ", 8], block 4"), out);
        assertTrue(out.matches("(?s).*multi_head_embedding\\.embedding\\.scale +F8_E8M0 +\\[" + rows(l1) + ", 2\\] +"
                + 2 * rows(l1) + " bytes.*"), out);
        assertTrue(out.matches("(?s).*short_conv\\.conv\\.weight +F32 +\\[256, 1, 4\\] +4096 bytes.*"), out);
        assertTrue(out.contains("no --config: shapes not checked"), out);

        // The golden config has layers 1 and 15: layer 15 is missing.
        CliRun checked = CliRun.of("inspect", "--config", config.toString(), ckpt.toString());
        assertEquals(Main.RUNTIME_ERROR, checked.code());
        assertEquals("", checked.err(), "a checkpoint that does not fit is a result, not an error");
        assertTrue(checked.out().contains("1 problem\n  layer 15: " + ckpt + ": no tensors under model.layers.15.engram."),
                checked.out());

        Path oneLayer = ForwardGoldenFiles.writeConfig(tmp, "one.json", JsonNodeFactory.instance.objectNode()
                .set("layer_ids", JsonNodeFactory.instance.arrayNode().add(1)));
        CliRun fits = CliRun.of("inspect", ckpt.toString(), "--config", oneLayer.toString());
        assertEquals(Main.OK, fits.code(), fits.out());
        assertTrue(fits.out().contains("every layer fits (layer_ids [1])"), fits.out());

        CliRun elsewhere = CliRun.of("inspect", ckpt.toString(), "--prefix", "layers.{layer}.");
        assertEquals(Main.RUNTIME_ERROR, elsewhere.code());
        assertTrue(elsewhere.out().contains("prefix layers.{layer}.: no layers"), elsewhere.out());
        assertTrue(elsewhere.out().contains("26 tensors not under the prefix"), elsewhere.out());
        assertTrue(elsewhere.out().contains("no Engram layer under prefix layers.{layer}."), elsewhere.out());
    }

    /** The layer's table rows: the sum of its primes, which the golden manifest lists per order. */
    private static long rows(JsonNode layer) {
        long rows = 0;
        for (JsonNode order : layer.get("primes")) for (JsonNode p : order) rows += p.asLong();
        return rows;
    }

    private static double maxAbs(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    private static double normwise(float[] a, float[] b) {
        double d = 0, n = 0;
        for (int i = 0; i < a.length; i++) {
            d += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            n += (double) b[i] * b[i];
        }
        return Math.sqrt(d) / Math.sqrt(n);
    }

    private static long[] bits(double[] v) {
        long[] b = new long[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Double.doubleToRawLongBits(v[i]);
        return b;
    }

}
