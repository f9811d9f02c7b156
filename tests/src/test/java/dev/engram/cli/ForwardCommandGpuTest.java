package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.engram.io.LittleEndianFiles;
import dev.engram.testing.Compare;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code forward --device gpu} against {@code forward --device cpu} on the golden forward vectors, norm-wise
 * relative, with the tolerances of EngramLayerGpuVsCpuTest: fp32 ≤ 2e-5, bf16 ≤ 2e-2 (here the reference
 * sees the unrounded float32 inputs and weights, the bf16 layer their bf16 roundings).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class ForwardCommandGpuTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}, output {1}")
    @CsvSource({"fp32, f32, 2e-5", "fp32, f64, 2e-5", "bf16, f32, 2e-2"})
    void gpuMatchesTheCpuReference(String dtype, String outType, double tol) {
        Path config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        for (JsonNode layer : ForwardGoldenFiles.layers()) {
            for (JsonNode c : ForwardGoldenFiles.cases()) {
                String name = "L" + ForwardGoldenFiles.layerId(layer) + " " + c.get("name").asText() + " " + dtype;
                Path cpuOut = tmp.resolve("cpu.f64.bin");
                CliRun.of(ForwardGoldenFiles.args(config, layer, c, cpuOut).toArray(String[]::new)).assertOk();

                Path gpuOut = tmp.resolve("gpu." + outType + ".bin");
                List<String> args = ForwardGoldenFiles.args(config, layer, c, gpuOut);
                args.addAll(List.of("--device", "gpu", "--dtype", dtype));
                CliRun run = CliRun.of(args.toArray(String[]::new)).assertOk();
                assertTrue(run.out().contains("from the GPU layer, " + dtype), run.out());

                double[] gpu = outType.equals("f64") ? LittleEndianFiles.readFloat64(gpuOut)
                        : LittleEndianFiles.readFloat32AsDouble(gpuOut);
                double[] cpu = LittleEndianFiles.readFloat64(cpuOut);
                System.out.printf("forward --device gpu, %s: norm-wise relative error %.2e vs --device cpu%n", name,
                        Compare.normwiseRelativeError(gpu, cpu));
                Compare.assertAllClose(gpu, cpu, tol, name);
            }
        }
    }

    /**
     * {@code --chunks} on the GPU writes the whole GPU run's file: byte for byte under the CUDA simulator (its GEMM sums
     * a row alike whatever the row count), else within the dtype tolerance (cuBLAS may pick another algorithm).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"fp32, 2e-5", "bf16, 2e-2"})
    void gpuChunkedMatchesTheWholeGpuRun(String dtype, double tol) throws java.io.IOException {
        boolean simulated = java.lang.foreign.SymbolLookup.loaderLookup().find("simDeviceSynchronizeCount").isPresent();
        Path config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        JsonNode layer = ForwardGoldenFiles.layers().getFirst();
        for (JsonNode c : ForwardGoldenFiles.cases()) {
            Path whole = tmp.resolve("whole.f32.bin");
            List<String> args = ForwardGoldenFiles.args(config, layer, c, whole);
            args.addAll(List.of("--device", "gpu", "--dtype", dtype));
            CliRun.of(args.toArray(String[]::new)).assertOk();
            for (String list : List.of("1", "2,3", "0,5,1", "16,1")) {
                String name = c.get("name").asText() + " " + dtype + " --chunks " + list;
                Path chunked = tmp.resolve("chunked.f32.bin");
                List<String> chunkedArgs = ForwardGoldenFiles.args(config, layer, c, chunked);
                chunkedArgs.addAll(List.of("--device", "gpu", "--dtype", dtype, "--chunks", list));
                CliRun run = CliRun.of(chunkedArgs.toArray(String[]::new)).assertOk();
                assertTrue(run.out().contains("in chunks of " + list), run.out());
                if (simulated) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(java.nio.file.Files.readAllBytes(whole),
                            java.nio.file.Files.readAllBytes(chunked), name + " (simulated: byte for byte)");
                } else {
                    Compare.assertAllClose(LittleEndianFiles.readFloat32AsDouble(chunked),
                            LittleEndianFiles.readFloat32AsDouble(whole), tol, name);
                }
            }
        }
    }
}
