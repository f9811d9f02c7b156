package dev.engram.checkpoint;

import dev.engram.cuda.BFloat16;
import dev.engram.internal.Segments;
import dev.engram.io.SafetensorsDType;
import dev.engram.reference.EmbeddingRows;
import dev.engram.table.Fp8;
import dev.engram.table.Fp8Table;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * An embedding table written out in a checkpoint dtype, with how far the written values are from the source: F32
 * (each value rounded to nearest float32), BF16 (float32, then round-to-nearest-even to bf16) or fp8 E4M3 with
 * E8M0 block scales (SEMANTICS.md §9: per block the smallest power-of-two scale with {@code amax / s <= 448},
 * values rounded to nearest even, via {@link Fp8#quantizeBlock}). The source is any {@link EmbeddingRows} (a float
 * array, a mapped F32/BF16/fp8 checkpoint table), read row by row, on one thread or several (the forms with
 * {@code threads}: the source must then be readable from other threads, as a mapped checkpoint and a Java array
 * are); the result lives in native memory of the given arena, little-endian, row-major, with {@code long}
 * indexing, so tables beyond 2^31 elements work. The bytes and the error figures do not depend on the thread count.
 *
 * <p>The error is of the decoded table (what a reader of the written bytes gets, exactly) against the source's
 * values, in double: the largest absolute difference and the norm-wise relative error
 * {@code ||decoded − source||₂ / ||source||₂} (0 when both are zero).
 */
public final class TableEncoding {
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final SafetensorsDType dtype;
    private final long rows;
    private final int headDim;
    private final int block;
    private final MemorySegment values;
    private final MemorySegment scales;
    private final double maxAbsError;
    private final double normwiseRelativeError;

    private TableEncoding(SafetensorsDType dtype, long rows, int headDim, int block, MemorySegment values,
                          MemorySegment scales, ErrorSums error) {
        this.dtype = dtype;
        this.rows = rows;
        this.headDim = headDim;
        this.block = block;
        this.values = values;
        this.scales = scales;
        this.maxAbsError = error.maxAbs;
        this.normwiseRelativeError = error.normwise();
    }

    /**
     * {@return the table in F32}: exact when the source's values are float32 (every table this library reads)
     *
     * @param src   the source table
     * @param arena allocates {@code rows · headDim · 4} bytes
     */
    public static TableEncoding float32(EmbeddingRows src, Arena arena) {
        return float32(src, arena, 1);
    }

    /**
     * {@return the table in F32, encoded on {@code threads} threads} (as {@link #float32(EmbeddingRows, Arena)})
     *
     * @param src     the source table, readable from other threads when {@code threads > 1}
     * @param arena   allocates {@code rows · headDim · 4} bytes (must be shared when {@code threads > 1})
     * @param threads {@code >= 1}
     */
    public static TableEncoding float32(EmbeddingRows src, Arena arena, int threads) {
        return floats(src, SafetensorsDType.F32, arena, threads);
    }

    /**
     * {@return the table in BF16}: each value rounded to float32, then to bf16 (nearest even)
     *
     * @param src   the source table
     * @param arena allocates {@code rows · headDim · 2} bytes
     */
    public static TableEncoding bfloat16(EmbeddingRows src, Arena arena) {
        return bfloat16(src, arena, 1);
    }

    /**
     * {@return the table in BF16, encoded on {@code threads} threads} (as {@link #bfloat16(EmbeddingRows, Arena)})
     *
     * @param src     the source table, readable from other threads when {@code threads > 1}
     * @param arena   allocates {@code rows · headDim · 2} bytes (must be shared when {@code threads > 1})
     * @param threads {@code >= 1}
     */
    public static TableEncoding bfloat16(EmbeddingRows src, Arena arena, int threads) {
        return floats(src, SafetensorsDType.BF16, arena, threads);
    }

    /**
     * {@return the table in fp8 E4M3 with one E8M0 scale per {@code block} values of a row}
     *
     * @param src   the source table
     * @param block values per scale, {@code >= 1}, dividing the head dim
     * @param arena allocates {@code rows · headDim} value bytes and {@code rows · headDim / block} scale bytes
     * @throws IllegalArgumentException when {@code block} does not divide the head dim, or a value is NaN or
     *                                  infinite, or too large for any E8M0 scale (its row and block named)
     */
    public static TableEncoding fp8(EmbeddingRows src, int block, Arena arena) {
        return fp8(src, block, arena, 1);
    }

    /**
     * {@return the table in fp8 E4M3, encoded on {@code threads} threads} (as {@link #fp8(EmbeddingRows, int, Arena)};
     * a bad value is reported as one thread would report it: the first in row order)
     *
     * @param src     the source table, readable from other threads when {@code threads > 1}
     * @param block   values per scale, {@code >= 1}, dividing the head dim
     * @param arena   allocates the value and scale bytes (must be shared when {@code threads > 1})
     * @param threads {@code >= 1}
     * @throws IllegalArgumentException as {@link #fp8(EmbeddingRows, int, Arena)}
     */
    public static TableEncoding fp8(EmbeddingRows src, int block, Arena arena, int threads) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(arena, "arena");
        long rows = src.rows();
        int headDim = src.rowElements();
        if (block < 1 || headDim % block != 0) {
            throw new IllegalArgumentException("fp8 block " + block + " does not divide head dim " + headDim);
        }
        int blocks = headDim / block;
        MemorySegment values = arena.allocate(Math.multiplyExact(rows, (long) headDim), 16);
        MemorySegment scales = arena.allocate(rows * blocks, 16);
        requireSharedFor(threads, values);
        ErrorSums error = ErrorSums.merged(OrderedRowChunks.run(rows, threads, "engram-encode", (from, to) -> {
            double[] row = new double[headDim];
            float[] f = new float[headDim];
            byte[] q = new byte[headDim];
            double[] decoded = new double[headDim];
            ErrorSums sums = new ErrorSums();
            for (long r = from; r < to; r++) {
                src.readRow(r, row, 0);
                for (int d = 0; d < headDim; d++) f[d] = (float) row[d];
                for (int k = 0; k < blocks; k++) {
                    byte b;
                    try {
                        b = Fp8.quantizeBlock(f, k * block, block, q, k * block);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("table row " + r + ", block " + k + ": " + e.getMessage(), e);
                    }
                    scales.set(ValueLayout.JAVA_BYTE, r * blocks + k, b);
                    for (int d = k * block; d < (k + 1) * block; d++) decoded[d] = Fp8.dequantize(q[d], b);
                }
                MemorySegment.copy(q, 0, values, ValueLayout.JAVA_BYTE, r * headDim, headDim);
                sums.add(row, decoded);
            }
            return sums;
        }));
        return new TableEncoding(SafetensorsDType.F8_E4M3, rows, headDim, block, values, scales, error);
    }

    private static TableEncoding floats(EmbeddingRows src, SafetensorsDType dtype, Arena arena, int threads) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(arena, "arena");
        long rows = src.rows();
        int headDim = src.rowElements();
        long elements = Math.multiplyExact(rows, (long) headDim);
        MemorySegment values = arena.allocate(Math.multiplyExact(elements, (long) dtype.byteSize()), 16);
        requireSharedFor(threads, values);
        ErrorSums error = ErrorSums.merged(OrderedRowChunks.run(rows, threads, "engram-encode", (from, to) -> {
            double[] row = new double[headDim];
            double[] decoded = new double[headDim];
            ErrorSums sums = new ErrorSums();
            for (long r = from; r < to; r++) {
                src.readRow(r, row, 0);
                for (int d = 0; d < headDim; d++) {
                    float v = (float) row[d];
                    long i = r * headDim + d;
                    if (dtype == SafetensorsDType.F32) {
                        values.setAtIndex(FLOAT_LE, i, v);
                        decoded[d] = v;
                    } else {
                        short b = BFloat16.fromFloat(v);
                        values.setAtIndex(SHORT_LE, i, b);
                        decoded[d] = BFloat16.toFloat(b);
                    }
                }
                sums.add(row, decoded);
            }
            return sums;
        }));
        return new TableEncoding(dtype, rows, headDim, 0, values, null, error);
    }

    /** Several threads write the output: a confined arena's memory would fail in them, so say it here. */
    private static void requireSharedFor(int threads, MemorySegment output) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (threads > 1 && !Segments.accessibleByOtherThreads(output)) {
            throw new IllegalArgumentException("encoding on " + threads + " threads needs an arena other threads can"
                    + " write (Arena.ofShared() or global), not a confined one");
        }
    }

    /** {@return the dtype written: F32, BF16 or F8_E4M3} */
    public SafetensorsDType dtype() {
        return dtype;
    }

    /** {@return the table's rows} */
    public long rows() {
        return rows;
    }

    /** {@return the values per row} */
    public int headDim() {
        return headDim;
    }

    /** {@return the values per scale of an fp8 table; empty for F32 and BF16} */
    public OptionalInt block() {
        return scales == null ? OptionalInt.empty() : OptionalInt.of(block);
    }

    /** {@return the table's bytes, {@code [rows, headDim]} of {@link #dtype()}, little-endian} */
    public MemorySegment values() {
        return values;
    }

    /** {@return the E8M0 scale bytes {@code [rows, headDim / block]} of an fp8 table; empty for F32 and BF16} */
    public Optional<MemorySegment> scales() {
        return Optional.ofNullable(scales);
    }

    /** {@return the shape of the scales, {@code [rows, headDim / block]}; only for an fp8 table} */
    long[] scaleShape() {
        return new long[] {rows, headDim / block};
    }

    /** {@return the largest absolute difference between a decoded value and the source's} */
    public double maxAbsError() {
        return maxAbsError;
    }

    /** {@return {@code ||decoded − source||₂ / ||source||₂}, 0 when both are zero} */
    public double normwiseRelativeError() {
        return normwiseRelativeError;
    }

    /** {@return the encoded table as the CPU reference reads it (the exact decoded values)} */
    public EmbeddingRows decoded() {
        if (scales == null) return new MappedFloatRows(values, dtype, rows, headDim);
        return Fp8Table.of("encoded table", values, scales, rows, headDim, block);
    }

    /** {@return e.g. {@code TableEncoding[F8_E4M3 [22934, 8] block 8, max abs error 1.2e-02, ...]}} */
    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "TableEncoding[%s [%d, %d]%s, max abs error %.3e,"
                        + " norm-wise relative error %.3e]", dtype, rows, headDim,
                scales == null ? "" : " block " + block, maxAbsError, normwiseRelativeError);
    }

    /** Running error sums, in double: per chunk of rows, then merged in row order. */
    private static final class ErrorSums {
        double maxAbs;
        double diffSquares;
        double sourceSquares;

        static ErrorSums merged(java.util.List<ErrorSums> chunks) {
            ErrorSums all = new ErrorSums();
            for (ErrorSums c : chunks) {
                all.maxAbs = Math.max(all.maxAbs, c.maxAbs);
                all.diffSquares += c.diffSquares;
                all.sourceSquares += c.sourceSquares;
            }
            return all;
        }

        void add(double[] source, double[] decoded) {
            for (int d = 0; d < source.length; d++) {
                double diff = decoded[d] - source[d];
                maxAbs = Math.max(maxAbs, Math.abs(diff));
                diffSquares += diff * diff;
                sourceSquares += source[d] * source[d];
            }
        }

        double normwise() {
            if (diffSquares == 0) return 0;
            return Math.sqrt(diffSquares) / Math.sqrt(sourceSquares);
        }
    }
}
