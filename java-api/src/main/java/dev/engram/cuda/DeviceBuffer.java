package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owned device memory ({@code cudaMalloc}) of {@code elementCount} elements of a {@link DType}.
 * {@link #close()} frees it ({@code cudaFree}) exactly once; later closes do nothing; any other use
 * after close is an {@link IllegalStateException} naming the buffer. Memory is never freed by the GC:
 * an unclosed buffer leaks, which {@link #liveBytes()} makes visible to tests.
 *
 * <p>A zero-element buffer makes no CUDA call (its address is {@code NULL}), so it can be allocated,
 * validated against and closed without a GPU.
 */
public final class DeviceBuffer extends DeviceArray implements AutoCloseable {
    private static final AtomicLong LIVE_BYTES = new AtomicLong();

    private final AtomicBoolean closed = new AtomicBoolean();

    private DeviceBuffer(long address, long elementCount, DType dtype, int device) {
        super(address, elementCount, dtype, device);
    }

    /**
     * Allocates device memory on the current device, which the buffer records ({@link #device()}).
     *
     * @param elements number of elements, {@code >= 0}
     * @param dtype    element type
     * @return the new buffer (uninitialized contents)
     * @throws IllegalArgumentException for a negative or overflowing size (before any CUDA call)
     * @throws CudaException            when {@code cudaMalloc} fails (e.g. {@code cudaErrorMemoryAllocation})
     */
    public static DeviceBuffer allocate(long elements, DType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        long bytes = dtype.bytesFor(elements);
        if (bytes == 0) {
            return new DeviceBuffer(0, 0, dtype, ANY_DEVICE);
        }
        Cuda.ensureLoaded();
        int device = DeviceScope.currentDevice();
        long address;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Cuda.check("cudaMalloc", cuda_runtime_h.cudaMalloc(out, bytes));
            address = out.get(ValueLayout.ADDRESS, 0).address();
        }
        LIVE_BYTES.addAndGet(bytes);
        return new DeviceBuffer(address, elements, dtype, device);
    }

    /** {@return bytes currently allocated by open DeviceBuffers in this JVM (tests assert it returns to zero)} */
    public static long liveBytes() {
        return LIVE_BYTES.get();
    }

    @Override
    DeviceArray owner() {
        return this;
    }

    @Override
    boolean released() {
        return closed.get();
    }

    /** {@return whether this buffer has been closed} */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Frees the device memory ({@code cudaFree}); later calls do nothing. Slices become unusable.
     *
     * @throws CudaException when {@code cudaFree} reports an error (the buffer counts as closed anyway)
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long bytes = byteSize();
        if (bytes == 0) {
            return;
        }
        LIVE_BYTES.addAndGet(-bytes);
        try (DeviceScope scope = DeviceScope.enter(device())) { // its own device, whichever the caller's is
            Cuda.check("cudaFree", cuda_runtime_h.cudaFree(rawAddress()));
        }
    }

    private MemorySegment rawAddress() {
        // address() checks liveness; close() must reach the address after marking closed.
        return MemorySegment.ofAddress(addressValue());
    }
}
