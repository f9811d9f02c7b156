package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.engram.Engram;
import dev.engram.GpuStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Every {@code forward} error is a non-zero exit and one {@code error:} line that names the problem, found
 * before anything is computed; no output file is left behind. Usage errors exit 2, file problems 1 (as in
 * {@code hash}).
 */
class ForwardCommandErrorTest {
    private static final JsonNode LAYER = ForwardGoldenFiles.layers().getFirst();
    private static final JsonNode CASE = ForwardGoldenFiles.cases().getFirst();
    private static final List<String> REQUIRED = List.of("config", "layer", "ids", "hidden", "batch", "seq", "out");

    @TempDir
    Path tmp;
    private Path config;
    private Path out;

    @BeforeEach
    void goodInputs() {
        config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        out = tmp.resolve("out.f64.bin");
    }

    @AfterEach
    void noOutputOnError() {
        assertFalse(Files.exists(out), "no output file on error");
    }

    /** The good command line with option {@code name}'s value replaced ({@code null}: the option dropped). */
    private List<String> with(String name, String value) {
        List<String> args = ForwardGoldenFiles.args(config, LAYER, CASE, out);
        int i = args.indexOf("--" + name);
        if (value == null) args.subList(i, i + 2).clear();
        else args.set(i + 1, value);
        return args;
    }

    private static CliRun run(List<String> args, String... more) {
        List<String> all = new java.util.ArrayList<>(args);
        all.addAll(List.of(more));
        return CliRun.of(all.toArray(String[]::new));
    }

    @TestFactory
    List<DynamicTest> eachRequiredOptionMissing() {
        return REQUIRED.stream().map(o -> DynamicTest.dynamicTest("--" + o, () ->
                run(with(o, null)).assertError(Main.USAGE_ERROR, "missing required option --" + o + " for 'forward'"))).toList();
    }

    @Test
    void neitherOrBothWeightSources() {
        run(with("weights", null)).assertError(Main.USAGE_ERROR, "give exactly one of --weights DIR and --checkpoint FILE");
        run(with("seq", CASE.get("T").asText()), "--checkpoint", tmp.resolve("c.safetensors").toString())
                .assertError(Main.USAGE_ERROR, "give exactly one of --weights DIR and --checkpoint FILE");
        run(with("seq", CASE.get("T").asText()), "--prefix", "layers.{layer}.")
                .assertError(Main.USAGE_ERROR, "--prefix applies to --checkpoint only");
    }

    @Test
    void unknownOption() {
        run(with("seq", CASE.get("T").asText()), "--residual").assertError(Main.USAGE_ERROR, "unknown option --residual");
    }

    @Test
    void outputNameWithoutAType() {
        out = tmp.resolve("out.bin");
        run(with("out", out.toString())).assertError(Main.USAGE_ERROR, "--out must name a *.f64.bin (float64) or *.f32.bin");
    }

    @Test
    void tableNameWithoutAType() {
        run(with("lut", tmp.resolve("lookup.bin").toString())).assertError(Main.USAGE_ERROR, "--lut must name a *.i32.bin or *.i64.bin");
    }

    @Test
    void unknownDevice() {
        run(with("seq", CASE.get("T").asText()), "--device", "tpu").assertError(Main.USAGE_ERROR, "--device must be cpu or gpu, got 'tpu'");
    }

    @Test
    void dtypeWithoutGpu() {
        List<String> args = with("seq", CASE.get("T").asText());
        run(args, "--dtype", "bf16").assertError(Main.USAGE_ERROR, "--dtype applies to --device gpu only");
        run(args, "--device", "cpu", "--dtype", "fp32").assertError(Main.USAGE_ERROR, "--dtype applies to --device gpu only");
    }

    @Test
    void unknownDtype() {
        GpuStatus gpu = Engram.gpuStatus();
        CliRun r = run(with("seq", CASE.get("T").asText()), "--device", "gpu", "--dtype", "fp16");
        r.assertError(Main.USAGE_ERROR, "--dtype must be fp32 or bf16, got 'fp16'");
        if (!gpu.available()) { // the dtype is checked before the GPU is looked at
            assertFalse(r.err().contains("GPU unavailable"), r.err());
        }
    }

    @Test
    void gpuWhereNoneIsUsable() {
        GpuStatus gpu = Engram.gpuStatus();
        org.junit.jupiter.api.Assumptions.assumeFalse(gpu.available(), "a GPU is usable here: " + gpu.describe());
        run(with("seq", CASE.get("T").asText()), "--device", "gpu").assertError(Main.USAGE_ERROR, "--device gpu, but GPU unavailable");
    }

    @Test
    void layerNotInTheConfig() {
        run(with("layer", "7")).assertError(Main.USAGE_ERROR, "--layer 7 is not one of the config's layer_ids [1, 15]");
    }

    @Test
    void badBatchAndSeq() {
        run(with("batch", "0")).assertError(Main.USAGE_ERROR, "option --batch must be >= 1, got 0");
        run(with("seq", "many")).assertError(Main.USAGE_ERROR, "option --seq must be an integer, got 'many'");
    }

    @Test
    void shapeTooLargeForOneArray() {
        List<String> args = with("batch", "100000");
        args.set(args.indexOf("--seq") + 1, "1000");
        run(args).assertError(Main.USAGE_ERROR, "B*T*G*H = 25600000000 must fit in a Java array");
    }

    @Test
    void idsFileOfTheWrongSize() throws IOException {
        Path ids = Files.write(tmp.resolve("short.i64.bin"), new byte[8 * 3]);
        int b = CASE.get("B").asInt(), t = CASE.get("T").asInt();
        run(with("ids", ids.toString())).assertError(Main.RUNTIME_ERROR, ids.toString(), "24 bytes",
                "expected B*T*8 = " + b + "*" + t + "*8 = " + 8 * b * t + " bytes of int64 ids");
    }

    @Test
    void hiddenFileOfTheWrongSize() throws IOException {
        Path hidden = Files.write(tmp.resolve("short.f32.bin"), new byte[4 * 10]);
        int b = CASE.get("B").asInt(), t = CASE.get("T").asInt();
        run(with("hidden", hidden.toString())).assertError(Main.RUNTIME_ERROR, hidden.toString(), "40 bytes",
                "expected B*T*G*H*4 = " + b + "*" + t + "*4*64*4 = " + 4 * b * t * 4 * 64 + " bytes of float32 hidden states");
    }

    @Test
    void idsForAnotherShape() {
        // The right file for [B, T], the wrong B: the size check catches it.
        run(with("batch", String.valueOf(CASE.get("B").asInt() + 1))).assertError(Main.RUNTIME_ERROR, "bytes of int64 ids");
    }

    @Test
    void missingFiles() {
        String missing = tmp.resolve("nope").toString();
        run(with("config", missing + ".json")).assertError(Main.RUNTIME_ERROR, missing + ".json: no such file");
        run(with("ids", missing + ".i64.bin")).assertError(Main.RUNTIME_ERROR, missing + ".i64.bin: no such file");
        run(with("hidden", missing + ".f32.bin")).assertError(Main.RUNTIME_ERROR, missing + ".f32.bin: no such file");
        run(with("lut", missing + ".i64.bin")).assertError(Main.RUNTIME_ERROR, missing + ".i64.bin: no such file");
        run(with("weights", missing)).assertError(Main.RUNTIME_ERROR, missing + ": not a directory of weight files");
    }

    @Test
    void missingWeightFile() throws IOException {
        Path weights = Files.createDirectories(tmp.resolve("weights"));
        try (var files = Files.list(ForwardGoldenFiles.weights(LAYER))) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().startsWith("norm2.3.")) Files.copy(f, weights.resolve(f.getFileName()));
            }
        }
        run(with("weights", weights.toString())).assertError(Main.RUNTIME_ERROR, "norm2.3.weight.f32.bin: missing weight file");
    }

    @Test
    void weightsOfAnotherLayer() {
        JsonNode other = ForwardGoldenFiles.layers().getLast();
        run(with("weights", ForwardGoldenFiles.weights(other).toString()))
                .assertError(Main.RUNTIME_ERROR, "multi_head_embedding.offsets.i64.bin: offsets", "weights of another config or layer");
    }

    @Test
    void badConfig() throws IOException {
        Path bad = Files.writeString(tmp.resolve("bad.json"), "{\"engram_config\": {\"seed\": 0,}}");
        run(with("config", bad.toString())).assertError(Main.RUNTIME_ERROR, bad.toString(), "invalid JSON", "line 1, column 30");
    }

    @Test
    void noTableAndNoCompressedVocabSize() {
        run(with("lut", null)).assertError(Main.USAGE_ERROR, "without --lut", "compressed_vocab_size");
    }

    @Test
    void idOutsideTheTable() throws IOException {
        int b = CASE.get("B").asInt(), t = CASE.get("T").asInt();
        ByteBuffer buf = ByteBuffer.allocate(8 * b * t).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(8 * (b * t - 1), 10_000_000);
        Path ids = Files.write(tmp.resolve("far.i64.bin"), buf.array());
        run(with("ids", ids.toString())).assertError(Main.RUNTIME_ERROR, "token id 10000000", "outside the compression table");
    }

    @Test
    void outputDirectoryMissing() {
        Path nowhere = tmp.resolve("no-such-dir").resolve("out.f64.bin");
        run(with("out", nowhere.toString())).assertError(Main.RUNTIME_ERROR, "cannot write --out", "no directory");
    }
}
