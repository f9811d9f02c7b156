package dev.engram.table;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Random table contents for benchmarks and tests: element {@code i} (row-major index) is a pure function of
 * {@code (seed, i)}, so the table is the same for any thread count and any chunking, and a checker can
 * recompute any element alone ({@link #value}). The distribution is normal-ish: the sum of four 16-bit
 * uniforms (Irwin–Hall, n = 4) scaled to mean 0 and the requested standard deviation, bounded by
 * {@code ±sqrt(3) * 2 * std}. One 64-bit mix per element keeps a multi-GiB fill fast.
 */
public final class RandomRows {
    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;
    private static final long SUM_MEAN = 2 * 65535L;

    private RandomRows() {}

    /**
     * Fills every element of {@code table} with {@link #value}{@code (seed, std, i)}, rounded to bfloat16 for a
     * BFLOAT16 table.
     *
     * @param table   the table
     * @param seed    any value
     * @param std     standard deviation, finite and {@code >= 0}
     * @param threads fill threads, {@code >= 1}
     */
    public static void fill(HostTable table, long seed, double std, int threads) {
        fill(table, seed, std, threads, ProgressListener.NONE);
    }

    /**
     * As {@link #fill(HostTable, long, double, int)}, reporting progress on this thread.
     *
     * @param table    the table
     * @param seed     any value
     * @param std      standard deviation, finite and {@code >= 0}
     * @param threads  fill threads, {@code >= 1}
     * @param progress the listener
     */
    public static void fill(HostTable table, long seed, double std, int threads, ProgressListener progress) {
        Objects.requireNonNull(table, "table");
        if (!(std >= 0) || Double.isInfinite(std)) {
            throw new IllegalArgumentException("std must be finite and >= 0, got " + std);
        }
        MemorySegment dst = table.segment();
        long key = mix(seed);
        double scale = scale(std);
        long n = table.rowElements();
        boolean bf16 = table.dtype() == DType.BFLOAT16;
        ParallelChunks.run(table.rows(), table.rowBytes(), ParallelChunks.DEFAULT_CHUNK_BYTES, threads, "engram-random",
                progress, (from, to) -> {
                    for (long i = from * n, end = to * n; i < end; i++) {
                        float v = draw(key, scale, i);
                        if (bf16) dst.setAtIndex(ValueLayout.JAVA_SHORT, i, BFloat16.fromFloat(v));
                        else dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
                    }
                });
    }

    /**
     * {@return the float that {@link #fill} writes at row-major element index {@code index} (before bfloat16
     * rounding)}
     * @param seed  the fill's seed
     * @param std   the fill's standard deviation
     * @param index element index, {@code row * rowElements + column}
     */
    public static float value(long seed, double std, long index) {
        return draw(mix(seed), scale(std), index);
    }

    private static float draw(long key, double scale, long index) {
        long z = mix(key + index * GOLDEN);
        long sum = (z & 0xFFFF) + ((z >>> 16) & 0xFFFF) + ((z >>> 32) & 0xFFFF) + (z >>> 48);
        return (float) ((sum - SUM_MEAN) * scale);
    }

    /** The sum of four uniforms on {0..65535} has variance ~65536^2 / 3. */
    private static double scale(double std) {
        return std * Math.sqrt(3.0) / 65536.0;
    }

    /** SplitMix64's finalizer: a bijective 64-bit mix. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
        return z ^ (z >>> 31);
    }
}
