package dev.engram.bench;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.GpuStatus;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.EngramLayer;
import dev.engram.gpu.StageEvents;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.engram.bench.Stats.median;
import static dev.engram.bench.Stats.min;

/**
 * The GPU benchmark of one {@link EngramLayer} forward at the reference default config (the config of
 * {@code bench/baseline/torch_engram_baseline.py}, whose numbers it is compared with in the same run).
 * Times each stage with CUDA events (median of {@code --reps} after {@code --warmup}), rotating between
 * input sets that together exceed the L2 cache, and the back-to-back rate of many forwards. Prints
 * tokens/s, the gather's payload GB/s against a device-to-device copy measured here, and the GEMM's
 * TFLOP/s, then one JSON line. A benchmark, not a test: it asserts nothing.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar dev.engram.bench.GpuForwardBench \
 *      [--shapes 4x4096,64x16 | --batch 4 --seq 4096] [--modes unfused,fused | --fused] [--dtype bf16|fp32]
 *      [--reps 50] [--warmup 10] [--warmup-ms 300] [--layer 1] [--compressed-vocab 99000]
 * </pre>
 * One layer (sized for the largest shape) is timed at every shape in every mode, one JSON line each. In the
 * {@code fused} mode ({@code --fused} is {@code --modes fused}) the gate and ShortConv run as one kernel
 * ({@link EngramLayer#setFusedGateConv}); the two stages are then reported as one, "gate+conv"
 * ({@code gate_short_conv_ms} in the JSON, which both modes print for the A/B comparison).
 */
public final class GpuForwardBench {
    /** Input sets rotate so that together they exceed the H100's 50 MB L2 at least this many times over. */
    private static final long ROTATION_BYTES = 256L << 20;

    private GpuForwardBench() {}

    public static void main(String[] argv) {
        Map<String, String> a = parse(argv);
        List<int[]> shapes = new ArrayList<>();
        for (String shape : a.getOrDefault("shapes", a.getOrDefault("batch", "4") + "x" + a.getOrDefault("seq", "4096")).split(",")) {
            String[] bt = shape.split("x");
            if (bt.length != 2) throw new IllegalArgumentException("--shapes takes BxT[,BxT...], got '" + shape + "'");
            shapes.add(new int[] {Integer.parseInt(bt[0]), Integer.parseInt(bt[1])});
        }
        DType dtype = switch (a.getOrDefault("dtype", "bf16")) {
            case "bf16" -> DType.BFLOAT16;
            case "fp32" -> DType.FLOAT32;
            default -> throw new IllegalArgumentException("--dtype must be bf16 or fp32");
        };
        int reps = Integer.parseInt(a.getOrDefault("reps", "50"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "10"));
        long warmupNanos = Long.parseLong(a.getOrDefault("warmup-ms", "300")) * 1_000_000L;
        int layerId = Integer.parseInt(a.getOrDefault("layer", "1"));
        long vocab = Long.parseLong(a.getOrDefault("compressed-vocab", "99000"));
        List<Boolean> modes = new ArrayList<>();
        for (String m : a.getOrDefault("modes", a.containsKey("fused") ? "fused" : "unfused").split(",")) {
            switch (m) {
                case "unfused" -> modes.add(false);
                case "fused" -> modes.add(true);
                default -> throw new IllegalArgumentException("--modes takes unfused and/or fused, got '" + m + "'");
            }
        }

        GpuStatus status = Engram.gpuStatus();
        if (!status.available()) {
            System.err.println("GpuForwardBench: " + status.describe());
            System.exit(2);
        }
        CudaDevice device = CudaDevice.get(0);
        device.makeCurrent();
        EngramConfig config = EngramConfig.referenceDefault().withCompressedVocabSize(vocab);
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        int maxTokens = shapes.stream().mapToInt(bt -> Math.multiplyExact(bt[0], bt[1])).max().orElseThrow();

        long t0 = System.nanoTime();
        EngramWeights weights = RandomWeights.create(config, mapping.layer(layerId), 1);
        try (EngramLayer layer = EngramLayer.create(mapping, layerId, weights, dtype, maxTokens)) {
            weights = null; // the float32 table on the heap can go
            System.out.printf(Locale.ROOT, "GpuForwardBench: %s, %s, layer %d, table %,d rows x %d, %.2f GiB on the device,"
                            + " setup %.1f s%n", device, dtype, layerId, layer.hashing().totalRows(), config.headDim(),
                    layer.deviceBytes() / (double) (1L << 30), (System.nanoTime() - t0) / 1e9);
            double copyGBps = CopyCeiling.deviceToDeviceGBps(1L << 30, 20);
            StageEvents[] events = new StageEvents[reps]; // one set per timed forward
            try (CudaStream stream = CudaStream.create(); CudaEvent start = CudaEvent.create(); CudaEvent end = CudaEvent.create()) {
                for (int r = 0; r < reps; r++) events[r] = new StageEvents();
                for (int[] bt : shapes) {
                    for (boolean fused : modes) {
                        layer.setFusedGateConv(fused);
                        measure(layer, config, dtype, bt[0], bt[1], vocab, reps, warmup, warmupNanos, stream, events,
                                start, end, copyGBps, device.toString(), fused);
                    }
                }
            } finally {
                for (StageEvents e : events) if (e != null) e.close();
            }
        }
    }

    /** Times one shape in one mode: fresh rotating input sets, warm-up, per-stage events, back-to-back rate. */
    private static void measure(EngramLayer layer, EngramConfig config, DType dtype, int batch, int seq, long vocab,
                                int reps, int warmup, long warmupNanos, CudaStream stream, StageEvents[] events, CudaEvent start,
                                CudaEvent end, double copyGBps, String device, boolean fused) {
        int tokens = Math.multiplyExact(batch, seq);
        long activations = (long) tokens * config.hcMult() * config.hiddenSize();
        long setBytes = activations * 2 * dtype.byteSize();
        int sets = (int) Math.max(2, Math.min(16, (ROTATION_BYTES + setBytes - 1) / setBytes));
        List<DeviceBuffer> owned = new ArrayList<>();
        try {
            DeviceBuffer[][] in = new DeviceBuffer[sets][];
            for (int s = 0; s < sets; s++) in[s] = inputSet(owned, tokens, activations, vocab, dtype, 100 + s);
            Cuda.deviceSynchronize();
            // At least --warmup forwards and --warmup-ms of them: an idle GPU's clocks take a while to ramp up.
            long warmEnd = System.nanoTime() + warmupNanos;
            for (int w = 0; w < warmup || System.nanoTime() < warmEnd; w++) {
                forward(layer, in[w % sets], batch, seq, stream, null);
                if (w % 16 == 15) stream.synchronize(); // keep the host from queueing far ahead
            }
            stream.synchronize();

            // Per-stage times with every forward queued before any is read: the host stays ahead of the GPU, so
            // an interval holds its kernels and not the GPU idling while the host queues the next launch (which
            // per-forward synchronization measured too: up to 30 us per stage on the H200, 2026-12-04).
            double[][] stageMs = new double[StageEvents.STAGES.size()][reps];
            double[] totalMs = new double[reps];
            for (int r = 0; r < reps; r++) forward(layer, in[r % sets], batch, seq, stream, events[r]);
            for (int r = 0; r < reps; r++) {
                float[] ms = events[r].stageMillis();
                for (int s = 0; s < ms.length; s++) stageMs[s][r] = ms[s];
                totalMs[r] = events[r].totalMillis();
            }
            start.record(stream);
            long host0 = System.nanoTime();
            for (int r = 0; r < reps; r++) forward(layer, in[r % sets], batch, seq, stream, null);
            double hostEnqueueUs = (System.nanoTime() - host0) / 1e3 / reps; // the host's cost of queueing one
            end.record(stream);
            end.synchronize();
            double backToBack = CudaEvent.elapsedMillis(start, end) / reps;
            System.out.printf(Locale.ROOT, "B=%d T=%d (%d tokens), %s gate + ShortConv:%n", batch, seq, tokens,
                    fused ? "fused" : "unfused");
            report(config, dtype, batch, seq, reps, sets, stageMs, totalMs, backToBack, hostEnqueueUs, copyGBps, device,
                    fused);
        } finally {
            owned.forEach(DeviceBuffer::close);
        }
    }

    private static void forward(EngramLayer layer, DeviceBuffer[] set, int batch, int seq, CudaStream stream, StageEvents ev) {
        layer.forward(set[0], batch, seq, set[1], set[2], stream, ev);
    }

    /** Random compressed ids in [0, vocab), hidden states uniform in ±sqrt(3) (unit variance), an output buffer. */
    private static DeviceBuffer[] inputSet(List<DeviceBuffer> owned, int tokens, long activations, long vocab, DType dtype,
                                           long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = r.nextLong(vocab);
        DeviceBuffer dIds = track(owned, DeviceBuffer.allocate(tokens, DType.INT64));
        DeviceBuffer dHidden = track(owned, DeviceBuffer.allocate(activations, dtype));
        DeviceBuffer dOut = track(owned, DeviceBuffer.allocate(activations, dtype));
        dIds.copyFrom(ids);
        float[] hidden = new float[Math.toIntExact(activations)];
        for (int i = 0; i < hidden.length; i++) hidden[i] = (float) r.nextDouble(-1.7320508, 1.7320508);
        if (dtype == DType.FLOAT32) dHidden.copyFrom(hidden);
        else dHidden.copyFrom(BFloat16.fromFloats(hidden));
        return new DeviceBuffer[] {dIds, dHidden, dOut};
    }

    private static DeviceBuffer track(List<DeviceBuffer> owned, DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    private static void report(EngramConfig c, DType dtype, int batch, int seq, int reps, int sets, double[][] stageMs,
                               double[] totalMs, double backToBackMs, double hostEnqueueUs, double copyGBps, String device,
                               boolean fused) {
        int tokens = batch * seq;
        int g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize();
        double payloadBytes = (double) tokens * e * dtype.byteSize();           // table rows read
        double gemmFlops = 2.0 * tokens * e * (double) (g + 1) * h;
        // The least each memory-bound stage must move (parameters aside): the gate reads proj [N,(G+1)H] and
        // hidden [N,G,H] and writes u [N,G,H]; the conv reads u and writes y. At the D2D copy's rate that is its floor.
        double act = (double) tokens * g * h * dtype.byteSize();
        double gateBytes = (double) tokens * (g + 1) * h * dtype.byteSize() + 2 * act;
        double convBytes = 2 * act;
        // Fused, u never goes to memory: proj and hidden are read, y written.
        double fusedBytes = gateBytes + convBytes - 2 * act;
        double[] med = new double[stageMs.length];
        System.out.printf(Locale.ROOT, "per stage, CUDA events around %d forwards queued back to back, median (min in brackets),"
                + " %d rotating input sets:%n", reps, sets);
        for (int s = 0; s < stageMs.length; s++) med[s] = median(stageMs[s]);
        for (int s = 0; s < stageMs.length; s++) {
            if (fused && s == 3) continue; // empty: the fused kernel ran in the "gate" stage
            if (fused && s == 2) {
                double[] both = new double[stageMs[2].length];
                for (int r = 0; r < both.length; r++) both[r] = stageMs[2][r] + stageMs[3][r];
                System.out.printf(Locale.ROOT, "  %-12s %8.4f ms [%8.4f]  %s%n", "gate+conv", med[2] + med[3], min(both),
                        memoryBound(fusedBytes, med[2] + med[3], copyGBps));
                continue;
            }
            String extra = switch (s) {
                case 0 -> String.format(Locale.ROOT, "payload %.0f GB/s = %.0f%% of the D2D copy's %.0f GB/s (read+write)",
                        payloadBytes / (med[s] * 1e-3) / 1e9, 100 * 2 * payloadBytes / (med[s] * 1e-3) / 1e9 / copyGBps, copyGBps);
                case 1 -> String.format(Locale.ROOT, "%.1f TFLOP/s", gemmFlops / (med[s] * 1e-3) / 1e12);
                case 2 -> memoryBound(gateBytes, med[s], copyGBps);
                case 3 -> memoryBound(convBytes, med[s], copyGBps);
                default -> "";
            };
            System.out.printf(Locale.ROOT, "  %-12s %8.4f ms [%8.4f]  %s%n", StageEvents.STAGES.get(s), med[s], min(stageMs[s]), extra);
        }
        double total = median(totalMs);
        System.out.printf(Locale.ROOT, "  %-12s %8.4f ms [%8.4f]  %,.0f tokens/s%n", "total", total, min(totalMs), tokens / (total * 1e-3));
        System.out.printf(Locale.ROOT, "  %-12s %8.4f ms per forward over %d back-to-back forwards, %,.0f tokens/s%n",
                "back-to-back", backToBackMs, reps, tokens / (backToBackMs * 1e-3));
        System.out.printf(Locale.ROOT, "  %-12s %8.1f us per forward to queue on the host (back-to-back is host-bound when this"
                + " is close to it)%n", "host enqueue", hostEnqueueUs);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("impl", "engram-jvm");
        json.put("device", device);
        json.put("tokens", tokens);
        json.put("batch", batch);
        json.put("seq", seq);
        json.put("dtype", dtype == DType.BFLOAT16 ? "bf16" : "fp32");
        json.put("fused_gate_conv", fused);
        json.put("gather_ms", med[0]);
        json.put("projections_ms", med[1]);
        if (!fused) {
            json.put("gate_ms", med[2]);
            json.put("short_conv_ms", med[3]);
        }
        json.put("gate_short_conv_ms", med[2] + med[3]);
        json.put("total_ms", total);
        json.put("back_to_back_ms", backToBackMs);
        json.put("host_enqueue_us", hostEnqueueUs);
        json.put("gather_payload_gbps", payloadBytes / (med[0] * 1e-3) / 1e9);
        json.put("gemm_tflops", gemmFlops / (med[1] * 1e-3) / 1e12);
        json.put("d2d_copy_gbps", copyGBps);
        if (fused) {
            json.put("gate_short_conv_gbps", fusedBytes / ((med[2] + med[3]) * 1e-3) / 1e9);
        } else {
            json.put("gate_gbps", gateBytes / (med[2] * 1e-3) / 1e9);
            json.put("short_conv_gbps", convBytes / (med[3] * 1e-3) / 1e9);
        }
        StringBuilder sb = new StringBuilder("{");
        json.forEach((k, v) -> sb.append(sb.length() > 1 ? ", " : "").append('"').append(k).append("\": ")
                .append(v instanceof String s ? "\"" + s + "\"" : v instanceof Double d ? String.format(Locale.ROOT, "%.5f", d) : v));
        System.out.println(sb.append('}'));
    }

    /** "moves at least X MB: Y GB/s = Z% of the D2D copy (floor W ms)" for a memory-bound stage. */
    private static String memoryBound(double bytes, double ms, double copyGBps) {
        double gbps = bytes / (ms * 1e-3) / 1e9;
        return String.format(Locale.ROOT, "moves >= %.0f MB: %.0f GB/s = %.0f%% of the D2D copy (floor %.4f ms)",
                bytes / 1e6, gbps, 100 * gbps / copyGBps, bytes / (copyGBps * 1e9) * 1e3);
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("--fused")) {
                m.put("fused", "true");
                continue;
            }
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("usage: GpuForwardBench [--shapes BxT,... | --batch B --seq T]"
                        + " [--modes unfused,fused | --fused] [--dtype bf16|fp32] [--reps R] [--warmup W] [--warmup-ms MS] [--layer ID]"
                        + " [--compressed-vocab V]; got '" + argv[i] + "'");
            }
            m.put(argv[i].substring(2), argv[++i]);
        }
        return m;
    }
}
