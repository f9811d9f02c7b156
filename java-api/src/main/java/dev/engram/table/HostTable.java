package dev.engram.table;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An embedding table in host memory: {@code rows x rowElements} elements of {@link DType#FLOAT32} or
 * {@link DType#BFLOAT16}, row-major, native byte order, in one off-heap segment (which may exceed 2^31 bytes;
 * nothing of it lives on the Java heap). Row {@code r} occupies bytes {@code [r * rowBytes, (r+1) * rowBytes)}.
 *
 * <p>The memory comes from a {@link HostMemory}, so the same table type serves plain, mapped and (with GPU
 * allocators) pinned memory. Contents after allocation are whatever the allocator gives (the library's
 * allocators give zeros); fill it with {@link RowFile}, {@link RandomRows} or {@link EmbeddingTables}.
 *
 * <p>{@link #close()} is idempotent and releases the memory; afterwards {@link #segment()} and every accessor
 * that reads memory throw {@link IllegalStateException}, and so does any access through a segment obtained
 * earlier. Close only when no other thread is using the table.
 */
public final class HostTable implements AutoCloseable {
    private final long rows;
    private final int rowElements;
    private final DType dtype;
    private final long rowBytes;
    private final HostAllocation allocation;
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    private HostTable(long rows, int rowElements, DType dtype, HostAllocation allocation, long byteSize) {
        this.rows = rows;
        this.rowElements = rowElements;
        this.dtype = dtype;
        this.rowBytes = dtype.bytesFor(rowElements);
        this.allocation = allocation;
        this.segment = allocation.segment().asSlice(0, byteSize);
    }

    /**
     * Allocates a table from {@link HostMemory#plain()}.
     *
     * @param rows        row count, {@code >= 1}
     * @param rowElements elements per row, {@code >= 1}
     * @param dtype       {@link DType#FLOAT32} or {@link DType#BFLOAT16}
     * @return the table (zero-filled)
     * @throws IllegalArgumentException for a bad shape or dtype, or a size that overflows a {@code long}
     */
    public static HostTable allocate(long rows, int rowElements, DType dtype) {
        return allocate(rows, rowElements, dtype, HostMemory.plain());
    }

    /**
     * Allocates a table from {@code memory}.
     *
     * @param rows        row count, {@code >= 1}
     * @param rowElements elements per row, {@code >= 1}
     * @param dtype       {@link DType#FLOAT32} or {@link DType#BFLOAT16}
     * @param memory      the allocator
     * @return the table
     * @throws IllegalArgumentException for a bad shape or dtype, a size that overflows a {@code long}, or an
     *                                  allocation smaller than asked for
     */
    public static HostTable allocate(long rows, int rowElements, DType dtype, HostMemory memory) {
        Objects.requireNonNull(memory, "memory");
        long bytes = byteSize(rows, rowElements, dtype);
        HostAllocation a = memory.allocate(bytes);
        if (a.segment().byteSize() < bytes) {
            a.close();
            throw new IllegalArgumentException(memory + " returned " + a.segment().byteSize() + " bytes for a request of "
                    + bytes);
        }
        return new HostTable(rows, rowElements, dtype, a, bytes);
    }

    /**
     * The bytes a table of this shape needs, with every argument checked.
     *
     * @param rows        row count, {@code >= 1}
     * @param rowElements elements per row, {@code >= 1}
     * @param dtype       {@link DType#FLOAT32} or {@link DType#BFLOAT16}
     * @return {@code rows * rowElements * dtype.byteSize()}
     * @throws IllegalArgumentException for a bad shape or dtype, or a product that overflows a {@code long}
     */
    public static long byteSize(long rows, int rowElements, DType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16) {
            throw new IllegalArgumentException("host table dtype must be FLOAT32 or BFLOAT16, got " + dtype);
        }
        if (rows < 1 || rowElements < 1) {
            throw new IllegalArgumentException("host table needs rows >= 1 and rowElements >= 1, got " + rows + " x "
                    + rowElements);
        }
        try {
            return Math.multiplyExact(rows, dtype.bytesFor(rowElements));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("host table of " + rows + " rows x " + rowElements + " " + dtype
                    + " overflows a 64-bit byte size");
        }
    }

    /** {@return the number of rows} */
    public long rows() {
        return rows;
    }

    /** {@return the elements per row} */
    public int rowElements() {
        return rowElements;
    }

    /** {@return the element type} */
    public DType dtype() {
        return dtype;
    }

    /** {@return the bytes per row, {@code rowElements * dtype.byteSize()}} */
    public long rowBytes() {
        return rowBytes;
    }

    /** {@return the table's size in bytes, {@code rows * rowBytes}} */
    public long byteSize() {
        return segment.byteSize();
    }

    /**
     * {@return the whole table, {@link #byteSize()} bytes}
     * @throws IllegalStateException after {@link #close()}
     */
    public MemorySegment segment() {
        if (closed.get()) {
            throw new IllegalStateException(this + " is closed");
        }
        return segment;
    }

    /**
     * {@return row {@code row} as a slice of {@link #rowBytes()} bytes}
     * @param row row index in {@code [0, rows)}
     * @throws IndexOutOfBoundsException for a row outside the table
     * @throws IllegalStateException     after {@link #close()}
     */
    public MemorySegment row(long row) {
        Objects.checkIndex(row, rows);
        return segment().asSlice(row * rowBytes, rowBytes);
    }

    /**
     * {@return element {@code column} of row {@code row} as a float (a bfloat16 widened exactly)}; for checks
     * and tools, not for bulk reads
     * @param row    row index in {@code [0, rows)}
     * @param column column index in {@code [0, rowElements)}
     * @throws IndexOutOfBoundsException for an index outside the table
     * @throws IllegalStateException     after {@link #close()}
     */
    public float getFloat(long row, int column) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(column, rowElements);
        long index = row * rowElements + column;
        return dtype == DType.FLOAT32 ? segment().getAtIndex(ValueLayout.JAVA_FLOAT, index)
                : BFloat16.toFloat(segment().getAtIndex(ValueLayout.JAVA_SHORT, index));
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed.get();
    }

    /** Releases the memory; later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            allocation.close();
        }
    }

    @Override
    public String toString() {
        return "HostTable[" + rows + " x " + rowElements + " " + dtype + ", " + segment.byteSize() + " bytes"
                + (closed.get() ? ", closed]" : "]");
    }
}
