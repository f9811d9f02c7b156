package dev.engram.table;

import dev.engram.reference.EmbeddingRows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * An fp8 embedding table with block scales (SEMANTICS.md §9): values {@code [rows, headDim]} of E4M3 bytes and
 * scales {@code [rows, headDim / block]} of E8M0 bytes, both row-major, in two {@link MemorySegment}s that this
 * table reads in place (so they can be zero-copy slices of a memory-mapped checkpoint, and hold more than 2^31
 * elements). Value {@code (r, d)} is {@code e4m3(values[r, d]) · 2^(scales[r, d / block] − 127)}, exact in double
 * ({@link Fp8}).
 *
 * <p>As {@link EmbeddingRows} it is a table the CPU reference gathers from, each row read as its exact dequantized
 * values. Construction checks the shapes and reads every scale byte once: a NaN scale (byte 255) is refused, its row
 * and block named. Value bytes are not checked: a NaN code ({@code 0x7F}, {@code 0xFF}) reads as NaN, as a NaN in a
 * float32 table would.
 *
 * <p>The table does not own the segments: they stay valid as long as the arena or mapping they come from, and
 * reading after that throws {@link IllegalStateException}. Reads are thread-safe.
 */
public final class Fp8Table implements EmbeddingRows {
    private final String name;
    private final MemorySegment values;
    private final MemorySegment scales;
    private final long rows;
    private final int headDim;
    private final int block;
    private final int blocksPerRow;
    private final int maxScaleByte;

    private Fp8Table(String name, MemorySegment values, MemorySegment scales, long rows, int headDim, int block,
                     int maxScaleByte) {
        this.name = name;
        this.values = values;
        this.scales = scales;
        this.rows = rows;
        this.headDim = headDim;
        this.block = block;
        this.blocksPerRow = headDim / block;
        this.maxScaleByte = maxScaleByte;
    }

    /**
     * An fp8 table over existing bytes, checked.
     *
     * @param name    what error messages call the table, e.g. the checkpoint file and tensor name
     * @param values  {@code rows * headDim} E4M3 bytes, row-major
     * @param scales  {@code rows * (headDim / block)} E8M0 bytes, row-major
     * @param rows    row count, {@code >= 1}
     * @param headDim values per row, {@code >= 1}
     * @param block   values per scale, {@code >= 1}, dividing {@code headDim}
     * @return the table, reading the segments in place
     * @throws IllegalArgumentException when a count is below 1, {@code block} does not divide {@code headDim}, a
     *                                  segment's size is not the shape's, or a scale byte is 255 (NaN)
     */
    public static Fp8Table of(String name, MemorySegment values, MemorySegment scales, long rows, int headDim,
                              int block) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(scales, "scales");
        long[] sizes = byteSizes(name, rows, headDim, block);
        if (values.byteSize() != sizes[0]) {
            throw new IllegalArgumentException(name + ": values have " + values.byteSize() + " bytes, expected [" + rows
                    + ", " + headDim + "] = " + sizes[0] + " E4M3 bytes");
        }
        if (scales.byteSize() != sizes[1]) {
            throw new IllegalArgumentException(name + ": scales have " + scales.byteSize() + " bytes, expected [" + rows
                    + ", " + headDim / block + "] = " + sizes[1] + " E8M0 bytes (head dim " + headDim + ", block "
                    + block + ")");
        }
        int max = checkScales(name, scales, headDim / block);
        return new Fp8Table(name, values, scales, rows, headDim, block, max);
    }

    /**
     * An fp8 table over existing bytes, named "fp8 table" in messages; see
     * {@link #of(String, MemorySegment, MemorySegment, long, int, int)}.
     *
     * @param values  {@code rows * headDim} E4M3 bytes, row-major
     * @param scales  {@code rows * (headDim / block)} E8M0 bytes, row-major
     * @param rows    row count, {@code >= 1}
     * @param headDim values per row, {@code >= 1}
     * @param block   values per scale, {@code >= 1}, dividing {@code headDim}
     * @return the table, reading the segments in place
     * @throws IllegalArgumentException for a bad shape or a NaN scale byte, as the named overload
     */
    public static Fp8Table of(MemorySegment values, MemorySegment scales, long rows, int headDim, int block) {
        return of("fp8 table", values, scales, rows, headDim, block);
    }

    /**
     * Quantizes a float32 table block by block with {@link Fp8#quantizeBlock} (SEMANTICS.md §9: per block the
     * smallest power-of-two scale that brings its largest magnitude to at most 448, values rounded to nearest even).
     *
     * @param src     {@code [rows, headDim]} values, row-major
     * @param headDim values per row, {@code >= 1}, dividing {@code src.length}
     * @param block   values per scale, {@code >= 1}, dividing {@code headDim}
     * @param arena   allocates the value and scale segments; the table lives as long as it
     * @return the quantized table
     * @throws IllegalArgumentException for an empty source or a bad shape, or a NaN or infinite value (its row,
     *                                  block and index named)
     */
    public static Fp8Table quantize(float[] src, int headDim, int block, Arena arena) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(arena, "arena");
        if (headDim < 1 || src.length % headDim != 0) {
            throw new IllegalArgumentException("a table of " + src.length + " floats has no rows of " + headDim
                    + " elements");
        }
        long rows = src.length / headDim;
        long[] sizes = byteSizes("quantized table", rows, headDim, block);
        MemorySegment values = arena.allocate(sizes[0]);
        MemorySegment scales = arena.allocate(sizes[1]);
        byte[] q = new byte[headDim];
        int blocks = headDim / block;
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < blocks; k++) {
                int first = r * headDim + k * block;
                byte b;
                try {
                    b = Fp8.quantizeBlock(src, first, block, q, k * block);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("row " + r + ", block " + k + " of the source: " + e.getMessage(), e);
                }
                scales.set(ValueLayout.JAVA_BYTE, (long) r * blocks + k, b);
            }
            MemorySegment.copy(q, 0, values, ValueLayout.JAVA_BYTE, (long) r * headDim, headDim);
        }
        return of("quantized table", values, scales, rows, headDim, block);
    }

    /** {@return {@code rows * headDim} (value bytes) and {@code rows * (headDim / block)} (scale bytes)}, checked */
    private static long[] byteSizes(String name, long rows, int headDim, int block) {
        if (rows < 1 || headDim < 1) {
            throw new IllegalArgumentException(name + " needs rows >= 1 and headDim >= 1, got [" + rows + ", "
                    + headDim + "]");
        }
        if (block < 1 || headDim % block != 0) {
            throw new IllegalArgumentException(name + ": block " + block + " does not divide head dim " + headDim);
        }
        try {
            return new long[] {Math.multiplyExact(rows, headDim), rows * (headDim / block)};
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(name + " of " + rows + " rows x " + headDim
                    + " values overflows a 64-bit size");
        }
    }

    /** Reads every scale byte: refuses NaN (255), returns the largest. */
    private static int checkScales(String name, MemorySegment scales, int blocksPerRow) {
        int max = 0;
        long n = scales.byteSize();
        for (long i = 0; i < n; i++) {
            int b = scales.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            if (b == Fp8.SCALE_NAN) {
                throw new IllegalArgumentException(name + ": scale byte 255 (NaN) at row " + i / blocksPerRow
                        + ", block " + i % blocksPerRow);
            }
            max = Math.max(max, b);
        }
        return max;
    }

    @Override
    public long rows() {
        return rows;
    }

    /** {@return the values per row, the head dim} */
    @Override
    public int rowElements() {
        return headDim;
    }

    /** {@return the values per scale} */
    public int block() {
        return block;
    }

    /** {@return the scales per row, {@code headDim / block}} */
    public int blocksPerRow() {
        return blocksPerRow;
    }

    /**
     * {@return the largest scale byte of the table} Above 246 some values exceed {@link Float#MAX_VALUE}, so their
     * float32 dequantization is ±Infinity (the double one stays exact).
     */
    public int maxScaleByte() {
        return maxScaleByte;
    }

    /** {@return the E4M3 value bytes, {@code [rows, headDim]}, the segment given (not a copy)} */
    public MemorySegment values() {
        return values;
    }

    /** {@return the E8M0 scale bytes, {@code [rows, headDim / block]}, the segment given (not a copy)} */
    public MemorySegment scales() {
        return scales;
    }

    /**
     * {@return the E4M3 byte of value {@code (row, column)}}
     *
     * @param row    row in {@code [0, rows)}
     * @param column column in {@code [0, headDim)}
     * @throws IndexOutOfBoundsException for an index outside the table
     */
    public byte valueByte(long row, int column) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(column, headDim);
        return values.get(ValueLayout.JAVA_BYTE, row * headDim + column);
    }

    /**
     * {@return the E8M0 byte of block {@code blockIndex} of row {@code row}}
     *
     * @param row        row in {@code [0, rows)}
     * @param blockIndex block in {@code [0, headDim / block)}
     * @throws IndexOutOfBoundsException for an index outside the table
     */
    public byte scaleByte(long row, int blockIndex) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(blockIndex, blocksPerRow);
        return scales.get(ValueLayout.JAVA_BYTE, row * blocksPerRow + blockIndex);
    }

    /**
     * {@return value {@code (row, column)} dequantized, exactly}
     *
     * @param row    row in {@code [0, rows)}
     * @param column column in {@code [0, headDim)}
     * @throws IndexOutOfBoundsException for an index outside the table
     */
    public double get(long row, int column) {
        return Fp8.dequantize(valueByte(row, column), scaleByte(row, column / block));
    }

    /**
     * Writes row {@code row} dequantized, exactly ({@link Fp8#dequantize}).
     *
     * @param row    the row, in {@code [0, rows)}
     * @param dst    receives {@code headDim} values
     * @param offset index in {@code dst} of the first value
     * @throws IndexOutOfBoundsException for a row outside the table or a destination too short
     */
    @Override
    public void readRow(long row, double[] dst, int offset) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(offset, headDim, dst.length);
        long v = row * headDim, s = row * blocksPerRow;
        for (int k = 0; k < blocksPerRow; k++) {
            double scale = Fp8.scale(scales.get(ValueLayout.JAVA_BYTE, s + k));
            for (int d = k * block; d < (k + 1) * block; d++) {
                dst[offset + d] = Fp8.e4m3ToFloat(values.get(ValueLayout.JAVA_BYTE, v + d)) * scale;
            }
        }
    }

    /**
     * Writes row {@code row} dequantized in float32 ({@link Fp8#dequantizeFloat}): what a float32 gather gives.
     *
     * @param row    the row, in {@code [0, rows)}
     * @param dst    receives {@code headDim} values
     * @param offset index in {@code dst} of the first value
     * @throws IndexOutOfBoundsException for a row outside the table or a destination too short
     */
    public void readRow(long row, float[] dst, int offset) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(offset, headDim, dst.length);
        long v = row * headDim, s = row * blocksPerRow;
        for (int k = 0; k < blocksPerRow; k++) {
            byte b = scales.get(ValueLayout.JAVA_BYTE, s + k);
            for (int d = k * block; d < (k + 1) * block; d++) {
                dst[offset + d] = Fp8.dequantizeFloat(values.get(ValueLayout.JAVA_BYTE, v + d), b);
            }
        }
    }

    /**
     * {@return the whole table dequantized in float32, {@code [rows, headDim]} row-major}: with
     * {@code maxScaleByte() <= 246} these are the exact values, and a float32 table of them is the same table
     *
     * @throws IllegalArgumentException when the table has more elements than a Java array holds
     */
    public float[] toFloats() {
        long n = rows * headDim;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(name + " has " + n + " values, more than a Java array holds");
        }
        float[] out = new float[(int) n];
        for (long r = 0; r < rows; r++) readRow(r, out, (int) (r * headDim));
        return out;
    }

    @Override
    public String toString() {
        return "Fp8Table[" + name + ", " + rows + " x " + headDim + " E4M3, block " + block + "]";
    }
}
