package dev.engram.cli;

import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.LayerProblem;
import dev.engram.checkpoint.TableLayout;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.LayerPrefix;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsException;
import dev.engram.io.TensorInfo;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code inspect}: what Engram layers a safetensors checkpoint holds (tensors, dtypes, shapes, bytes) and, given a
 * config, everything that does not fit it. The exit code says whether it fits, so scripts can check a checkpoint
 * before loading it.
 */
final class InspectCommand implements Command {
    private static final Set<String> VALUES = Set.of("prefix", "config");

    @Override
    public String name() {
        return "inspect";
    }

    @Override
    public String summary() {
        return "list a safetensors checkpoint's Engram layers and what does not fit a config";
    }

    @Override
    public String help() {
        return """
                usage: engram inspect CHECKPOINT [--prefix P] [--config CONFIG.json]

                Lists the Engram layers of a safetensors checkpoint (CHECKPOINT: a .safetensors file or the
                model.safetensors.index.json of a sharded one): per layer every tensor under the prefix with its
                dtype, shape and bytes, and how many tensors are not under the prefix (the rest of the model).
                With --config, checks each layer as forward --checkpoint loads it and lists every problem, each
                naming the file and the tensor: a missing tensor, a dtype not accepted (dense F32, BF16 or F16;
                the table F32, BF16 or F8_E4M3), a shape the config does not give, an fp8 scale tensor missing,
                of the wrong shape or with a NaN byte (255), offsets of another layer, an unexpected tensor, a
                layer of layer_ids with no tensors, a layer not in layer_ids.

                options:
                """ + CheckpointOptions.prefixHelp("--prefix") + """
                  --config FILE   EngramConfig JSON (as forward takes it) to check the layers against

                exit codes: 0 every layer fits the config (without --config: at least one layer was found);
                1 something does not fit (the problems are on stdout) or no layer was found, or a runtime error
                (an unreadable or malformed checkpoint or config: one error line on stderr); 2 usage error
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out) {
        Args args = Args.parseWithOperand(name(), argv, VALUES, Set.of(), "CHECKPOINT");
        Path file = Path.of(args.operand());
        LayerPrefix prefix = CheckpointOptions.prefix(args, "prefix");
        Path configFile = args.path("config");
        EngramConfig config = configFile == null ? null : EngramConfigJson.read(configFile);

        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            List<Integer> layers = prefix.layers(ckpt);
            long total = 0;
            for (TensorInfo t : ckpt.tensors()) total += t.byteSize();
            long files = ckpt.tensors().stream().map(TensorInfo::file).distinct().count();
            out.printf(Locale.ROOT, "%s: %d tensors in %d file%s, %d bytes%n", file, ckpt.tensors().size(), files,
                    files == 1 ? "" : "s", total);
            out.printf(Locale.ROOT, "prefix %s: %s%n", prefix, layers.isEmpty() ? "no layers"
                    : (layers.size() == 1 ? "layer " : "layers ") + String.join(", ", layers.stream().map(String::valueOf).toList()));
            int inLayers = 0;
            for (int layer : layers) inLayers += list(out, prefix, ckpt, layer);
            int others = ckpt.tensors().size() - inLayers;
            if (others > 0) out.printf(Locale.ROOT, "%d tensor%s not under the prefix%n", others, others == 1 ? "" : "s");

            if (config == null) {
                if (layers.isEmpty()) {
                    out.println("no Engram layer under prefix " + prefix + " (see --prefix)");
                    return Main.RUNTIME_ERROR;
                }
                out.println("no --config: shapes not checked");
                return Main.OK;
            }
            List<String> problems = problems(ckpt, prefix, config, layers);
            if (problems.isEmpty()) {
                out.printf(Locale.ROOT, "config %s: every layer fits (layer_ids %s)%n", configFile, config.layerIds());
                return Main.OK;
            }
            out.printf(Locale.ROOT, "config %s: %d problem%s%n", configFile, problems.size(),
                    problems.size() == 1 ? "" : "s");
            for (String p : problems) out.println("  " + p);
            return Main.RUNTIME_ERROR;
        }
    }

    /** Prints one layer's tensors; returns how many. */
    private static int list(PrintStream out, LayerPrefix prefix, SafetensorsCheckpoint ckpt, int layer) {
        Map<String, TensorInfo> tensors = prefix.tensors(ckpt, layer);
        long bytes = tensors.values().stream().mapToLong(TensorInfo::byteSize).sum();
        out.printf(Locale.ROOT, "layer %d: %d tensors, %d bytes%s%n", layer, tensors.size(), bytes, tableSummary(tensors));
        int width = tensors.keySet().stream().mapToInt(String::length).max().orElse(0);
        for (Map.Entry<String, TensorInfo> e : tensors.entrySet()) {
            TensorInfo t = e.getValue();
            out.printf(Locale.ROOT, "  %-" + width + "s  %-7s  %-16s  %d bytes%n", e.getKey(), t.dtype(),
                    Arrays.toString(t.shape()), t.byteSize());
        }
        return tensors.size();
    }

    /** e.g. ", table F8_E4M3 [22934, 8], block 8": the block inferred from the two shapes, as the loader does. */
    private static String tableSummary(Map<String, TensorInfo> tensors) {
        TensorInfo table = tensors.get(EngramTensorNames.EMBEDDING_WEIGHT);
        if (table == null) return ", no table";
        String s = ", table " + table.dtype() + " " + Arrays.toString(table.shape());
        TensorInfo scale = tensors.get(EngramTensorNames.EMBEDDING_SCALE);
        long[] v = table.shape(), sc = scale == null ? null : scale.shape();
        if (sc != null && v.length == 2 && sc.length == 2 && sc[1] > 0 && v[1] % sc[1] == 0) {
            s += ", block " + v[1] / sc[1];
        }
        return s;
    }

    /** Every problem of every layer, in layer order; a layer that otherwise fits also has its fp8 scales read. */
    private static List<String> problems(SafetensorsCheckpoint ckpt, LayerPrefix prefix, EngramConfig config,
                                         List<Integer> found) {
        Map<Integer, TableLayout> layouts = TableLayout.of(config);
        Set<Integer> present = new HashSet<>(found);
        TreeSet<Integer> all = new TreeSet<>(found);
        all.addAll(config.layerIds());
        List<String> out = new ArrayList<>();
        for (int layer : all) {
            if (!layouts.containsKey(layer)) {
                out.add("layer " + layer + ": " + new LayerProblem(ckpt.path(), null, "layer " + layer
                        + " has tensors under " + prefix + " but is not in the config's layer_ids " + config.layerIds()));
                continue;
            }
            if (!present.contains(layer)) {
                out.add("layer " + layer + ": " + new LayerProblem(ckpt.path(), null, "no tensors under "
                        + prefix.prefix(layer) + " for layer " + layer + " of the config's layer_ids"));
                continue;
            }
            List<LayerProblem> problems = CheckpointLayer.check(ckpt, prefix.prefix(layer), config, layouts.get(layer));
            for (LayerProblem p : problems) out.add("layer " + layer + ": " + p);
            if (problems.isEmpty()) {
                try {
                    CheckpointLayer.open(ckpt, prefix.prefix(layer), config, layouts.get(layer)).table(); // scale bytes
                } catch (SafetensorsException e) {
                    out.add("layer " + layer + ": " + e.getMessage());
                }
            }
        }
        return out;
    }
}
