package dev.engram.bench;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.GpuStatus;
import dev.engram.cuda.Cublas;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.cuda.PinnedHostBuffer;
import dev.engram.gpu.HostGatherPath;
import dev.engram.gpu.HostTableLayer;
import dev.engram.gpu.LayerWeights;
import dev.engram.gpu.Prefetch;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.table.CpuRowGather;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.PinnedHostMemory;
import dev.engram.table.RandomRows;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static dev.engram.bench.Stats.median;
import static dev.engram.bench.Stats.min;
import static dev.engram.bench.Stats.max;

/**
 * Host-memory tables on the GPU machine (issue 4): a table of {@code --table-gib} GiB in pinned host memory
 * (huge-page mmap + {@code cudaHostRegister}), the reference default config's head layout (16 heads x 64),
 * and for each gather path:
 * <ol>
 *   <li>the prefetch of {@code --batch x --seq} tokens (hash + gather + copy until the rows are on the device,
 *       host wall time, median of {@code --reps}), as payload GB/s against a pinned H2D copy of the same bytes
 *       measured in the same run; and, for scale, the CPU gather alone ({@link CpuRowGather} into pinned memory,
 *       no hash, no copy) on the same table;</li>
 *   <li>how the prefetch scales with the token count ({@code --sweep}, default 64 to 32768 tokens, one sequence
 *       per 4096 tokens), each next to a pinned H2D copy of the same bytes;</li>
 *   <li>the overlap the design is for: a step is a chain of cuBLAS GEMMs standing in for the preceding layers
 *       (sized to last at least twice the prefetch) followed by the Engram layer; with the rows prefetched from
 *       host memory while the GEMMs run, against the same step with the table on the device.</li>
 * </ol>
 * With {@code --table-dtype fp8} the table is an {@link Fp8HostTable} of the same rows (E4M3 codes, one E8M0 scale per
 * {@code --fp8-block} values, default 32): the payload is the code and scale bytes that cross PCIe, dequantized on the
 * GPU into {@code --dtype}. Every prefetch line also gives rows per second, the number to compare with a bf16 run.
 * A benchmark, not a test: it prints numbers and asserts nothing.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx8g -cp bench/target/benchmarks.jar dev.engram.bench.HostTableBench \
 *      [--table-gib 8] [--batch 4] [--seq 4096] [--dtype bf16|fp32] [--table-dtype fp8] [--fp8-block 32]
 *      [--reps 30] [--threads 16] [--sweep 64,256,1024,4096,16384,32768]
 * </pre>
 */
public final class HostTableBench {
    /**
     * Untimed repetitions before a host path is timed: the JIT compiles the hash and the gather's Java side during
     * these (3 were too few on the H200 machine, 2026-12-04: the first 4x4096 CPU prefetch took 7.2 ms, the same one
     * in the sweep after it 1.8 ms).
     */
    private static final int WARMUP_REPS = 20;

    private HostTableBench() {}

    /** The table under test, float or fp8: what crosses PCIe per row, the CPU gather alone, and its layers. */
    private interface Table {
        /** {@return the bytes one row moves to the device} */
        long rowBytes();

        /** The CPU gather of {@code hash} into pinned {@code dst} ({@code rows * rowBytes()} bytes). */
        void gather(CpuRowGather gather, LayerHashing layer, long[] hash, MemorySegment dst);

        HostTableLayer layer(HostGatherPath path, int maxTokens, int threads);
    }

    /**
     * Runs the benchmark.
     *
     * @param argv the options above
     */
    public static void main(String[] argv) {
        Map<String, String> a = parse(argv);
        double tableGib = Double.parseDouble(a.getOrDefault("table-gib", "8"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "4"));
        int seq = Integer.parseInt(a.getOrDefault("seq", "4096"));
        DType dtype = a.getOrDefault("dtype", "bf16").equals("fp32") ? DType.FLOAT32 : DType.BFLOAT16;
        int reps = Integer.parseInt(a.getOrDefault("reps", "30"));
        int threads = Integer.parseInt(a.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        int[] sweep = Arrays.stream(a.getOrDefault("sweep", "64,256,1024,4096,16384,32768").split(","))
                .mapToInt(Integer::parseInt).toArray();
        String tableDtype = a.getOrDefault("table-dtype", "same");
        if (!tableDtype.equals("same") && !tableDtype.equals("fp8")) {
            throw new IllegalArgumentException("--table-dtype must be fp8 (else the table has --dtype), got " + tableDtype);
        }
        boolean fp8 = tableDtype.equals("fp8");
        int block = Integer.parseInt(a.getOrDefault("fp8-block", "32"));
        GpuStatus status = Engram.gpuStatus();
        if (!status.available()) {
            System.err.println("HostTableBench: " + status.describe());
            System.exit(2);
        }
        CudaDevice.get(0).makeCurrent();

        // Rows per head so the whole table is about tableGib: 16 heads (2 orders x 8) of 64 columns.
        EngramConfig base = EngramConfig.referenceDefault();
        long rowBytes = (long) base.headDim() * dtype.byteSize();
        long perHead = Math.max(1000, (long) (tableGib * (1L << 30) / base.headsPerLayer() / rowBytes));
        EngramConfig config = new EngramConfig(List.of(perHead, perHead), base.maxNgramSize(), base.nEmbedPerNgram(),
                base.nHeadPerNgram(), List.of(1), base.padId(), base.seed(), base.kernelSize(), base.hiddenSize(),
                base.hcMult(), java.util.OptionalLong.of(99_000), base.gateNormEps(), base.convNormEps());
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        int layerId = 1;
        int tokens = batch * seq;
        DenseWeights dense = RandomWeights.createDense(config, 1, 0.1);
        long rows = mapping.layer(layerId).totalRows();

        long t0 = System.nanoTime();
        HostMemory memory = PinnedHostMemory.registered(HostMemory.anonymousMapping(true));
        if (fp8) {
            try (Fp8HostTable table = Fp8HostTable.allocate(rows, config.headDim(), block, memory)) {
                fillFp8(table, 7);
                System.out.printf(Locale.ROOT, "HostTableBench: table %,d rows x %d FP8_E4M3 = %.2f GiB pinned (mmap +"
                                + " MADV_HUGEPAGE + cudaHostRegister; E8M0 scale per %d values, dequantized to %s on the GPU),"
                                + " filled in %.1f s; %d tokens, payload %.1f MiB; %d gather threads%n",
                        table.rows(), table.headDim(), table.byteSize() / (double) (1L << 30), block, dtype,
                        (System.nanoTime() - t0) / 1e9, tokens, payloadOf(config, tokens, table.codeRowBytes()
                                + table.scaleRowBytes()) / (double) (1 << 20), threads);
                run(new Table() {
                    public long rowBytes() { return table.codeRowBytes() + table.scaleRowBytes(); }
                    public void gather(CpuRowGather g, LayerHashing layer, long[] hash, MemorySegment dst) {
                        long codes = hash.length * table.codeRowBytes();
                        g.gather(table, layer, hash, dst.asSlice(0, codes), dst.asSlice(codes));
                    }
                    public HostTableLayer layer(HostGatherPath path, int maxTokens, int threads) {
                        return HostTableLayer.create(mapping, layerId, LayerWeights.of(dense), table, dtype,
                                HostTableLayer.Options.of(path, maxTokens).withGatherThreads(threads));
                    }
                }, mapping, layerId, dense, dtype, batch, seq, reps, threads, sweep);
            }
            return;
        }
        try (HostTable table = HostTable.allocate(rows, config.headDim(), dtype, memory)) {
            RandomRows.fill(table, 7, 1.0, threads);
            System.out.printf(Locale.ROOT, "HostTableBench: table %,d rows x %d %s = %.2f GiB pinned (mmap + MADV_HUGEPAGE +"
                            + " cudaHostRegister), filled in %.1f s; %d tokens, payload %.1f MiB; %d gather threads%n",
                    table.rows(), table.rowElements(), dtype, table.byteSize() / (double) (1L << 30),
                    (System.nanoTime() - t0) / 1e9, tokens, payloadOf(config, tokens, table.rowBytes()) / (double) (1 << 20),
                    threads);
            run(new Table() {
                public long rowBytes() { return table.rowBytes(); }
                public void gather(CpuRowGather g, LayerHashing layer, long[] hash, MemorySegment dst) {
                    g.gather(table, layer, hash, dst);
                }
                public HostTableLayer layer(HostGatherPath path, int maxTokens, int threads) {
                    return HostTableLayer.create(mapping, layerId, dense, table, path, maxTokens, threads);
                }
            }, mapping, layerId, dense, dtype, batch, seq, reps, threads, sweep);
        }
    }

    /** {@return the bytes {@code tokens} tokens move to the device: a row of {@code rowBytes} per token and head} */
    private static long payloadOf(EngramConfig config, int tokens, long rowBytes) {
        return (long) tokens * config.headsPerLayer() * rowBytes;
    }

    /** The memcpy reference, the CPU gather alone, then every path: prefetch, overlap, sweep. */
    private static void run(Table table, NgramHashMapping mapping, int layerId, DenseWeights dense, DType dtype, int batch,
                            int seq, int reps, int threads, int[] sweep) {
        EngramConfig config = mapping.config();
        int tokens = batch * seq;
        long payload = payloadOf(config, tokens, table.rowBytes());
        double memcpyGBps = pinnedCopyGBps(payload, reps);
        System.out.printf(Locale.ROOT, "  pinned H2D cudaMemcpyAsync of %.1f MiB: %.1f GB/s%n", payload / (double) (1 << 20), memcpyGBps);
        gatherOnly(table, mapping, layerId, tokens, threads, reps, payload);
        int maxTokens = Math.max(tokens, Arrays.stream(sweep).max().orElse(tokens));
        for (HostGatherPath path : HostGatherPath.values()) {
            try (HostTableLayer layer = table.layer(path, maxTokens, threads)) {
                measurePath(layer, mapping, path, batch, seq, reps, payload, memcpyGBps);
                overlap(layer, mapping, dense, dtype, batch, seq, reps);
                for (int n : sweep) {
                    int b = Math.max(1, n / 4096), t = n / b;
                    long bytes = payloadOf(config, b * t, table.rowBytes());
                    measurePath(layer, mapping, path, b, t, reps, bytes, pinnedCopyGBps(bytes, reps));
                }
            }
        }
    }

    /**
     * Random E4M3 codes (the two NaN codes turned into ±448) and scale bytes 120..134, on the common pool: each part
     * writes its own range of longs from its own generator.
     */
    private static void fillFp8(Fp8HostTable table, long seed) {
        MemorySegment codes = table.codes(), scales = table.scales();
        long words = codes.byteSize() / Long.BYTES;
        int parts = Math.max(1, (int) Math.min(4L * Runtime.getRuntime().availableProcessors(), words / 4096 + 1));
        IntStream.range(0, parts).parallel().forEach(p -> {
            SplittableRandom r = new SplittableRandom(seed + p);
            for (long w = words * p / parts, end = words * (p + 1) / parts; w < end; w++) {
                long x = r.nextLong();
                // Bytes whose low 7 bits are all set (NaN codes) get bit 0 cleared: no carries cross bytes here.
                long nan = ((x & 0x7F7F7F7F7F7F7F7FL) + 0x0101010101010101L) & 0x8080808080808080L;
                codes.set(ValueLayout.JAVA_LONG_UNALIGNED, w * Long.BYTES, x & ~(nan >>> 7));
            }
        });
        SplittableRandom r = new SplittableRandom(seed - 1);
        for (long i = words * Long.BYTES; i < codes.byteSize(); i++) codes.set(ValueLayout.JAVA_BYTE, i, (byte) 0x38);
        for (long i = 0; i < scales.byteSize(); i++) scales.set(ValueLayout.JAVA_BYTE, i, (byte) (120 + r.nextInt(15)));
    }

    private static void measurePath(HostTableLayer layer, NgramHashMapping mapping, HostGatherPath path, int batch, int seq,
                                    int reps, long payload, double memcpyGBps) {
        long[][] ids = randomIds(4, batch * seq, 99_000, 11);
        double[] ms = new double[reps];
        for (int r = -WARMUP_REPS; r < reps; r++) {
            long t = System.nanoTime();
            Prefetch p = layer.prefetch(ids[(r + WARMUP_REPS) % ids.length], batch, seq);
            p.ready().synchronize();
            if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
        }
        double med = median(ms);
        long rows = (long) batch * seq * mapping.config().headsPerLayer();
        System.out.printf(Locale.ROOT, "  %-9s prefetch of %dx%d tokens (hash + gather + copy, host wall): median %.3f ms"
                        + " [min %.3f, max %.3f], %.1f GB/s of payload = %.0f%% of a pinned memcpy of the same bytes"
                        + " (%.1f GB/s), %.1f M rows/s%n", path, batch, seq, med, min(ms), max(ms),
                payload / (med * 1e-3) / 1e9, 100 * payload / (med * 1e-3) / 1e9 / memcpyGBps, memcpyGBps,
                rows / (med * 1e-3) / 1e6);
    }

    /** The CPU gather alone (validated ids → pinned memory), without hashing or the copy to the device. */
    private static void gatherOnly(Table table, NgramHashMapping mapping, int layerId, int tokens, int threads, int reps,
                                   long payload) {
        long[] hash = mapping.hashCompressed(randomIds(1, tokens, 99_000, 17)[0], 1, tokens, layerId);
        try (CpuRowGather gather = new CpuRowGather(threads);
             PinnedHostBuffer dst = PinnedHostBuffer.allocate(payload)) {
            double[] ms = new double[reps];
            for (int r = -WARMUP_REPS; r < reps; r++) {
                long t = System.nanoTime();
                table.gather(gather, mapping.layer(layerId), hash, dst.segment());
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
            double med = median(ms);
            System.out.printf(Locale.ROOT, "  CPU gather alone (%d threads, %s copy) into pinned memory: median %.3f ms"
                            + " [min %.3f, max %.3f], %.1f GB/s of payload%n", threads,
                    gather.copiesNatively() ? "native" : "Java", med, min(ms), max(ms), payload / (med * 1e-3) / 1e9);
        }
    }

    /** Step = GEMM chain (the preceding layers) + the Engram layer; rows prefetched while the GEMMs run. */
    private static void overlap(HostTableLayer layer, NgramHashMapping mapping, DenseWeights dense, DType dtype, int batch,
                                int seq, int reps) {
        int tokens = batch * seq;
        EngramConfig c = mapping.config();
        long act = (long) tokens * c.hcMult() * c.hiddenSize();
        int dim = 4096;
        long[][] ids = randomIds(4, tokens, 99_000, 13);
        try (CudaStream compute = CudaStream.create();
             Cublas cublas = Cublas.create(); // closed before the stream it is bound to
             CudaEvent start = CudaEvent.create(); CudaEvent end = CudaEvent.create();
             DeviceBuffer x = DeviceBuffer.allocate((long) tokens * dim, DType.BFLOAT16);
             DeviceBuffer w = DeviceBuffer.allocate((long) dim * dim, DType.BFLOAT16);
             DeviceBuffer y = DeviceBuffer.allocate((long) tokens * dim, DType.BFLOAT16);
             DeviceBuffer hidden = DeviceBuffer.allocate(act, dtype);
             DeviceBuffer out = DeviceBuffer.allocate(act, dtype)) {
            x.zeroAsync(compute);
            w.zeroAsync(compute);
            hidden.zeroAsync(compute);
            cublas.setStream(compute);
            // Size the stand-in compute: enough GEMMs to last >= 2x the measured prefetch.
            long t = System.nanoTime();
            Prefetch probe = layer.prefetch(ids[0], batch, seq);
            probe.ready().synchronize();
            double prefetchMs = (System.nanoTime() - t) / 1e6;
            layer.forward(probe, hidden, out, compute);
            start.record(compute);
            cublas.linear(x, w, y, tokens, dim, dim);
            end.record(compute);
            end.synchronize();
            start.record(compute);
            cublas.linear(x, w, y, tokens, dim, dim);
            end.record(compute);
            end.synchronize();
            double gemmMs = CudaEvent.elapsedMillis(start, end);
            int gemms = (int) Math.max(1, Math.ceil(2 * prefetchMs / gemmMs));

            double[] hostStep = new double[reps], baseline = new double[reps];
            for (int r = -3; r < reps; r++) {
                // With prefetch: queue the GEMMs, gather on the CPU (or queue the zero-copy kernel) meanwhile.
                long s0 = System.nanoTime();
                for (int g = 0; g < gemms; g++) cublas.linear(x, w, y, tokens, dim, dim);
                Prefetch p = layer.prefetch(ids[(r + 3) % ids.length], batch, seq);
                layer.forward(p, hidden, out, compute);
                compute.synchronize();
                if (r >= 0) hostStep[r] = (System.nanoTime() - s0) / 1e6;
                // Same step with the rows already on the device (a prefetch completed beforehand, untimed).
                Prefetch ready = layer.prefetch(ids[(r + 3) % ids.length], batch, seq);
                ready.ready().synchronize();
                long b0 = System.nanoTime();
                for (int g = 0; g < gemms; g++) cublas.linear(x, w, y, tokens, dim, dim);
                layer.forward(ready, hidden, out, compute);
                compute.synchronize();
                if (r >= 0) baseline[r] = (System.nanoTime() - b0) / 1e6;
            }
            double h = median(hostStep), d = median(baseline);
            System.out.printf(Locale.ROOT, "  %-9s overlap: %d GEMMs (%.3f ms each) + layer; step with rows already on the device"
                            + " %.3f ms [%.3f..%.3f], with the prefetch overlapped %.3f ms [%.3f..%.3f]: overhead %+.2f%%%n",
                    layer.path(), gemms, gemmMs, d, min(baseline), max(baseline), h, min(hostStep), max(hostStep),
                    100 * (h - d) / d);
        }
    }

    static double pinnedCopyGBps(long bytes, int reps) {
        return pinnedCopyGBps(bytes, reps, 3);
    }

    /** {@return the median rate of a pinned host-to-device copy of {@code bytes}, after {@code warmups} untimed ones} */
    static double pinnedCopyGBps(long bytes, int reps, int warmups) {
        try (PinnedHostBuffer src = PinnedHostBuffer.allocate(bytes);
             DeviceBuffer dst = DeviceBuffer.allocate(bytes / 4, DType.INT32);
             CudaStream s = CudaStream.create(); CudaEvent start = CudaEvent.create(); CudaEvent end = CudaEvent.create()) {
            double[] ms = new double[reps];
            for (int r = -warmups; r < reps; r++) {
                start.record(s);
                dst.copyFromAsync(src.segment(), s);
                end.record(s);
                end.synchronize();
                if (r >= 0) ms[r] = CudaEvent.elapsedMillis(start, end);
            }
            return bytes / (median(ms) * 1e-3) / 1e9;
        }
    }

    private static long[][] randomIds(int sets, int tokens, long vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[][] ids = new long[sets][tokens];
        for (long[] set : ids) for (int i = 0; i < tokens; i++) set[i] = r.nextLong(vocab);
        return ids;
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("usage: HostTableBench [--table-gib G] [--batch B] [--seq T]"
                        + " [--dtype bf16|fp32] [--table-dtype fp8] [--fp8-block N] [--reps R] [--threads N]"
                        + " [--sweep N,N,..]; got '" + argv[i] + "'");
            }
            m.put(argv[i].substring(2), argv[++i]);
        }
        return m;
    }
}
