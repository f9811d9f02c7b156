package dev.engram.checkpoint;

import dev.engram.io.SafetensorsDType;
import dev.engram.reference.EmbeddingRows;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A row-major F32 or BF16 table read in place from a {@link MemorySegment} (a slice of a mapped checkpoint), with
 * {@code long} indexing, so beyond 2^31 elements. Each value is read as the exact double of its float32 (BF16 widened
 * exactly).
 */
final class MappedFloatRows implements EmbeddingRows {
    private final MemorySegment data;
    private final SafetensorsDType dtype;
    private final long rows;
    private final int rowElements;

    MappedFloatRows(MemorySegment data, SafetensorsDType dtype, long rows, int rowElements) {
        this.data = Objects.requireNonNull(data, "data");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        if (dtype != SafetensorsDType.F32 && dtype != SafetensorsDType.BF16) {
            throw new IllegalArgumentException("float table rows are F32 or BF16, got " + dtype);
        }
        if (rows < 1 || rowElements < 1 || data.byteSize() != Math.multiplyExact(rows, (long) rowElements) * dtype.byteSize()) {
            throw new IllegalArgumentException(data.byteSize() + " bytes are no " + dtype + " table [" + rows + ", "
                    + rowElements + "]");
        }
        this.rows = rows;
        this.rowElements = rowElements;
    }

    @Override
    public long rows() {
        return rows;
    }

    @Override
    public int rowElements() {
        return rowElements;
    }

    @Override
    public void readRow(long row, double[] dst, int offset) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(offset, rowElements, dst.length);
        long first = row * rowElements;
        for (int d = 0; d < rowElements; d++) dst[offset + d] = DenseConversion.get(data, dtype, first + d);
    }

    @Override
    public String toString() {
        return "MappedFloatRows[" + rows + " x " + rowElements + " " + dtype + "]";
    }
}
