package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Page-locked host memory ({@code cudaMallocHost}) that Java reads and writes through {@link #segment()}
 * and that asynchronous copies can overlap with. The segment is scoped to a shared {@link Arena} owned by
 * this buffer: {@link #close()} closes the arena first (so any later access through the segment throws
 * {@link IllegalStateException} instead of touching freed memory) and then frees the memory
 * ({@code cudaFreeHost}). Close is idempotent; there is no GC-driven freeing.
 */
public final class PinnedHostBuffer implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment raw;
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    @SuppressWarnings("restricted") // reinterpret: giving the cudaMallocHost pointer its size and lifetime
    private PinnedHostBuffer(MemorySegment raw, long byteSize) {
        this.raw = raw;
        this.arena = Arena.ofShared();
        this.segment = raw.reinterpret(byteSize, arena, null);
    }

    /**
     * Allocates pinned host memory.
     *
     * @param byteSize size in bytes, {@code > 0}
     * @return the buffer (uninitialized contents)
     * @throws IllegalArgumentException for a size {@code <= 0} (before any CUDA call)
     * @throws CudaException            when {@code cudaMallocHost} fails
     */
    public static PinnedHostBuffer allocate(long byteSize) {
        if (byteSize <= 0) {
            throw new IllegalArgumentException("pinned buffer size must be > 0 bytes, got " + byteSize);
        }
        Cuda.ensureLoaded();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Cuda.check("cudaMallocHost", cuda_runtime_h.cudaMallocHost(out, byteSize));
            return new PinnedHostBuffer(out.get(ValueLayout.ADDRESS, 0), byteSize);
        }
    }

    /**
     * Allocates pinned host memory for {@code elements} elements of {@code dtype}.
     *
     * @param elements element count, {@code > 0}
     * @param dtype    element type
     * @return the buffer
     */
    public static PinnedHostBuffer allocate(long elements, DType dtype) {
        return allocate(dtype.bytesFor(elements));
    }

    /**
     * {@return the host memory as a segment of {@link #byteSize()} bytes; accessing it after {@link #close()}
     * throws {@link IllegalStateException}}
     * @throws IllegalStateException after close
     */
    public MemorySegment segment() {
        if (closed.get()) {
            throw new IllegalStateException(this + " is closed");
        }
        return segment;
    }

    /** {@return the size in bytes} */
    public long byteSize() {
        return segment.byteSize();
    }

    /** {@return whether this buffer has been closed} */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Invalidates {@link #segment()} and frees the memory ({@code cudaFreeHost}); later calls do nothing.
     *
     * @throws IllegalStateException when another thread is still using the segment (e.g. in a native call that was
     *                               passed it): nothing is freed then, and a later {@code close()} tries again
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                arena.close();
            } catch (IllegalStateException inUse) {
                closed.set(false); // freeing now would pull the memory from under its user
                throw inUse;
            }
            Cuda.check("cudaFreeHost", cuda_runtime_h.cudaFreeHost(raw));
        }
    }

    @Override
    public String toString() {
        return "PinnedHostBuffer[" + segment.byteSize() + " bytes, 0x" + Long.toHexString(raw.address())
                + (closed.get() ? ", closed]" : "]");
    }
}
