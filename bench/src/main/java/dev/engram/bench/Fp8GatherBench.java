package dev.engram.bench;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.GpuStatus;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.HashedGather;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.table.CpuRowGather;
import dev.engram.table.Fp8Table;
import dev.engram.table.HostTable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.engram.bench.Stats.median;
import static dev.engram.bench.Stats.min;

/**
 * fp8 against bf16 gathers (issue 13): one layer of the reference default config (16 heads of head_dim 64) whose
 * BF16 table is about {@code --table-gib} GiB, the same rows as fp8 E4M3 codes with one E8M0 scale per
 * {@code --block} values, random contents, and {@code --tokens} random tokens per gather (16 rows each):
 * <ol>
 *   <li>{@code cpu-bf16}: {@link CpuRowGather} of the BF16 rows ({@code head_dim * 2} bytes each);</li>
 *   <li>{@code cpu-fp8}: the same gather of the fp8 rows. {@link HostTable} holds only FLOAT32 and BFLOAT16, so the
 *       codes are a BFLOAT16 table of {@code head_dim / 2} elements per row (the same {@code head_dim} bytes) and the
 *       scales one of {@code head_dim / block / 2} elements (so {@code head_dim / block} must be even), gathered by
 *       the same byte-copy path with the same hash ids: codes and scales, two gathers, both timed;</li>
 *   <li>{@code cpu-dequant}: {@link Fp8Table#readRow(long, float[], int)} of the same rows, one thread, against
 *       {@code cpu-bf16-decode} ({@link BFloat16#toFloat} of a BF16 row): the cost a CPU consumer of fp8 rows pays
 *       per row on top of the copy;</li>
 *   <li>{@code gpu-bf16} / {@code gpu-fp8} (with a GPU): {@link HashedGather} (hash + gather, BF16 out) from the
 *       device table and from {@code fp8Table(codes, scales, block)}, CUDA events, median of {@code --reps};
 *       without one a skip line says why.</li>
 * </ol>
 * Rows/s count gathered rows (tokens x heads); GB/s the table bytes read (codes + scales for fp8). A benchmark, not a
 * test: it prints numbers and JSON lines ({@code "bench": "fp8-gather"}).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx4g -cp bench/target/benchmarks.jar dev.engram.bench.Fp8GatherBench \
 *      [--table-gib 1] [--block 32] [--tokens 4096] [--threads N] [--reps 20] [--gpu auto|off]
 * </pre>
 */
public final class Fp8GatherBench {
    private static final int WARMUP = 5;

    private Fp8GatherBench() {}

    /**
     * Runs the benchmark.
     *
     * @param argv the options of the class comment
     */
    public static void main(String[] argv) {
        Map<String, String> a = BenchArgs.parse(argv, "Fp8GatherBench [--table-gib G] [--block B] [--tokens N] [--threads T]"
                + " [--reps R] [--gpu auto|off]", "table-gib", "block", "tokens", "threads", "reps", "gpu");
        double gib = Double.parseDouble(a.getOrDefault("table-gib", "1"));
        int block = Integer.parseInt(a.getOrDefault("block", "32"));
        int tokens = Integer.parseInt(a.getOrDefault("tokens", "4096"));
        int threads = Integer.parseInt(a.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        int reps = Integer.parseInt(a.getOrDefault("reps", "20"));
        EngramConfig config = SyntheticCheckpoint.config(gib, 2);
        int d = config.headDim();
        if (d % block != 0 || (d / block) % 2 != 0) {
            throw new IllegalArgumentException("--block " + block + " must divide head_dim " + d + " into an even number of"
                    + " blocks (the scales ride in a BFLOAT16 host table)");
        }
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        int layerId = SyntheticCheckpoint.LAYER_ID;
        LayerHashing layer = mapping.layer(layerId);
        long rows = layer.totalRows();
        int heads = layer.heads();
        long gathered = (long) tokens * heads;
        long[] hash = mapping.hashCompressed(randomIds(tokens, 17), 1, tokens, layerId);

        long t0 = System.nanoTime();
        try (HostTable bf16 = HostTable.allocate(rows, d, DType.BFLOAT16);
             HostTable codes = HostTable.allocate(rows, d / 2, DType.BFLOAT16);
             HostTable scales = HostTable.allocate(rows, d / block / 2, DType.BFLOAT16);
             CpuRowGather gather = new CpuRowGather(threads);
             Arena arena = Arena.ofShared()) {
            SyntheticCheckpoint.fillBf16(bf16.segment(), 1);
            SyntheticCheckpoint.fillFp8Codes(codes.segment(), 2);
            SyntheticCheckpoint.fillFp8Scales(scales.segment(), 3);
            System.out.printf(Locale.ROOT, "Fp8GatherBench: %,d rows x %d; bf16 %.3f GiB, fp8 %.3f GiB codes + %.4f GiB"
                            + " scales (block %d), filled in %.1f s; %d tokens x %d heads = %,d rows per gather; %d threads"
                            + " (%s copy); %d cpus, load %s%n", rows, d, gibOf(bf16), gibOf(codes), gibOf(scales), block,
                    (System.nanoTime() - t0) / 1e9, tokens, heads, gathered, threads,
                    gather.copiesNatively() ? "native" : "Java", Runtime.getRuntime().availableProcessors(), loadAverage());

            MemorySegment dstBf16 = arena.allocate(CpuRowGather.outputBytes(bf16, layer, tokens), 64);
            MemorySegment dstCodes = arena.allocate(CpuRowGather.outputBytes(codes, layer, tokens), 64);
            MemorySegment dstScales = arena.allocate(CpuRowGather.outputBytes(scales, layer, tokens), 64);
            double[] ms = new double[reps];
            for (int r = -WARMUP; r < reps; r++) {
                long t = System.nanoTime();
                gather.gather(bf16, layer, hash, dstBf16);
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
            emit("cpu-bf16", block, gathered, gathered * bf16.rowBytes(), ms, "CpuRowGather, BF16 rows");
            for (int r = -WARMUP; r < reps; r++) {
                long t = System.nanoTime();
                gather.gather(codes, layer, hash, dstCodes);
                gather.gather(scales, layer, hash, dstScales);
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
            emit("cpu-fp8", block, gathered, gathered * (codes.rowBytes() + scales.rowBytes()), ms,
                    "CpuRowGather, fp8 code rows + scale rows (two gathers, same ids)");

            long[] tableRows = tableRows(layer, hash);
            Fp8Table fp8 = Fp8Table.of(codes.segment(), scales.segment(), rows, d, block);
            float[] row = new float[d];
            double[] sink = new double[1];
            for (int r = -WARMUP; r < reps; r++) {
                long t = System.nanoTime();
                for (long tr : tableRows) {
                    fp8.readRow(tr, row, 0);
                    sink[0] += row[d - 1];
                }
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
            emit("cpu-dequant", block, gathered, gathered * (d + d / block), ms,
                    "Fp8Table.readRow to float, one thread (random rows of the table)");
            MemorySegment b = bf16.segment();
            for (int r = -WARMUP; r < reps; r++) {
                long t = System.nanoTime();
                for (long tr : tableRows) {
                    long base = tr * d * 2;
                    for (int c = 0; c < d; c++) row[c] = BFloat16.toFloat(b.get(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * c));
                    sink[0] += row[d - 1];
                }
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
            emit("cpu-bf16-decode", block, gathered, gathered * d * 2, ms,
                    "BFloat16.toFloat of the same rows, one thread (checksum " + (float) sink[0] + ")");

            gpu(a.getOrDefault("gpu", "auto"), mapping, layer, bf16, codes, scales, block, tokens, reps);
        }
    }

    /** The device gathers: HashedGather from the BF16 table and from the fp8 codes + scales, BF16 out. */
    private static void gpu(String gpu, NgramHashMapping mapping, LayerHashing layer, HostTable bf16, HostTable codes,
                            HostTable scales, int block, int tokens, int reps) {
        GpuStatus status = Engram.gpuStatus();
        String why = gpu.equals("off") ? "--gpu off" : status.available() ? null : status.describe();
        if (why != null) {
            System.out.println("  gpu-bf16, gpu-fp8: skipped: " + why);
            Map<String, Object> json = head("gpu", block);
            json.put("skipped", why);
            System.out.println(JsonLine.of(json));
            return;
        }
        CudaDevice.get(0).makeCurrent();
        int d = bf16.rowElements(), heads = layer.heads();
        long gathered = (long) tokens * heads;
        try (DeviceBuffer table = DeviceBuffer.allocate(bf16.rows() * d, DType.BFLOAT16);
             DeviceBuffer dCodes = DeviceBuffer.allocate(bf16.rows() * d, DType.FP8_E4M3);
             DeviceBuffer dScales = DeviceBuffer.allocate(bf16.rows() * (d / block), DType.FP8_E8M0);
             DeviceBuffer ids = DeviceBuffer.allocate(tokens, DType.INT64);
             DeviceBuffer out = DeviceBuffer.allocate(gathered * d, DType.BFLOAT16);
             CudaStream stream = CudaStream.create(); CudaEvent start = CudaEvent.create(); CudaEvent end = CudaEvent.create()) {
            table.copyFrom(bf16.segment());
            dCodes.copyFrom(codes.segment());
            dScales.copyFrom(scales.segment());
            ids.copyFrom(randomIds(tokens, 17));
            for (boolean fp8 : new boolean[] {false, true}) {
                HashedGather.Launch launch = HashedGather.launch().rawIds(ids).tokens(1, tokens)
                        .padIdCompressed(mapping.padIdCompressed()).layer(layer)
                        .headsPerNgram(mapping.config().nHeadPerNgram()).headDim(d).out(out);
                if (fp8) launch.fp8Table(dCodes, dScales, block);
                else launch.table(table);
                double[] ms = new double[reps];
                for (int r = -WARMUP; r < reps; r++) {
                    start.record(stream);
                    launch.enqueue(stream);
                    end.record(stream);
                    end.synchronize();
                    if (r >= 0) ms[r] = CudaEvent.elapsedMillis(start, end);
                }
                emit(fp8 ? "gpu-fp8" : "gpu-bf16", block, gathered, gathered * (fp8 ? d + d / block : 2L * d), ms,
                        "HashedGather (hash + gather, BF16 out), CUDA events");
            }
        }
    }

    private static long[] tableRows(LayerHashing layer, long[] hash) {
        long[] offsets = layer.offsets();
        int heads = layer.heads();
        long[] rows = new long[hash.length];
        for (int i = 0; i < hash.length; i++) rows[i] = offsets[i % heads] + hash[i];
        return rows;
    }

    private static long[] randomIds(int tokens, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = r.nextLong(99_000);
        return ids;
    }

    private static double gibOf(HostTable t) {
        return t.byteSize() / (double) (1L << 30);
    }

    static String loadAverage() {
        return String.format(Locale.ROOT, "%.2f",
                java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    private static Map<String, Object> head(String step, int block) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("bench", "fp8-gather");
        json.put("step", step);
        json.put("block", block);
        return json;
    }

    private static void emit(String step, int block, long rows, long bytes, double[] ms, String what) {
        double med = median(ms);
        double rowsPerS = rows / (med * 1e-3), gbps = bytes / (med * 1e-3) / 1e9;
        System.out.printf(Locale.ROOT, "  %-15s median %.3f ms [min %.3f]: %.1f M rows/s, %.2f GB/s of table bytes; %s%n",
                step, med, min(ms), rowsPerS / 1e6, gbps, what);
        Map<String, Object> json = head(step, block);
        json.put("rows", rows);
        json.put("bytes", bytes);
        json.put("ms", med);
        json.put("ms_min", min(ms));
        json.put("Mrows_per_s", rowsPerS / 1e6);
        json.put("GBps", gbps);
        System.out.println(JsonLine.of(json));
    }
}
