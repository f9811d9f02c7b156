package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code forward --checkpoint --device gpu --table-placement host-copy|host-register} writes the same bytes as
 * {@code --table-placement device} (the default): the host-table layer gathers the same rows into the same dense
 * part. On the golden layers and cases, fp32 and bf16, whole and in chunks; an fp8 table ({@code convert --table fp8})
 * in host memory too (its codes and scales copied or pinned in place, dequantized on the GPU to either
 * {@code --dtype}); with {@code --progress} the load's lines on stderr; a host-register {@code --dtype} other than an
 * F32 or BF16 file's table refused with exit 1.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class ForwardTablePlacementGpuTest {
    private static final JsonNode LAYER = ForwardGoldenFiles.layers().getFirst();

    @TempDir
    Path tmp;
    private Path config;

    @BeforeEach
    void config() {
        config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
    }

    private List<String> forward(Path ckpt, JsonNode c, Path out, String dtype, String... more) {
        List<String> args = new ArrayList<>(CheckpointFiles.forwardArgs(config, LAYER, c, ckpt, out));
        args.addAll(List.of("--device", "gpu", "--dtype", dtype));
        args.addAll(List.of(more));
        return args;
    }

    @ParameterizedTest(name = "--table {0}, --dtype {1}, --table-placement {2}")
    @CsvSource({"fp32, fp32, host-copy", "fp32, fp32, host-register", "bf16, bf16, host-copy",
            "bf16, bf16, host-register", "fp32, bf16, host-copy", "fp8, fp32, host-copy", "fp8, bf16, host-copy",
            "fp8, bf16, host-register", "fp8, fp32, host-register"})
    void hostPlacementsWriteTheBytesOfTheDevicePlacement(String table, String dtype, String placement) {
        Path ckpt = tmp.resolve(table + ".safetensors");
        CheckpointFiles.convert(config, LAYER, ckpt, "--table", table);
        for (JsonNode c : ForwardGoldenFiles.cases()) {
            Path d = tmp.resolve("d.f32.bin"), h = tmp.resolve("h.f32.bin");
            byte[] expected = CheckpointFiles.run(forward(ckpt, c, d, dtype, "--table-placement", "device"), d);
            assertArrayEquals(expected, CheckpointFiles.run(forward(ckpt, c, d, dtype), d), "device is the default");
            // AUTO's window set by its system properties: every prefetch zero copy, then every one through the CPU gather.
            for (String zeroCopyMaxTokens : new String[] {"1000000", "0"}) {
                String path = zeroCopyMaxTokens.equals("0") ? "CPU gather" : "zero copy";
                CliRun run = withAutoWindow("0", zeroCopyMaxTokens, () -> CliRun.of(forward(ckpt, c, h, dtype,
                        "--table-placement", placement).toArray(String[]::new)).assertOk());
                assertTrue(run.out().contains("its table in host memory (" + placement + ")"), run.out());
                assertArrayEquals(expected, CheckpointFiles.bytes(h), c.get("name").asText() + ": " + placement + " ("
                        + path + ") vs device");
            }
        }
    }

    private static CliRun withAutoWindow(String min, String max, java.util.function.Supplier<CliRun> run) {
        String minKey = dev.engram.gpu.HostGatherPath.AUTO_ZERO_COPY_MIN_TOKENS_PROPERTY;
        String maxKey = dev.engram.gpu.HostGatherPath.AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY;
        String oldMin = System.getProperty(minKey), oldMax = System.getProperty(maxKey);
        System.setProperty(minKey, min);
        System.setProperty(maxKey, max);
        try {
            return run.get();
        } finally {
            restore(minKey, oldMin);
            restore(maxKey, oldMax);
        }
    }

    private static void restore(String key, String old) {
        if (old == null) System.clearProperty(key);
        else System.setProperty(key, old);
    }

    @ParameterizedTest(name = "--table {0}")
    @CsvSource({"bf16", "fp8"})
    void inChunksTooAndProgressOnStderr(String tableKind) {
        Path ckpt = tmp.resolve(tableKind + ".safetensors");
        CheckpointFiles.convert(config, LAYER, ckpt, "--table", tableKind);
        JsonNode c = ForwardGoldenFiles.cases().getFirst();
        Path d = tmp.resolve("d.f32.bin"), h = tmp.resolve("h.f32.bin");
        byte[] expected = CheckpointFiles.run(forward(ckpt, c, d, "bf16", "--chunks", "16,1"), d);
        for (String placement : List.of("host-copy", "host-register")) {
            CliRun run = CliRun.of(forward(ckpt, c, h, "bf16", "--chunks", "16,1", "--table-placement", placement,
                    "--progress").toArray(String[]::new));
            assertEquals(Main.OK, run.code(), run.err());
            assertArrayEquals(expected, CheckpointFiles.bytes(h), placement + " --chunks 16,1");
            String what = placement.equals("host-copy") ? "table copy into pinned host memory" : "table registration in place";
            String[] lines = run.err().strip().split("\\R");
            assertTrue(lines[0].startsWith("forward: " + what + ": 0.00 of "), run.err());
            assertTrue(lines[lines.length - 1].matches("forward: " + what + ": .* \\(100%\\) in [0-9.]+ s"), run.err());
        }
        CliRun device = CliRun.of(forward(ckpt, c, d, "bf16", "--progress").toArray(String[]::new));
        assertEquals(Main.OK, device.code(), device.err());
        assertTrue(device.err().contains("forward: table upload to the device: 0.00 of ") && device.err().contains("(100%)"),
                device.err());
    }

    @Test
    void whatAHostPlacementCannotTakeIsARuntimeError() {
        Path f32 = tmp.resolve("f32.safetensors");
        CheckpointFiles.convert(config, LAYER, f32, "--table", "fp32");
        JsonNode c = ForwardGoldenFiles.cases().getFirst();
        Path out = tmp.resolve("o.f32.bin");
        CliRun.of(forward(f32, c, out, "bf16", "--table-placement", "host-register").toArray(String[]::new))
                .assertError(Main.RUNTIME_ERROR, "host-register reads the table in place", "--dtype fp32",
                        "--table-placement host-copy");
        assertTrue(!out.toFile().exists(), "no output file on error");
    }
}
