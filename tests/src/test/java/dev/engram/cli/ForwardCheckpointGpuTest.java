package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.engram.EngramConfigJson;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.GpuLayerWeights;
import dev.engram.cuda.DType;
import dev.engram.gpu.EngramLayer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LayerPrefix;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code forward --checkpoint --device gpu} on the golden layers. The layer uploads the same values either way, so
 * the files are equal byte for byte (on a GPU as under the CUDA simulator: same kernels, same inputs): an fp32 or
 * bf16 table against {@code --weights} (whose fp32 table the bf16 layer rounds to nearest even on upload, as
 * {@code convert --table bf16} does), and an fp8 table (kept fp8 on the GPU, dequantized by the gather) against a
 * checkpoint holding its dequantized table in bf16 or fp32. The fp8 table on the GPU also equals the CPU reference
 * on the same checkpoint within EngramLayerGpuVsCpuTest's tolerances (fp32 2e-5, bf16 2e-2).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class ForwardCheckpointGpuTest {
    private static final JsonNode LAYER = ForwardGoldenFiles.layers().getFirst();

    @TempDir
    Path tmp;
    private Path config;

    @BeforeEach
    void config() {
        config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
    }

    private static List<String> gpu(List<String> args, String dtype, String... more) {
        List<String> out = new ArrayList<>(args);
        out.addAll(List.of("--device", "gpu", "--dtype", dtype));
        out.addAll(List.of(more));
        return out;
    }

    @ParameterizedTest(name = "--table {0}, --dtype {1}")
    @CsvSource({"fp32, fp32", "fp32, bf16", "bf16, bf16"})
    void floatTablesGiveTheBytesOfTheWeightsDirectory(String table, String dtype) {
        Path ckpt = tmp.resolve(table + ".safetensors");
        CheckpointFiles.convert(config, LAYER, ckpt, "--table", table);
        for (JsonNode c : ForwardGoldenFiles.cases()) {
            Path w = tmp.resolve("w.f32.bin"), k = tmp.resolve("k.f32.bin");
            byte[] expected = CheckpointFiles.run(gpu(ForwardGoldenFiles.args(config, LAYER, c, w), dtype), w);
            CliRun run = CliRun.of(gpu(CheckpointFiles.forwardArgs(config, LAYER, c, ckpt, k), dtype).toArray(String[]::new))
                    .assertOk();
            assertTrue(run.out().contains("from the GPU layer, " + dtype + "; weights from " + ckpt), run.out());
            assertArrayEquals(expected, CheckpointFiles.bytes(k), c.get("name").asText() + " --table " + table);
        }
    }

    @ParameterizedTest(name = "--dtype {0}")
    @CsvSource({"bf16", "fp32"})
    void fp8TableGivesTheForwardOnItsDequantizedTable(String dtype) {
        Path fp8 = tmp.resolve("fp8.safetensors"), dequantized = tmp.resolve("deq.safetensors");
        CheckpointFiles.convert(config, LAYER, fp8, "--table", "fp8", "--block", "4");
        // fp8 -> float32 product (exact) -> the table dtype the layer stores
        CliRun.of("convert", "--checkpoint", fp8.toString(), "--config", config.toString(), "--layer", "1", "--out",
                dequantized.toString(), "--table", dtype).assertOk();
        for (JsonNode c : ForwardGoldenFiles.cases()) {
            Path a = tmp.resolve("a.f32.bin"), b = tmp.resolve("b.f32.bin");
            byte[] expected = CheckpointFiles.run(gpu(CheckpointFiles.forwardArgs(config, LAYER, c, dequantized, b), dtype), b);
            assertArrayEquals(expected, CheckpointFiles.run(gpu(CheckpointFiles.forwardArgs(config, LAYER, c, fp8, a), dtype), a),
                    c.get("name").asText() + ": fp8 table vs its dequantized " + dtype + " table");
        }
    }

    @ParameterizedTest(name = "--dtype {0}")
    @CsvSource({"fp32, 2e-5", "bf16, 2e-2"})
    void fp8TableOnTheGpuEqualsTheCpuReference(String dtype, double tol) {
        Path fp8 = tmp.resolve("fp8.safetensors");
        CheckpointFiles.convert(config, LAYER, fp8, "--table", "fp8", "--block", "2");
        for (JsonNode c : ForwardGoldenFiles.cases()) {
            Path g = tmp.resolve("g.f32.bin"), r = tmp.resolve("r.f32.bin");
            CheckpointFiles.run(gpu(CheckpointFiles.forwardArgs(config, LAYER, c, fp8, g), dtype), g);
            CheckpointFiles.run(CheckpointFiles.forwardArgs(config, LAYER, c, fp8, r), r); // the CPU reference
            dev.engram.testing.Compare.assertAllClose(dev.engram.io.LittleEndianFiles.readFloat32AsDouble(g),
                    dev.engram.io.LittleEndianFiles.readFloat32AsDouble(r), tol,
                    c.get("name").asText() + ": fp8 table, GPU " + dtype + " vs the CPU reference");
        }
    }

    @Test
    void shardedAndChunkedOnTheGpu() {
        JsonNode l15 = ForwardGoldenFiles.layers().getLast();
        Path a = tmp.resolve("a.safetensors"), b = tmp.resolve("b.safetensors");
        CheckpointFiles.convert(config, LAYER, a, "--table", "bf16");
        CheckpointFiles.convert(config, l15, b, "--table", "fp8");
        Path index = CheckpointFiles.index(tmp.resolve("model.safetensors.index.json"), a, b);
        JsonNode c = ForwardGoldenFiles.cases().getFirst();
        for (JsonNode layer : List.of(LAYER, l15)) {
            Path direct = tmp.resolve("d.f32.bin"), sharded = tmp.resolve("s.f32.bin"), chunked = tmp.resolve("c.f32.bin");
            Path file = layer == LAYER ? a : b;
            byte[] expected = CheckpointFiles.run(gpu(CheckpointFiles.forwardArgs(config, layer, c, file, direct), "bf16"), direct);
            assertArrayEquals(expected, CheckpointFiles.run(gpu(CheckpointFiles.forwardArgs(config, layer, c, index, sharded),
                    "bf16"), sharded), "sharded, layer " + ForwardGoldenFiles.layerId(layer));
            byte[] inChunks = CheckpointFiles.run(gpu(CheckpointFiles.forwardArgs(config, layer, c, index, chunked), "bf16",
                    "--chunks", "16,1"), chunked);
            if (simulated()) assertArrayEquals(expected, inChunks, "--chunks 16,1 (simulated: byte for byte)");
            else dev.engram.testing.Compare.assertAllClose(dev.engram.io.LittleEndianFiles.readFloat32AsDouble(chunked),
                    dev.engram.io.LittleEndianFiles.readFloat32AsDouble(direct), 2e-2, "--chunks 16,1");
        }
    }

    /** The table upload of a layer loaded from a checkpoint reports its progress through GpuLayerWeights. */
    @Test
    void tableUploadReportsProgress() {
        Path ckpt = tmp.resolve("p.safetensors");
        CheckpointFiles.convert(config, LAYER, ckpt, "--table", "fp8");
        var cfg = EngramConfigJson.read(config);
        NgramHashMapping mapping = NgramHashMapping.create(cfg, CompressionTable.load(ForwardGoldenFiles.lut()));
        List<long[]> calls = new ArrayList<>();
        long total; // the fp8 codes and scales as in the file, not the table dequantized to bf16
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(ckpt); Arena arena = Arena.ofShared()) {
            CheckpointLayer layer = CheckpointLayer.open(c, LayerPrefix.of(CheckpointFiles.PREFIX), cfg, mapping.layer(1));
            total = layer.fp8Table().values().byteSize() + layer.fp8Table().scales().byteSize();
            var weights = GpuLayerWeights.of(layer, DType.BFLOAT16, arena, (done, all) -> calls.add(new long[] {done, all}));
            try (EngramLayer l = EngramLayer.create(mapping, 1, weights, EngramLayer.Options.of(16))) {
                assertTrue(l.deviceBytes() > 0);
            }
        }
        assertTrue(total < mapping.layer(1).totalRows() * 8 * 2, "fewer bytes than the table in bf16: " + total);
        assertArrayEquals(new long[] {0, total}, calls.getFirst());
        assertArrayEquals(new long[] {total, total}, calls.getLast());
        assertEquals(2, calls.size(), "one chunk: first and last");
    }

    private static boolean simulated() {
        return java.lang.foreign.SymbolLookup.loaderLookup().find("simDeviceSynchronizeCount").isPresent();
    }
}
