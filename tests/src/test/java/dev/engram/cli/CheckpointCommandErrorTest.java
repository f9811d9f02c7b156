package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.engram.io.SafetensorsDType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every way a checkpoint can disagree with the config is one {@code error:} line from {@code forward --checkpoint}
 * (exit 1, no output file) naming the file and the tensor with the expected and actual value, and a problem
 * {@code inspect --config} lists (exit 1); usage errors of {@code convert} and {@code inspect} exit 2.
 */
class CheckpointCommandErrorTest {
    private static final JsonNode LAYER = ForwardGoldenFiles.layers().getFirst();
    private static final JsonNode CASE = ForwardGoldenFiles.cases().getFirst();
    private static final String P = "model.layers.1.engram.";
    private static final long ROWS = 22148; // layer 1's table

    @TempDir
    Path tmp;
    private Path config;
    private Path fp8;
    private Path fp32;

    @BeforeEach
    void checkpoints() {
        config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode()
                .set("layer_ids", JsonNodeFactory.instance.arrayNode().add(1).add(15)));
        fp8 = tmp.resolve("fp8.safetensors");
        fp32 = tmp.resolve("fp32.safetensors");
        CheckpointFiles.convert(config, LAYER, fp8, "--table", "fp8");
        CheckpointFiles.convert(config, LAYER, fp32);
    }

    private record Bad(String name, boolean fromFp8, BiFunction<String, CheckpointFiles.Tensor, CheckpointFiles.Tensor> edit,
                       Map<String, CheckpointFiles.Tensor> added, List<String> fragments) {}

    private static CheckpointFiles.Tensor tensor(SafetensorsDType dtype, MemorySegment data, long... shape) {
        return new CheckpointFiles.Tensor(dtype, shape, data);
    }

    /** Replaces the tensor of full name {@code name}, keeps the others. */
    private static BiFunction<String, CheckpointFiles.Tensor, CheckpointFiles.Tensor> replace(
            String name, java.util.function.UnaryOperator<CheckpointFiles.Tensor> by) {
        return (n, t) -> n.equals(name) ? by.apply(t) : t;
    }

    private static final BiFunction<String, CheckpointFiles.Tensor, CheckpointFiles.Tensor> KEEP = (n, t) -> t;

    private static List<Bad> cases() {
        List<Bad> out = new ArrayList<>();
        out.add(new Bad("missing tensor", true, replace(P + "norm2.3.weight", t -> null), Map.of(),
                List.of("tensor \"" + P + "norm2.3.weight\": missing from the checkpoint (expected F32, BF16 or F16 [64]")));
        out.add(new Bad("shape", true, replace(P + "value_proj.bias",
                t -> tensor(SafetensorsDType.F32, MemorySegment.ofArray(new float[63]), 63)), Map.of(),
                List.of("tensor \"" + P + "value_proj.bias\": shape [63] does not fit the config: expected [64] [hidden_size]")));
        out.add(new Bad("conv shape", true, replace(P + "short_conv.conv.weight",
                t -> tensor(SafetensorsDType.F32, t.data(), 256, 4)), Map.of(),
                List.of("tensor \"" + P + "short_conv.conv.weight\": shape [256, 4] does not fit the config: expected"
                        + " [256, 1, 4] [hc_mult * hidden_size, 1, kernel_size]")));
        out.add(new Bad("dense dtype", true, replace(P + "value_proj.weight",
                t -> tensor(SafetensorsDType.F64, MemorySegment.ofArray(new double[64 * 64]), 64, 64)), Map.of(),
                List.of("tensor \"" + P + "value_proj.weight\": dtype F64 is not accepted here: expected F32, BF16 or F16")));
        out.add(new Bad("table dtype", true, replace(P + "multi_head_embedding.embedding.weight",
                t -> tensor(SafetensorsDType.F8_E5M2, t.data(), t.shape())), Map.of(),
                List.of("tensor \"" + P + "multi_head_embedding.embedding.weight\": dtype F8_E5M2 is not accepted here:"
                        + " expected F32, BF16 or F8_E4M3", "(and 1 more problem with this layer")));
        out.add(new Bad("scale missing", true, replace(P + "multi_head_embedding.embedding.scale", t -> null), Map.of(),
                List.of("tensor \"" + P + "multi_head_embedding.embedding.scale\": missing from the checkpoint: the"
                        + " F8_E4M3 table " + P + "multi_head_embedding.embedding.weight needs its scales")));
        out.add(new Bad("scale shape", true, replace(P + "multi_head_embedding.embedding.scale",
                t -> tensor(SafetensorsDType.F8_E8M0, MemorySegment.ofArray(new byte[(int) ROWS * 3]), ROWS, 3)), Map.of(),
                List.of("tensor \"" + P + "multi_head_embedding.embedding.scale\": shape [22148, 3] does not fit the"
                        + " table: expected F8_E8M0 [22148, head_dim / block] with a block dividing head_dim 8")));
        out.add(new Bad("scale rows", true, replace(P + "multi_head_embedding.embedding.scale",
                t -> tensor(SafetensorsDType.F8_E8M0, t.data().asSlice(0, ROWS - 1), ROWS - 1, 1)), Map.of(),
                List.of("shape [22147, 1] does not fit the table")));
        out.add(new Bad("scale dtype", true, replace(P + "multi_head_embedding.embedding.scale",
                t -> tensor(SafetensorsDType.U8, t.data(), t.shape())), Map.of(),
                List.of("tensor \"" + P + "multi_head_embedding.embedding.scale\": dtype U8 is not accepted for fp8"
                        + " scales: expected F8_E8M0")));
        out.add(new Bad("scale beside a float table", false, KEEP,
                Map.of(P + "multi_head_embedding.embedding.scale",
                        tensor(SafetensorsDType.F8_E8M0, MemorySegment.ofArray(new byte[(int) ROWS]), ROWS, 1)),
                List.of("tensor \"" + P + "multi_head_embedding.embedding.scale\": a scale tensor belongs to an F8_E4M3"
                        + " table, but " + P + "multi_head_embedding.embedding.weight is F32")));
        out.add(new Bad("NaN scale byte", true, replace(P + "multi_head_embedding.embedding.scale", t -> {
            byte[] b = t.data().toArray(ValueLayout.JAVA_BYTE);
            b[5] = (byte) 255;
            return tensor(SafetensorsDType.F8_E8M0, MemorySegment.ofArray(b), t.shape());
        }), Map.of(), List.of("tensor \"" + P + "multi_head_embedding.embedding.scale\": scale byte 255 (NaN) at row 5,"
                + " block 0")));
        out.add(new Bad("offsets", true, replace(P + "multi_head_embedding.offsets",
                t -> tensor(SafetensorsDType.I64, MemorySegment.ofArray(new long[8]), 8)), Map.of(),
                List.of("tensor \"" + P + "multi_head_embedding.offsets\": offsets [0, 0, 0, 0, 0, 0, 0, 0] differ from"
                        + " layer 1's [0, 3001, ")));
        out.add(new Bad("unexpected tensor", false, KEEP,
                Map.of(P + "key_projs.4.weight", tensor(SafetensorsDType.F32, MemorySegment.ofArray(new float[64 * 64]), 64, 64)),
                List.of("tensor \"" + P + "key_projs.4.weight\": unexpected tensor F32 [64, 64]: a layer of this config"
                        + " (hc_mult 4) has no tensor of that name")));
        return out;
    }

    @TestFactory
    List<DynamicTest> forwardRefusesAndInspectLists() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            Path bad = CheckpointFiles.rewrite(c.fromFp8() ? fp8 : fp32, tmp.resolve("bad.safetensors"), c.edit(), c.added());
            Path out = tmp.resolve("out.f64.bin");
            List<String> fragments = new ArrayList<>(c.fragments());
            fragments.add("error: " + bad + ": tensor \"" + P);
            CliRun.of(CheckpointFiles.forwardArgs(config, LAYER, CASE, bad, out).toArray(String[]::new))
                    .assertError(Main.RUNTIME_ERROR, fragments.toArray(String[]::new));
            assertFalse(Files.exists(out), "no output file on error");

            Path oneLayer = ForwardGoldenFiles.writeConfig(tmp, "one.json", JsonNodeFactory.instance.objectNode()
                    .set("layer_ids", JsonNodeFactory.instance.arrayNode().add(1)));
            CliRun inspect = CliRun.of("inspect", bad.toString(), "--config", oneLayer.toString());
            assertEquals(Main.RUNTIME_ERROR, inspect.code(), inspect.out());
            assertEquals("", inspect.err());
            for (String f : c.fragments()) {
                if (f.startsWith("(and")) continue; // inspect lists every problem instead
                assertTrue(inspect.out().contains("  layer 1: " + bad + ": ") && inspect.out().contains(f),
                        () -> "inspect should list '" + f + "':\n" + inspect.out());
            }
        })).toList();
    }

    @Test
    void aConfigOfOtherShapesListsEveryProblem() {
        Path other = ForwardGoldenFiles.writeConfig(tmp, "other.json", JsonNodeFactory.instance.objectNode()
                .put("n_embed_per_ngram", 16).set("layer_ids", JsonNodeFactory.instance.arrayNode().add(1)));
        Path out = tmp.resolve("out.f64.bin");
        CliRun.of(CheckpointFiles.forwardArgs(other, LAYER, CASE, fp8, out).toArray(String[]::new))
                .assertError(Main.RUNTIME_ERROR, fp8 + ": tensor \"" + P + "multi_head_embedding.embedding.weight\": shape"
                        + " [22148, 8] does not fit the config: expected [22148, 4] [table rows of the layer, head_dim]",
                        "(and 5 more problems with this layer; `engram inspect` lists them)");
        CliRun inspect = CliRun.of("inspect", fp8.toString(), "--config", other.toString());
        assertEquals(Main.RUNTIME_ERROR, inspect.code());
        assertTrue(inspect.out().contains(": 6 problems\n"), inspect.out());
        assertTrue(inspect.out().contains("tensor \"" + P + "key_projs.3.weight\": shape [64, 64] does not fit the config:"
                + " expected [64, 32] [hidden_size, engram hidden size]"), inspect.out());
    }

    @Test
    void wrongOrMissingPrefixAndFiles() {
        Path out = tmp.resolve("out.f64.bin");
        List<String> args = CheckpointFiles.forwardArgs(config, LAYER, CASE, fp8, out);
        args.addAll(List.of("--prefix", "layers.{layer}."));
        CliRun.of(args.toArray(String[]::new)).assertError(Main.RUNTIME_ERROR, fp8 + ": tensor \"layers.1."
                + "multi_head_embedding.embedding.weight\": missing from the checkpoint", "(and 23 more problems");
        args.set(args.size() - 1, "layers.");
        CliRun.of(args.toArray(String[]::new)).assertError(Main.USAGE_ERROR, "--prefix: layer prefix \"layers.\" must hold"
                + " {layer} exactly once");
        Path missing = tmp.resolve("nothing.safetensors");
        CliRun.of(CheckpointFiles.forwardArgs(config, LAYER, CASE, missing, out).toArray(String[]::new))
                .assertError(Main.RUNTIME_ERROR, missing + ": no such file");
        CliRun.of("inspect", missing.toString()).assertError(Main.RUNTIME_ERROR, missing + ": no such file");
        assertFalse(Files.exists(out));
    }

    @Test
    void inspectUsage() {
        CliRun.of("inspect").assertError(Main.USAGE_ERROR, "'inspect' needs a CHECKPOINT");
        CliRun.of("inspect", fp8.toString(), fp32.toString()).assertError(Main.USAGE_ERROR, "'inspect' takes one CHECKPOINT");
        CliRun.of("inspect", fp8.toString(), "--layer", "1").assertError(Main.USAGE_ERROR, "unknown option --layer");
        CliRun.of("inspect", fp8.toString(), "--prefix", "x").assertError(Main.USAGE_ERROR, "--prefix: layer prefix \"x\"");
        assertTrue(CliRun.of("inspect", "--help").assertOk().out().contains("usage: engram inspect CHECKPOINT"));
    }

    @Test
    void convertUsageAndRuntimeErrors() {
        String w = ForwardGoldenFiles.weights(LAYER).toString(), cfg = config.toString();
        Path out = tmp.resolve("x.safetensors");
        CliRun.of("convert", "--config", cfg, "--layer", "1", "--out", out.toString())
                .assertError(Main.USAGE_ERROR, "give exactly one of --weights DIR and --checkpoint CKPT");
        CliRun.of("convert", "--weights", w, "--checkpoint", fp8.toString(), "--config", cfg, "--layer", "1", "--out",
                out.toString()).assertError(Main.USAGE_ERROR, "give exactly one of --weights DIR and --checkpoint CKPT");
        CliRun.of("convert", "--weights", w, "--prefix", "a.{layer}.", "--config", cfg, "--layer", "1", "--out",
                out.toString()).assertError(Main.USAGE_ERROR, "--prefix applies to --checkpoint only");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "1,15", "--out", out.toString())
                .assertError(Main.USAGE_ERROR, "--weights DIR holds one layer; got --layer 1,15");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "1,x", "--out", out.toString())
                .assertError(Main.USAGE_ERROR, "--layer must be layer ids >= 0 separated by commas, got '1,x'");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "7", "--out", out.toString())
                .assertError(Main.USAGE_ERROR, "--layer 7 is not one of the config's layer_ids [1, 15]");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "1", "--out", tmp.resolve("x.bin").toString())
                .assertError(Main.USAGE_ERROR, "--out must name a *.safetensors file");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "1", "--out", out.toString(), "--table", "fp16")
                .assertError(Main.USAGE_ERROR, "--table must be fp32, bf16 or fp8, got 'fp16'");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "1", "--out", out.toString(), "--block", "4")
                .assertError(Main.USAGE_ERROR, "--block applies to --table fp8 only");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "1", "--out", out.toString(), "--table", "fp8",
                "--block", "3").assertError(Main.USAGE_ERROR, "--block 3 does not divide head_dim 8");
        CliRun.of("convert", "--weights", w, "--config", cfg, "--layer", "1", "--out", out.toString(), "--out-prefix",
                "x").assertError(Main.USAGE_ERROR, "--out-prefix: layer prefix \"x\" must hold {layer} exactly once");
        // A source checkpoint that does not fit: the same error as forward's, nothing written.
        Path bad = CheckpointFiles.rewrite(fp8, tmp.resolve("bad.safetensors"),
                replace(P + "norm1.0.weight", t -> null), Map.of());
        CliRun.of("convert", "--checkpoint", bad.toString(), "--config", cfg, "--layer", "1", "--out", out.toString())
                .assertError(Main.RUNTIME_ERROR, bad + ": tensor \"" + P + "norm1.0.weight\": missing from the checkpoint");
        CliRun.of("convert", "--checkpoint", fp8.toString(), "--config", cfg, "--layer", "15", "--out", out.toString())
                .assertError(Main.RUNTIME_ERROR, fp8 + ": tensor \"model.layers.15.engram.multi_head_embedding.embedding"
                        + ".weight\": missing from the checkpoint");
        assertFalse(Files.exists(out), "nothing written on error");
        assertTrue(CliRun.of("convert", "--help").assertOk().out().contains("usage: engram convert"));
    }
}
