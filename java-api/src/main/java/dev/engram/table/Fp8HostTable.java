package dev.engram.table;

import dev.engram.cuda.DType;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An fp8 embedding table in host memory (SEMANTICS.md §9), the fp8 form of {@link HostTable}: E4M3 codes
 * {@code [rows, headDim]} ({@link DType#FP8_E4M3}, one byte a value) and E8M0 scales {@code [rows, headDim / block]}
 * ({@link DType#FP8_E8M0}, one byte a block), both row-major, in one off-heap allocation from a {@link HostMemory}
 * (codes first, the scales from the next multiple of {@value #SCALES_ALIGNMENT} bytes), or in two allocations of their
 * own ({@link #of(long, int, int, HostAllocation, HostAllocation)}: e.g. the two tensors of a checkpoint file, pinned
 * in place). With a pinned allocator
 * ({@link PinnedHostMemory}) a {@link dev.engram.gpu.HostTableLayer} gathers code and scale rows on the CPU, moves
 * those bytes to the GPU and dequantizes them there, or reads both in place (zero copy): half a bf16 table's
 * bytes, plus one byte per block.
 *
 * <p>Made from an {@link Fp8Table} ({@link #copyOf(Fp8Table, HostMemory)}: a checked table, so no scale byte is NaN),
 * {@link #allocate allocated} to be filled in place through {@link #codes()} and {@link #scales()} (then
 * {@link #asFp8Table()} checks every scale byte), or over two allocations handed over ({@link #of}, every scale byte
 * checked). Value {@code (r, d)} is
 * {@code e4m3(codes[r, d]) · 2^(scales[r, d / block] − 127)}.
 *
 * <p>{@link #close()} is idempotent and releases the memory; afterwards {@link #codes()}, {@link #scales()} and
 * {@link #asFp8Table()} throw {@link IllegalStateException}, and so does any access through a segment obtained
 * earlier. Close only when no other thread is using the table.
 */
public final class Fp8HostTable implements AutoCloseable {
    /** Where the scales start: the first multiple of this many bytes after the codes. */
    public static final int SCALES_ALIGNMENT = 64;

    private final long rows;
    private final int headDim;
    private final int block;
    private final HostAllocation allocation;       // the codes, and the scales unless they have their own
    private final HostAllocation scaleAllocation;  // the scales' own allocation (of), or null
    private final MemorySegment codes;
    private final MemorySegment scales;
    private final long byteSize;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Fp8HostTable(long rows, int headDim, int block, HostAllocation allocation, long codeBytes, long scalesAt,
                         long scaleBytes) {
        this.rows = rows;
        this.headDim = headDim;
        this.block = block;
        this.allocation = allocation;
        this.scaleAllocation = null;
        this.codes = allocation.segment().asSlice(0, codeBytes);
        this.scales = allocation.segment().asSlice(scalesAt, scaleBytes);
        this.byteSize = scalesAt + scaleBytes;
    }

    private Fp8HostTable(long rows, int headDim, int block, HostAllocation codes, HostAllocation scales) {
        this.rows = rows;
        this.headDim = headDim;
        this.block = block;
        this.allocation = codes;
        this.scaleAllocation = scales;
        this.codes = codes.segment().asSlice(0, rows * headDim);
        this.scales = scales.segment().asSlice(0, rows * (headDim / block));
        this.byteSize = this.codes.byteSize() + this.scales.byteSize();
    }

    /**
     * Allocates a table from {@code memory}: codes as the allocator gives them (the library's plain and mapped
     * allocators give zeros, {@code cudaMallocHost} does not), scales set to byte 0 ({@code 2^-127}, a valid scale).
     * Fill it through {@link #codes()} and {@link #scales()}.
     *
     * @param rows    row count, {@code >= 1}
     * @param headDim values per row, {@code >= 1}
     * @param block   values per scale, {@code >= 1}, dividing {@code headDim}
     * @param memory  the allocator, e.g. {@link PinnedHostMemory#allocated()}
     * @return the table
     * @throws IllegalArgumentException for a bad shape or block, a size that overflows a {@code long}, or an
     *                                  allocation smaller than asked for
     */
    public static Fp8HostTable allocate(long rows, int headDim, int block, HostMemory memory) {
        Objects.requireNonNull(memory, "memory");
        long total = byteSize(rows, headDim, block);
        long codeBytes = rows * headDim, scalesAt = scalesOffset(codeBytes), scaleBytes = rows * (headDim / block);
        HostAllocation a = memory.allocate(total);
        if (a.segment().byteSize() < total) {
            a.close();
            throw new IllegalArgumentException(memory + " returned " + a.segment().byteSize() + " bytes for a request of "
                    + total);
        }
        Fp8HostTable table = new Fp8HostTable(rows, headDim, block, a, codeBytes, scalesAt, scaleBytes);
        table.scales.fill((byte) 0);
        return table;
    }

    /**
     * Copies an fp8 table (e.g. the mapped values and scales of a checkpoint, {@code CheckpointLayer.fp8Table()})
     * into memory from {@code memory}. The source was checked when it was made (no scale byte 255), so the copy is
     * too.
     *
     * @param source the table to copy
     * @param memory the allocator, e.g. {@link PinnedHostMemory#registered(HostMemory)} for huge pages
     * @return the copy; the source is not needed afterwards
     * @throws IllegalArgumentException for an allocation smaller than asked for
     * @throws IllegalStateException    when the source's memory is no longer accessible
     */
    public static Fp8HostTable copyOf(Fp8Table source, HostMemory memory) {
        return copyOf(source, memory, Runtime.getRuntime().availableProcessors(), ProgressListener.NONE);
    }

    /**
     * Copies an fp8 table into memory from {@code memory} in parallel chunks ({@link TableCopy#copyFp8}: a table
     * under 64 MiB takes one thread), reporting progress.
     *
     * @param source   the table to copy
     * @param memory   the allocator
     * @param threads  copy threads, {@code >= 1}
     * @param progress receives the code and scale bytes written so far, on this thread
     * @return the copy; the source is not needed afterwards
     * @throws IllegalArgumentException for {@code threads < 1}, an allocation smaller than asked for, or a scale
     *                                  byte 255 in the source (written since it was checked)
     * @throws IllegalStateException    when the source's memory is no longer accessible
     */
    public static Fp8HostTable copyOf(Fp8Table source, HostMemory memory, int threads, ProgressListener progress) {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(progress, "progress");
        ParallelChunks.checkThreads(threads);
        Fp8HostTable table = allocate(source.rows(), source.rowElements(), source.block(), memory);
        try {
            TableCopy.copyFp8(source.values(), source.scales(), table, threads, progress);
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
        return table;
    }

    /**
     * An fp8 table over two allocations handed over: the codes from the start of one, the scales from the start of
     * the other, read in place (e.g. two tensors' ranges of a checkpoint file, pinned read-only:
     * {@code CheckpointHostTable.registerFp8}). Every scale byte is checked once. The table owns both allocations
     * from the call on: it closes them when it is closed, or when this throws.
     *
     * @param rows    row count, {@code >= 1}
     * @param headDim values per row, {@code >= 1}
     * @param block   values per scale, {@code >= 1}, dividing {@code headDim}
     * @param codes   at least {@code rows * headDim} bytes of E4M3 codes (a read-only segment gives a read-only table)
     * @param scales  at least {@code rows * (headDim / block)} bytes of E8M0 scales, another allocation
     * @return the table; {@link #byteSize()} is the code bytes plus the scale bytes
     * @throws IllegalArgumentException for a bad shape or block, an allocation smaller than the shape's bytes, the same
     *                                  allocation twice, or a scale byte 255 (NaN), its row and block named
     * @throws IllegalStateException    when an allocation is already closed
     */
    public static Fp8HostTable of(long rows, int headDim, int block, HostAllocation codes, HostAllocation scales) {
        try {
            Objects.requireNonNull(codes, "codes");
            Objects.requireNonNull(scales, "scales");
            if (codes == scales) {
                throw new IllegalArgumentException("fp8 host table: the codes and the scales need two allocations");
            }
            byteSize(rows, headDim, block); // checks the shape
            long codeBytes = rows * headDim, scaleBytes = rows * (headDim / block);
            if (codes.segment().byteSize() < codeBytes || scales.segment().byteSize() < scaleBytes) {
                throw new IllegalArgumentException("fp8 host table [" + rows + ", " + headDim + "] block " + block
                        + " needs " + codeBytes + " code bytes and " + scaleBytes + " scale bytes, got allocations of "
                        + codes.segment().byteSize() + " and " + scales.segment().byteSize());
            }
            if (codes.isClosed() || scales.isClosed()) {
                throw new IllegalStateException("fp8 host table: an allocation handed over is closed");
            }
        } catch (RuntimeException | Error e) {
            closeBoth(codes, scales);
            throw e;
        }
        Fp8HostTable table = new Fp8HostTable(rows, headDim, block, codes, scales);
        try {
            table.asFp8Table(); // reads every scale byte
            return table;
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
    }

    private static void closeBoth(HostAllocation a, HostAllocation b) {
        try {
            if (a != null) a.close();
        } finally {
            if (b != null && b != a) b.close();
        }
    }

    /**
     * The same into {@link HostMemory#plain()} memory (not pinned: the CPU gather works, zero copy does not).
     *
     * @param source the table to copy
     * @return the copy
     * @throws IllegalStateException when the source's memory is no longer accessible
     */
    public static Fp8HostTable copyOf(Fp8Table source) {
        return copyOf(source, HostMemory.plain());
    }

    /**
     * The bytes a table of this shape takes, with every argument checked: the codes, padding to
     * {@value #SCALES_ALIGNMENT} bytes, the scales.
     *
     * @param rows    row count, {@code >= 1}
     * @param headDim values per row, {@code >= 1}
     * @param block   values per scale, {@code >= 1}, dividing {@code headDim}
     * @return the allocation's size in bytes
     * @throws IllegalArgumentException for a bad shape or block, or a size that overflows a {@code long}
     */
    public static long byteSize(long rows, int headDim, int block) {
        if (rows < 1 || headDim < 1) {
            throw new IllegalArgumentException("fp8 host table needs rows >= 1 and headDim >= 1, got [" + rows + ", "
                    + headDim + "]");
        }
        if (block < 1 || headDim % block != 0) {
            throw new IllegalArgumentException("fp8 host table: block " + block + " does not divide head dim " + headDim);
        }
        try {
            long codeBytes = Math.multiplyExact(rows, (long) headDim);
            return Math.addExact(scalesOffset(codeBytes), rows * (headDim / block));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("fp8 host table of " + rows + " rows x " + headDim
                    + " values overflows a 64-bit byte size");
        }
    }

    private static long scalesOffset(long codeBytes) {
        return Math.addExact(codeBytes, SCALES_ALIGNMENT - 1) & -SCALES_ALIGNMENT;
    }

    /** {@return the number of rows} */
    public long rows() {
        return rows;
    }

    /** {@return the values per row, the head dim} */
    public int headDim() {
        return headDim;
    }

    /** {@return the values per scale} */
    public int block() {
        return block;
    }

    /** {@return the scales per row, {@code headDim / block}} */
    public int blocksPerRow() {
        return headDim / block;
    }

    /** {@return the bytes of one row's codes, {@code headDim}} */
    public long codeRowBytes() {
        return headDim;
    }

    /** {@return the bytes of one row's scales, {@code headDim / block}} */
    public long scaleRowBytes() {
        return headDim / block;
    }

    /**
     * {@return the table's size in bytes: {@link #byteSize(long, int, int)} for one allocation, the code bytes plus
     * the scale bytes for two ({@link #of})}
     */
    public long byteSize() {
        return byteSize;
    }

    /**
     * {@return the E4M3 codes, {@code [rows, headDim]}, one byte each}
     * @throws IllegalStateException after {@link #close()}
     */
    public MemorySegment codes() {
        checkOpen();
        return codes;
    }

    /**
     * {@return the E8M0 scales, {@code [rows, headDim / block]}, one byte each}
     * @throws IllegalStateException after {@link #close()}
     */
    public MemorySegment scales() {
        checkOpen();
        return scales;
    }

    /**
     * {@return this table's bytes as an {@link Fp8Table} read in place} (the CPU reference's view; valid while this
     * table is open). Reads every scale byte once.
     *
     * @throws IllegalArgumentException for a scale byte 255 (NaN), its row and block named
     * @throws IllegalStateException    after {@link #close()}
     */
    public Fp8Table asFp8Table() {
        return Fp8Table.of(toString(), codes(), scales(), rows, headDim, block);
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed.get();
    }

    /** Releases the memory (both allocations of a table made by {@link #of}); later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            closeBoth(allocation, scaleAllocation);
        }
    }

    private void checkOpen() {
        if (closed.get()) throw new IllegalStateException(this + " is closed");
    }

    @Override
    public String toString() {
        return "Fp8HostTable[" + rows + " x " + headDim + " E4M3, block " + block + ", " + byteSize + " bytes"
                + (closed.get() ? ", closed]" : "]");
    }
}
