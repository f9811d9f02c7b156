package dev.engram.cli;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.GpuStatus;
import dev.engram.checkpoint.CheckpointHostTable;
import dev.engram.cuda.DType;
import dev.engram.gpu.EngramLayer;
import dev.engram.gpu.EngramState;
import dev.engram.gpu.LayerWeights;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LayerPrefix;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.LittleEndianFiles;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.reference.ReferenceState;
import dev.engram.table.ProgressListener;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * {@code forward}: one Engram layer's output for given weights, token ids and hidden states, on the
 * double-precision CPU reference or the GPU layer. A contract other tools call: its options, file formats
 * and exit codes stay as documented in {@link #help()}.
 */
final class ForwardCommand implements Command {
    private static final Set<String> VALUES = Set.of("config", "layer", "weights", "checkpoint", "prefix", "ids",
            "hidden", "batch", "seq", "lut", "out", "device", "dtype", "chunks", "table-placement");
    private static final Set<String> FLAGS = Set.of("progress");

    @Override
    public String name() {
        return "forward";
    }

    @Override
    public String summary() {
        return "one layer's output [B, T, G, H] for weight, id and hidden-state files (CPU reference or GPU)";
    }

    @Override
    public String help() {
        return """
                usage: engram forward --config CONFIG.json --layer L
                                      (--weights DIR | --checkpoint FILE.safetensors|INDEX.json [--prefix P])
                                      --ids IDS.i64.bin --hidden HIDDEN.f32.bin --batch B --seq T
                                      [--lut LUT.i32.bin|LUT.i64.bin]
                                      --out OUT.f64.bin|OUT.f32.bin [--device cpu|gpu] [--dtype fp32|bf16]
                                      [--chunks N1,N2,...]
                                      [--table-placement device|host-copy|host-register] [--progress]

                Runs one Engram layer: the output [B, T, G, H] (G = hc_mult, H = hidden_size) of the official
                Engram.forward, without the residual, for token ids [B, T] and hidden states [B, T, G, H].
                Files are raw little-endian, row-major. Everything is checked before anything is computed.

                options:
                  --config FILE   EngramConfig JSON (snake_case keys, flat or {engram_config, backbone_config});
                                  gate_norm_eps is the key/query RMSNorm eps (default 2^-23, torch's float32
                                  eps; 2^-52 mirrors a float64 torch run); conv_norm_eps that of the ShortConv
                                  norms (default 1e-5)
                  --layer L       which of the config's layer_ids to run
                  --weights DIR   the layer's parameters, one float32 file per state_dict entry, <name>.f32.bin:
                                  multi_head_embedding.embedding.weight, key_projs.<g>.weight and .bias,
                                  value_proj.weight and .bias, norm1.<g>.weight, norm2.<g>.weight,
                                  short_conv.norms.<g>.weight, short_conv.conv.weight
                  --checkpoint F  instead of --weights: a safetensors file, or the model.safetensors.index.json of
                                  a sharded checkpoint; the layer's tensors (the same names behind --prefix) are
                                  checked against the config (dtypes: dense F32, BF16 or F16; the table F32, BF16
                                  or F8_E4M3 with its F8_E8M0 scale tensor multi_head_embedding.embedding.scale)
                                  and read in place from the mapped file. With --device gpu an fp8 table stays
                                  fp8 on the GPU (its bytes as in the file); the gather dequantizes to --dtype
                """ + CheckpointOptions.prefixHelp("--prefix") + """
                  --ids FILE      token ids [B, T], int64, exactly B*T*8 bytes: raw tokenizer ids with --lut;
                                  without it, ids already compressed (the config must then give
                                  compressed_vocab_size, and pad_id is a compressed id)
                  --hidden FILE   hidden states [B, T, G, H], float32, exactly B*T*G*H*4 bytes
                  --batch B       sequences
                  --seq T         tokens per sequence
                  --lut FILE      compression table raw id -> compressed id, int32 (*.i32.bin) or int64 (*.i64.bin)
                  --out FILE      the output [B, T, G, H]: float64 when the name ends in .f64.bin, float32
                                  (rounded to nearest) when it ends in .f32.bin
                  --device D      cpu (default): the double-precision CPU reference;
                                  gpu: the GPU layer (EngramLayer), an error when no GPU is usable
                  --dtype T       with --device gpu only: fp32 (default) or bf16 storage on the GPU
                  --table-placement P
                                  with --checkpoint --device gpu only: where the table lives.
                                  device (default): uploaded to the GPU (EngramLayer);
                                  host-copy: copied once (in parallel) into pinned, huge-page host memory, the
                                  layer a HostTableLayer that fetches the rows each step needs (zero copy for a
                                  few tokens, a CPU gather above); the table may be larger than the GPU's memory;
                                  host-register: the same layer on the file's own pages, pinned in place
                                  (cudaHostRegister read-only): no copy, but --dtype must be the table's dtype in
                                  the file. An fp8 table stays fp8 in host memory too (codes and scales, copied
                                  or both pinned in place), dequantized on the GPU to --dtype, so host-register
                                  takes either --dtype for it. The output file is the same bytes for all three.
                                  Which host placement is faster is not measured on a GPU yet
                                  (CheckpointLoadBench)
                  --progress      print the table's upload or copy progress on stderr (a line when it starts, at
                                  most one every 2 s, one when it ends); the default is to print it only when
                                  the console is a terminal. Only --checkpoint with --device gpu loads a table
                  --chunks LIST   feed every sequence in consecutive chunks of these sizes, cycling through the
                                  list (the last chunk cut at T): each step packs the rows' current chunks into
                                  one call (row b in state slot b, starting on the first chunk), the n-gram
                                  history and conv window carried between calls (SEMANTICS.md section 8); the
                                  output file is the same as without --chunks (with --device gpu: to the dtype's
                                  rounding, as cuBLAS may sum another number of rows differently). Sizes are
                                  integers >= 0, at least one > 0 (a 0 is a step of empty chunks), e.g. 16,1
                                  (prefill 16, then decode token by token)

                exit codes: 0 ok; 1 runtime error (a missing or malformed file, a file of the wrong size, a bad
                config, an id outside the table, a checkpoint tensor that is missing or does not fit the config,
                an fp8 scale byte 255, host-register of an F32 or BF16 table with a --dtype other than the
                table's);
                2 usage error (an unknown, missing or bad option, both or neither of --weights and --checkpoint,
                --prefix without --checkpoint or without {layer}, a layer not in layer_ids, --dtype without
                --device gpu, --device gpu where no GPU is usable, a bad --chunks list, --table-placement without
                --checkpoint and --device gpu)
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out) {
        return run(argv, out, System.err);
    }

    @Override
    public int run(String[] argv, PrintStream out, PrintStream err) {
        Args args = Args.parse(name(), argv, VALUES, FLAGS);
        // Every usage error first, then the files' sizes, then the reading and computing.
        Path configFile = args.requiredPath("config");
        int layerId = args.requiredInt("layer", 0);
        Path weightsDir = args.path("weights");
        Path checkpoint = args.path("checkpoint");
        if ((weightsDir == null) == (checkpoint == null)) {
            throw new UsageException("give exactly one of --weights DIR and --checkpoint FILE for 'forward'");
        }
        if (args.has("prefix") && checkpoint == null) throw new UsageException("--prefix applies to --checkpoint only");
        LayerPrefix prefix = CheckpointOptions.prefix(args, "prefix");
        Path idsFile = args.requiredPath("ids");
        Path hiddenFile = args.requiredPath("hidden");
        int batch = args.requiredInt("batch", 1);
        int seqLen = args.requiredInt("seq", 1);
        Path outFile = args.requiredPath("out");
        ForwardOutput output = ForwardOutput.of(outFile);
        Path lut = args.path("lut");
        if (lut != null) InputFiles.checkTableName(lut);
        String device = args.value("device") == null ? "cpu" : args.value("device");
        if (!device.equals("cpu") && !device.equals("gpu")) {
            throw new UsageException("--device must be cpu or gpu, got '" + device + "'");
        }
        DType dtype = dtype(args.value("dtype"), device);
        ChunkSizes chunks = args.has("chunks") ? ChunkSizes.parse(args.value("chunks")) : null;
        CheckpointHostTable.Placement hostTable = hostPlacement(args.value("table-placement"), checkpoint, device);
        boolean progress = args.flag("progress") || ProgressLines.interactive();
        if (device.equals("gpu")) {
            GpuStatus gpu = Engram.gpuStatus();
            if (!gpu.available()) throw new UsageException("--device gpu, but " + gpu.describe());
        }

        EngramConfig config = EngramConfigJson.read(configFile);
        if (!config.layerIds().contains(layerId)) {
            throw new UsageException("--layer " + layerId + " is not one of the config's layer_ids " + config.layerIds());
        }
        int g = config.hcMult(), h = config.hiddenSize();
        long activations = (long) batch * seqLen * g * h;
        if (activations > Integer.MAX_VALUE - 8) {
            // The reference holds [B, T, G, H] in one Java array.
            throw new UsageException("--batch x --seq is too large: B*T*G*H = " + activations + " must fit in a Java array");
        }
        InputFiles.checkIdsSize(idsFile, batch, seqLen);
        InputFiles.checkHiddenSize(hiddenFile, batch, seqLen, g, h);
        checkOutputDirectory(outFile);

        NgramHashMapping mapping = InputFiles.mapping(config, lut);
        try (ForwardWeights weights = weightsDir != null
                ? ForwardWeights.directory(weightsDir, config, mapping.layer(layerId))
                : ForwardWeights.checkpoint(checkpoint, prefix, config, mapping.layer(layerId))) {
            if (hostTable != null) checkHostTable((ForwardWeights.Checkpoint) weights, hostTable, dtype);
            long[] ids = LittleEndianFiles.readInt64(idsFile, (long) batch * seqLen);
            double[] hidden = LittleEndianFiles.readFloat32AsDouble(hiddenFile, activations);
            mapping.compress(ids); // an id outside the table fails here, before any layer is built

            String ran;
            if (device.equals("cpu")) {
                output.write(outFile, cpuForward(mapping, layerId, weights, ids, hidden, batch, seqLen, chunks));
                ran = "the double-precision CPU reference" + (chunks == null ? "" : ", in chunks of " + chunks);
            } else if (hostTable == null) {
                ProgressListener upload = ProgressLines.of(progress && checkpoint != null, err, "table upload to the device");
                output.write(outFile, gpuForward(mapping, layerId, weights, dtype, ids, hidden, batch, seqLen, chunks,
                        upload));
                ran = "the GPU layer, " + (dtype == DType.FLOAT32 ? "fp32" : "bf16")
                        + (chunks == null ? "" : ", in chunks of " + chunks);
            } else {
                ProgressListener place = ProgressLines.of(progress, err, hostTable == CheckpointHostTable.Placement.COPY
                        ? "table copy into pinned host memory" : "table registration in place");
                output.write(outFile, HostTableForward.run(mapping, ((ForwardWeights.Checkpoint) weights).layer(),
                        hostTable, dtype, ids, hidden, batch, seqLen, chunks, place));
                ran = "the GPU layer, " + (dtype == DType.FLOAT32 ? "fp32" : "bf16") + ", its table in host memory ("
                        + (hostTable == CheckpointHostTable.Placement.COPY ? "host-copy" : "host-register") + ")"
                        + (chunks == null ? "" : ", in chunks of " + chunks);
            }
            out.printf(Locale.ROOT, "wrote %s: layer %d output [%d, %d, %d, %d] %s, from %s%s%n",
                    outFile, layerId, batch, seqLen, g, h, output.label, ran, weights.describe());
        }
        return Main.OK;
    }

    /**
     * {@code --table-placement}: null for {@code device} (the default), else the host placement; only a checkpoint's
     * table on the GPU has a choice.
     */
    private static CheckpointHostTable.Placement hostPlacement(String name, Path checkpoint, String device) {
        if (name == null) return null;
        if (checkpoint == null || !device.equals("gpu")) {
            throw new UsageException("--table-placement applies to --checkpoint with --device gpu only");
        }
        return switch (name) {
            case "device" -> null;
            case "host-copy" -> CheckpointHostTable.Placement.COPY;
            case "host-register" -> CheckpointHostTable.Placement.REGISTER;
            default -> throw new UsageException("--table-placement must be device, host-copy or host-register, got '"
                    + name + "'");
        };
    }

    /** What a host placement cannot take, said in the command's terms before anything is loaded. */
    private static void checkHostTable(ForwardWeights.Checkpoint weights, CheckpointHostTable.Placement placement,
                                       DType dtype) {
        SafetensorsDType table = weights.layer().tableDtype();
        if (table == SafetensorsDType.F8_E4M3) return; // stays fp8 in host memory: any --dtype, either placement
        DType file = table == SafetensorsDType.F32 ? DType.FLOAT32 : DType.BFLOAT16;
        if (placement == CheckpointHostTable.Placement.REGISTER && file != dtype) {
            throw new IllegalArgumentException("--table-placement host-register reads the table in place, as its "
                    + table + " in the file, but --dtype " + (dtype == DType.FLOAT32 ? "fp32" : "bf16") + " stores "
                    + dtype + ": use --dtype " + (file == DType.FLOAT32 ? "fp32" : "bf16")
                    + " or --table-placement host-copy (which converts)");
        }
    }

    /** {@code --dtype}: only the GPU layer has a storage type; the reference always computes in double. */
    private static DType dtype(String name, String device) {
        if (name == null) return DType.FLOAT32;
        if (!device.equals("gpu")) {
            throw new UsageException("--dtype applies to --device gpu only (the CPU reference computes in double precision)");
        }
        return switch (name) {
            case "fp32" -> DType.FLOAT32;
            case "bf16" -> DType.BFLOAT16;
            default -> throw new UsageException("--dtype must be fp32 or bf16, got '" + name + "'");
        };
    }

    private static void checkOutputDirectory(Path outFile) {
        Path dir = outFile.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("cannot write --out " + outFile + ": no directory " + dir);
        }
    }

    /** The reference forward, whole or chunk by chunk with a state of one slot per row. */
    private static double[] cpuForward(NgramHashMapping mapping, int layerId, ForwardWeights weights, long[] ids,
                                       double[] hidden, int batch, int seqLen, ChunkSizes chunks) {
        ReferenceEngramLayer layer = weights.reference(mapping, layerId);
        if (chunks == null) return layer.forward(ids, hidden, batch, seqLen);
        ReferenceState state = layer.newState(batch);
        int gh = mapping.config().hcMult() * mapping.config().hiddenSize();
        return ChunkedForward.run(ids, hidden, batch, seqLen, gh, chunks, (b, i, h) -> layer.forward(b, i, h, state));
    }

    /**
     * The GPU layer, whole or chunk by chunk with an {@link EngramState} of one slot per row. Chunked outputs equal
     * the whole run's to the dtype's rounding (cuBLAS may pick another GEMM algorithm for another row count).
     */
    private static double[] gpuForward(NgramHashMapping mapping, int layerId, ForwardWeights weights, DType dtype,
                                       long[] ids, double[] hidden, int batch, int seqLen, ChunkSizes chunks,
                                       ProgressListener tableUpload) {
        int maxTokens = chunks == null ? batch * seqLen : batch * Math.min(seqLen, chunks.max());
        EngramLayer created;
        try (Arena arena = Arena.ofShared()) { // converted host tensors: free once the layer has uploaded them
            LayerWeights w = weights.gpu(dtype, arena, tableUpload);
            created = EngramLayer.create(mapping, layerId, w, EngramLayer.Options.of(maxTokens).withDtype(dtype));
        }
        try (EngramLayer layer = created) {
            if (chunks == null) return widen(layer.forward(ids, narrow(hidden), batch, seqLen));
            try (EngramState state = layer.newState(batch)) {
                int gh = mapping.config().hcMult() * mapping.config().hiddenSize();
                return ChunkedForward.run(ids, hidden, batch, seqLen, gh, chunks,
                        (b, i, h) -> widen(layer.forward(b, i, narrow(h), state)));
            }
        }
    }

    /** Exact: the hidden states were read as float32. */
    private static float[] narrow(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) d[i];
        return f;
    }

    private static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < d.length; i++) d[i] = f[i];
        return d;
    }
}
