package dev.engram.cli;

import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.LayerTensorWriter;
import dev.engram.checkpoint.TableEncoding;
import dev.engram.checkpoint.TableLayout;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.PrimeModuli;
import dev.engram.io.LayerPrefix;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.StateDictFiles;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code convert}: writes Engram layers to a safetensors file under the §10 names, from a directory of
 * {@code .f32.bin} files or from another checkpoint, the table in F32, BF16 or fp8 (E4M3 with E8M0 block scales),
 * and reports how far the written table is from the source.
 */
final class ConvertCommand implements Command {
    private static final Set<String> VALUES = Set.of("weights", "checkpoint", "prefix", "config", "layer", "out",
            "out-prefix", "table", "block");
    /** The OCP MX formats' block: one E8M0 scale per 32 values. */
    static final int DEFAULT_BLOCK = 32;

    @Override
    public String name() {
        return "convert";
    }

    @Override
    public String summary() {
        return "write layers as safetensors (table fp32, bf16 or fp8) from .f32.bin files or a checkpoint";
    }

    @Override
    public String help() {
        return """
                usage: engram convert (--weights DIR | --checkpoint CKPT [--prefix P]) --config CONFIG.json
                                      --layer L[,L...] --out OUT.safetensors [--out-prefix P]
                                      [--table fp32|bf16|fp8] [--block N]

                Writes Engram layers to one safetensors file under the state_dict names (SEMANTICS.md section
                10), dense parameters in F32, the table in the chosen dtype, plus multi_head_embedding.offsets
                (I64) and, for fp8, multi_head_embedding.embedding.scale. Prints per layer the table's error:
                the largest absolute difference and the norm-wise relative error ||written - source|| / ||source||
                of the written table's exact values against the source's. The file appears atomically.

                options:
                  --weights DIR   one layer's .f32.bin files (as forward --weights takes them); one --layer
                  --checkpoint F  a safetensors file or model.safetensors.index.json (as forward --checkpoint)
                """ + CheckpointOptions.prefixHelp("--prefix") + """
                  --config FILE   EngramConfig JSON: the shapes and table rows the layers are checked against
                  --layer LIST    the layers to write, comma-separated (each in the config's layer_ids)
                  --out FILE      the safetensors file to write (*.safetensors)
                """ + CheckpointOptions.prefixHelp("--out-prefix", "the names written") + """
                  --table T       fp32 (default), bf16 (round to nearest even) or fp8 (E4M3 values, one E8M0
                                  scale per block of a row: the smallest power of two bringing the block's
                                  largest magnitude to <= 448, values rounded to nearest even, SEMANTICS.md 9)
                  --block N       with --table fp8: values per scale, dividing head_dim (default 32 when it
                                  divides head_dim, the OCP MX block, else head_dim: one scale per row)

                exit codes: 0 ok; 1 runtime error (a missing or malformed source or config, a source tensor that
                does not fit the config, a value fp8 cannot hold); 2 usage error (an unknown, missing or bad
                option, both or neither of --weights and --checkpoint, several layers with --weights, a layer not
                in layer_ids, --block without --table fp8 or not dividing head_dim)
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out) {
        Args args = Args.parse(name(), argv, VALUES, Set.of());
        Path weightsDir = args.path("weights");
        Path checkpoint = args.path("checkpoint");
        if ((weightsDir == null) == (checkpoint == null)) {
            throw new UsageException("give exactly one of --weights DIR and --checkpoint CKPT for 'convert'");
        }
        if (args.has("prefix") && checkpoint == null) throw new UsageException("--prefix applies to --checkpoint only");
        LayerPrefix prefix = CheckpointOptions.prefix(args, "prefix");
        LayerPrefix outPrefix = CheckpointOptions.prefix(args, "out-prefix");
        Path configFile = args.requiredPath("config");
        List<Integer> layers = layers(args.required("layer"));
        if (weightsDir != null && layers.size() > 1) {
            throw new UsageException("--weights DIR holds one layer; got --layer " + args.value("layer"));
        }
        Path outFile = args.requiredPath("out");
        if (!outFile.getFileName().toString().endsWith(".safetensors")) {
            throw new UsageException("--out must name a *.safetensors file, got " + outFile);
        }
        String table = args.value("table") == null ? "fp32" : args.value("table");
        if (!List.of("fp32", "bf16", "fp8").contains(table)) {
            throw new UsageException("--table must be fp32, bf16 or fp8, got '" + table + "'");
        }
        if (args.has("block") && !table.equals("fp8")) throw new UsageException("--block applies to --table fp8 only");
        int blockOption = args.intValue("block", 0, 1);

        EngramConfig config = EngramConfigJson.read(configFile);
        for (int layer : layers) {
            if (!config.layerIds().contains(layer)) {
                throw new UsageException("--layer " + layer + " is not one of the config's layer_ids " + config.layerIds());
            }
        }
        int headDim = config.headDim();
        int block = blockOption != 0 ? blockOption : headDim % DEFAULT_BLOCK == 0 ? DEFAULT_BLOCK : headDim;
        if (headDim % block != 0) {
            throw new UsageException("--block " + block + " does not divide head_dim " + headDim);
        }
        Path dir = outFile.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("cannot write --out " + outFile + ": no directory " + dir);
        }

        Map<Integer, TableLayout> layouts = TableLayout.of(config);
        Map<Integer, long[]> moduli = PrimeModuli.compute(config);
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        List<String> report = new ArrayList<>();
        try (Arena arena = Arena.ofShared(); // the table is encoded on every core
             SafetensorsCheckpoint source = checkpoint == null ? null : SafetensorsCheckpoint.open(checkpoint)) {
            for (int layer : layers) {
                DenseWeights dense;
                EmbeddingRows rows;
                if (source == null) {
                    // StateDictFiles needs the offsets and table rows only: no multipliers, no compression table.
                    EngramWeights w = StateDictFiles.load(weightsDir, config,
                            LayerHashing.of(layer, new long[0], moduli.get(layer)));
                    dense = w.dense();
                    rows = EmbeddingRows.of(w.embedding(), headDim);
                } else {
                    CheckpointLayer l = CheckpointLayer.open(source, prefix.prefix(layer), config, layouts.get(layer));
                    dense = l.denseWeights();
                    rows = l.table();
                }
                TableEncoding encoded = encode(rows, table, block, arena, layer);
                LayerTensorWriter.add(writer, outPrefix.prefix(layer), dense, encoded, layouts.get(layer), arena);
                report.add(String.format(Locale.ROOT, "layer %d: table %s [%d, %d]%s: max abs error %.3e,"
                                + " norm-wise relative error %.3e", layer, encoded.dtype(), encoded.rows(), encoded.headDim(),
                        encoded.block().isPresent() ? ", block " + encoded.block().getAsInt() : "",
                        encoded.maxAbsError(), encoded.normwiseRelativeError()));
            }
            long bytes = writer.write(outFile);
            report.forEach(out::println);
            out.printf(Locale.ROOT, "wrote %s: %d layer%s under %s, %d bytes%n", outFile, layers.size(),
                    layers.size() == 1 ? "" : "s", outPrefix, bytes);
        }
        return Main.OK;
    }

    private static TableEncoding encode(EmbeddingRows rows, String table, int block, Arena arena, int layer) {
        int threads = Runtime.getRuntime().availableProcessors(); // same bytes and errors on any count
        try {
            return switch (table) {
                case "fp32" -> TableEncoding.float32(rows, arena, threads);
                case "bf16" -> TableEncoding.bfloat16(rows, arena, threads);
                default -> TableEncoding.fp8(rows, block, arena, threads);
            };
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer " + layer + ": " + e.getMessage(), e);
        }
    }

    /** {@code 1,15}: distinct layer ids >= 0, in the order given. */
    private static List<Integer> layers(String list) {
        Set<Integer> out = new LinkedHashSet<>();
        for (String part : list.split(",", -1)) {
            try {
                int id = Integer.parseInt(part.strip());
                if (id < 0) throw new NumberFormatException();
                if (!out.add(id)) throw new UsageException("--layer lists " + id + " twice");
            } catch (NumberFormatException e) {
                throw new UsageException("--layer must be layer ids >= 0 separated by commas, got '" + list + "'");
            }
        }
        return List.copyOf(out);
    }
}
