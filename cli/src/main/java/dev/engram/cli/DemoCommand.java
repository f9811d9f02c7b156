package dev.engram.cli;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.GpuStatus;
import dev.engram.cuda.DType;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ForwardTrace;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * {@code demo}: one Engram layer with random weights and inputs, timed per stage: on the GPU when one is
 * usable (CUDA events, checked against the CPU reference), else on the double-precision CPU reference.
 */
final class DemoCommand implements Command {
    /** V' for a {@code --config} that gives no {@code compressed_vocab_size}: DeepSeek-V3's vocabulary. */
    static final long DEFAULT_VOCAB = 129_280;
    static final String CPU_LINE = "device: CPU reference (double precision)";
    static final String GPU_LINE = "device: GPU (EngramLayer), checked against the CPU reference";

    private static final Set<String> VALUES = Set.of("preset", "config", "vocab", "batch", "seq", "layer", "seed", "repeat",
            "device", "dtype");

    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "run one Engram layer (GPU when available, else the CPU reference) with random weights; print per-stage timings";
    }

    @Override
    public String help() {
        return """
                usage: engram demo [--preset small|demo | --config FILE.json] [--vocab V] [--batch B] [--seq T]
                                   [--layer ID] [--seed S] [--repeat R] [--device auto|gpu|cpu] [--dtype bf16|fp32]

                Builds one Engram layer with random weights (the embedding table included), feeds it random
                compressed token ids (each row starts with 0-3 pad tokens) and N(0,1) hidden states, and runs
                one warm-up forward, then R timed forwards. Prints the config, the table build time, the median
                time of each stage and a summary with tokens/s and an output checksum.
                On the GPU (EngramLayer: hash+gather, projections GEMM, gate, short conv) stages are timed with
                CUDA events and the output is checked against one forward of the double-precision CPU reference.
                On the CPU the reference itself is timed (hash, gather, projections, gate, conv).

                options:
                  --preset NAME   small (default): EngramConfig.small(), H=64, V'=3009, B=2, T=64, R=5
                                  demo: EngramConfig.referenceDefault(), H=1024, G=4, 10.3M table rows
                                        (2.6 GB of float32, a few seconds to fill), V'=129280, B=1, T=128, R=3
                  --config FILE   a config JSON (snake_case keys) instead of a preset; B=1, T=128, R=3
                  --vocab V       compressed vocabulary size V' (ids are drawn from [0, V')); default: the
                                  preset's, the config's compressed_vocab_size, else 129280
                  --batch B       sequences per batch
                  --seq T         tokens per sequence
                  --layer ID      which of the config's layer_ids to run (default: the first)
                  --seed S        seed of the random weights and inputs (default 0)
                  --repeat R      timed forwards after the warm-up; the medians are reported
                  --device D      auto (default): the GPU when usable, else the CPU with the reason;
                                  gpu: fail when no GPU is usable; cpu: the CPU reference
                  --dtype T       storage type on the GPU: bf16 (default) or fp32
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out) {
        Args args = Args.parse(name(), argv, VALUES, Set.of());
        if (args.has("preset") && args.has("config")) {
            throw new UsageException("give --preset or --config, not both");
        }
        DemoPreset preset = args.has("config") ? null : DemoPreset.named(args.value("preset") == null ? "small" : args.value("preset"));
        Path configFile = args.path("config");
        EngramConfig base = preset != null ? preset.config : EngramConfigJson.read(configFile);
        long vocab = args.longValue("vocab", preset != null ? preset.compressedVocabSize
                : base.compressedVocabSize().orElse(DEFAULT_VOCAB), 1);
        int batch = args.intValue("batch", preset != null ? preset.batch : 1, 1);
        int seqLen = args.intValue("seq", preset != null ? preset.seqLen : 128, 1);
        int repeat = args.intValue("repeat", preset != null ? preset.repeat : 3, 1);
        long seed = args.longValue("seed", 0, 0);
        int layerId = args.intValue("layer", base.layerIds().getFirst(), 0);
        if (!base.layerIds().contains(layerId)) {
            throw new UsageException("--layer " + layerId + " is not one of the config's layer_ids " + base.layerIds());
        }
        if ((long) batch * seqLen * base.hcMult() * base.hiddenSize() > Integer.MAX_VALUE - 8) {
            // The reference holds [B, T, G, H] in one Java array.
            throw new UsageException("--batch x --seq is too large: B*T*G*H must fit in a Java array");
        }
        EngramConfig config = base.withCompressedVocabSize(vocab);
        String device = args.value("device") == null ? "auto" : args.value("device");
        if (!Set.of("auto", "gpu", "cpu").contains(device)) {
            throw new UsageException("--device must be auto, gpu or cpu, got '" + device + "'");
        }
        String dtypeName = args.value("dtype") == null ? "bf16" : args.value("dtype");
        DType dtype = switch (dtypeName) {
            case "bf16" -> DType.BFLOAT16;
            case "fp32" -> DType.FLOAT32;
            default -> throw new UsageException("--dtype must be bf16 or fp32, got '" + dtypeName + "'");
        };
        GpuStatus gpu = Engram.gpuStatus();
        if (device.equals("gpu") && !gpu.available()) {
            throw new UsageException("--device gpu, but " + gpu.describe());
        }
        boolean onGpu = !device.equals("cpu") && gpu.available();

        out.println("Engram demo: " + (preset != null ? "preset " + preset.name().toLowerCase(Locale.ROOT) : "config " + configFile)
                + ", layer " + layerId);
        out.println(onGpu ? GPU_LINE + ", " + dtypeName : CPU_LINE + (device.equals("cpu") ? " (--device cpu)" : ""));
        out.println("gpu: " + gpu.describe());
        out.println(describe(config));

        long t0 = System.nanoTime();
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        LayerHashing hashing = mapping.layer(layerId);
        long t1 = System.nanoTime();
        EngramWeights weights = RandomWeights.create(config, hashing, seed);
        long t2 = System.nanoTime();
        out.printf(Locale.ROOT, "hash setup: multipliers and %d prime moduli per layer in %.1f ms%n", hashing.heads(), ms(t1 - t0));
        long tableBytes = 4L * weights.embedding().length;
        out.printf(Locale.ROOT, "table: %,d rows x %d = %s of float32, random (seed %d), built in %.1f ms%n",
                hashing.totalRows(), config.headDim(), bytes(tableBytes), seed, ms(t2 - t1));

        ReferenceEngramLayer layer = new ReferenceEngramLayer(mapping, layerId, weights);
        DemoInputs in = DemoInputs.random(batch, seqLen, config.hcMult(), config.hiddenSize(), vocab,
                mapping.padIdCompressed(), seed + 1);
        int tokens = batch * seqLen;
        out.printf(Locale.ROOT, "input: B=%d x T=%d = %d tokens, random compressed ids in [0, %d) with leading pads (id %d),"
                + " N(0,1) hidden states%n", batch, seqLen, tokens, vocab, mapping.padIdCompressed());

        if (onGpu) {
            double[] y = GpuDemoRun.run(out, mapping, layerId, weights, dtype, in, batch, seqLen, repeat);
            return printChecksum(out, y, tokens, batch, seqLen, config);
        }
        ForwardTrace trace = layer.trace(in.ids(), in.hidden(), batch, seqLen); // warm-up: JIT, page faults
        StageTimings timings = new StageTimings();
        for (int r = 0; r < repeat; r++) {
            trace = layer.trace(in.ids(), in.hidden(), batch, seqLen);
            timings.add(trace.times());
        }
        printTimings(out, timings);
        return printSummary(out, trace.output(), tokens, timings.medianTotalNanos(), batch, seqLen, config);
    }

    private static String describe(EngramConfig c) {
        return String.format(Locale.ROOT, "config: n-gram orders 2..%d, %d heads/order x %d dims (E=%d), hidden H=%d,"
                        + " branches G=%d, conv kernel %d dilation %d, V'=%d, pad_id %d, seed %d, layer_ids %s",
                c.maxNgramSize(), c.nHeadPerNgram(), c.headDim(), c.engramHiddenSize(), c.hiddenSize(), c.hcMult(),
                c.kernelSize(), c.convDilation(), c.compressedVocabSize().orElseThrow(), c.padId(), c.seed(), c.layerIds());
    }

    private static void printTimings(PrintStream out, StageTimings t) {
        out.printf(Locale.ROOT, "per-stage time, median of %d forwards after 1 warm-up:%n", t.count());
        long stageSum = 0;
        for (int i = 0; i < StageTimings.STAGES.size(); i++) stageSum += t.medianNanos(i);
        for (int i = 0; i < StageTimings.STAGES.size(); i++) {
            long ns = t.medianNanos(i);
            out.printf(Locale.ROOT, "  %-12s %10.3f ms  %5.1f%%%n", StageTimings.STAGES.get(i), ms(ns), 100.0 * ns / stageSum);
        }
        out.printf(Locale.ROOT, "  %-12s %10.3f ms  (median of the per-forward totals)%n", "total", ms(t.medianTotalNanos()));
    }

    private static int printSummary(PrintStream out, double[] y, int tokens, long totalNanos, int batch, int seqLen,
                                    EngramConfig c) {
        out.printf(Locale.ROOT, "summary: %d tokens, %.3f ms per forward, %,.0f tokens/s%n", tokens, ms(totalNanos),
                tokens / (totalNanos / 1e9));
        return printChecksum(out, y, tokens, batch, seqLen, c);
    }

    /** The output's shape, sum and sum of magnitudes; a non-finite value is an error. */
    private static int printChecksum(PrintStream out, double[] y, int tokens, int batch, int seqLen, EngramConfig c) {
        double sum = 0, sumAbs = 0;
        long nonFinite = 0;
        for (double v : y) {
            if (!Double.isFinite(v)) {
                nonFinite++;
                continue;
            }
            sum += v;
            sumAbs += Math.abs(v);
        }
        out.printf(Locale.ROOT, "output: %d tokens, [%d, %d, %d, %d], sum %.9e, sum|y| %.9e, %s%n", tokens,
                batch, seqLen, c.hcMult(), c.hiddenSize(), sum, sumAbs,
                nonFinite == 0 ? "all finite" : nonFinite + " NOT FINITE");
        if (nonFinite > 0) throw new IllegalStateException("the output has " + nonFinite + " non-finite values");
        return Main.OK;
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static String bytes(long n) {
        return n >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", n / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.1f MiB", n / (double) (1L << 20));
    }
}
