package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsFile;
import dev.engram.io.SafetensorsWriter;
import dev.engram.io.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Checkpoints of the golden forward layers for the CLI tests: {@code convert} run on the golden {@code .f32.bin}
 * weights, {@code forward} command lines that read a checkpoint instead, a sharded index over several files, and
 * copies of a checkpoint with tensors dropped, replaced or added (for the bad-input tests).
 */
final class CheckpointFiles {
    static final String PREFIX = "model.layers.{layer}.engram.";

    private CheckpointFiles() {}

    /** {@code convert --weights <golden layer> --config ... --layer L --out OUT [more]}, asserted to succeed. */
    static CliRun convert(Path config, JsonNode layer, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("convert", "--weights", ForwardGoldenFiles.weights(layer).toString(),
                "--config", config.toString(), "--layer", String.valueOf(ForwardGoldenFiles.layerId(layer)),
                "--out", out.toString()));
        args.addAll(List.of(more));
        return CliRun.of(args.toArray(String[]::new)).assertOk();
    }

    /** The golden forward command line with {@code --checkpoint CKPT} in place of {@code --weights DIR}. */
    static List<String> forwardArgs(Path config, JsonNode layer, JsonNode testCase, Path checkpoint, Path out) {
        List<String> args = ForwardGoldenFiles.args(config, layer, testCase, out);
        int i = args.indexOf("--weights");
        args.set(i, "--checkpoint");
        args.set(i + 1, checkpoint.toString());
        return args;
    }

    /** Runs a command line, asserting success; returns the output file's bytes. */
    static byte[] run(List<String> args, Path out) {
        CliRun.of(args.toArray(String[]::new)).assertOk();
        return bytes(out);
    }

    static byte[] bytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A {@code model.safetensors.index.json} naming every tensor of the shards (which lie beside it). */
    static Path index(Path index, Path... shards) {
        ObjectNode map = JsonNodeFactory.instance.objectNode();
        long total = 0;
        for (Path shard : shards) {
            try (SafetensorsFile f = SafetensorsFile.open(shard)) {
                for (TensorInfo t : f.tensors()) {
                    map.put(t.name(), shard.getFileName().toString());
                    total += t.byteSize();
                }
            }
        }
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.putObject("metadata").put("total_size", total);
        root.set("weight_map", map);
        try {
            Files.writeString(index, root.toPrettyString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return index;
    }

    /** A tensor to put in a rewritten checkpoint. */
    record Tensor(SafetensorsDType dtype, long[] shape, MemorySegment data) {}

    /**
     * Copies {@code src} to {@code dst}, each tensor passed through {@code edit} (name and original in; the tensor to
     * write, or null to drop it, out), then {@code added} added.
     */
    static Path rewrite(Path src, Path dst, BiFunction<String, Tensor, Tensor> edit, Map<String, Tensor> added) {
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (TensorInfo t : f.tensors()) {
                Tensor out = edit.apply(t.name(), new Tensor(t.dtype(), t.shape(), f.data(t.name())));
                if (out != null) w.add(t.name(), out.dtype(), out.shape(), out.data());
            }
            added.forEach((name, t) -> w.add(name, t.dtype(), t.shape(), t.data()));
            w.write(dst);
        }
        return dst;
    }
}
