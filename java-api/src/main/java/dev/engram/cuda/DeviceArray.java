package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Typed device memory: an owning {@link DeviceBuffer}, a non-owning {@link DeviceView} of memory someone else
 * allocated ({@link #wrap}), or a {@link DeviceSlice} of either. Every array records the device its memory
 * belongs to ({@link #device()}).
 *
 * <p>The device address is a zero-length {@link MemorySegment} that Java never dereferences; it is only
 * passed to native calls. Every copy checks its arguments (dtype, element count, native host memory)
 * and throws {@link IllegalArgumentException} before any CUDA call; using memory whose owning buffer is
 * closed throws {@link IllegalStateException}.
 *
 * <p>The synchronous copies ({@code copyFrom}, {@code copyTo}) are fences: they wait for all work queued on the
 * device (every stream), copy with {@code cudaMemcpy}, and {@code copyFrom} waits again until the data has
 * landed. So they are safe between forwards on any stream without further synchronization, and cost a device-
 * wide synchronization each: keep them out of hot loops. (A bare {@code cudaMemcpy} would not be enough: it runs
 * on the legacy default stream, which does not wait for the non-blocking streams {@link CudaStream#create()}
 * makes, and a pageable host-to-device copy may return before its data reaches the device.) The {@code *Async}
 * copies use {@code cudaMemcpyAsync} on the given stream and need host memory that stays alive until the
 * stream is synchronized (pinned memory, {@link PinnedHostBuffer}, to really overlap).
 */
public abstract sealed class DeviceArray permits DeviceBuffer, DeviceSlice, DeviceView {
    /** {@link #device()} of memory that every device can use: empty arrays and mapped pinned host memory. */
    public static final int ANY_DEVICE = -1;

    private final long address;
    private final long elementCount;
    private final DType dtype;
    private final int device;

    DeviceArray(long address, long elementCount, DType dtype, int device) {
        this.address = address;
        this.elementCount = elementCount;
        this.dtype = dtype;
        this.device = device;
    }

    /**
     * A non-owning view of device memory that another stack allocated (its tensors, its memory pool), for use
     * without copies: {@code EngramLayer.forward} and the kernel wrappers take it like a {@link DeviceBuffer}.
     * Checked once, here, with {@code cudaPointerGetAttributes}: the first and the last byte must be device
     * memory of one device (or managed memory), or pinned host memory mapped into the device's address space;
     * the view records that device. (A range that ends inside a neighbouring allocation of the same device cannot
     * be told from one allocation this way; one that ends in no allocation can.) Closing the view never frees the
     * memory; the caller keeps it alive while the view is in use.
     *
     * @param address  the device address (for mapped pinned memory, the host address or its device alias)
     * @param elements number of elements, {@code >= 0}
     * @param dtype    element type
     * @return the view
     * @throws IllegalArgumentException for a NULL or misaligned address, a negative or overflowing size, host
     *         memory that is not pinned and mapped, freed or unknown memory, or a range whose last byte is not
     *         in the same kind of memory on the same device (too many elements for the allocation)
     * @throws CudaException            when the runtime cannot be asked (e.g. no driver)
     */
    public static DeviceView wrap(MemorySegment address, long elements, DType dtype) {
        return DeviceView.create(address, elements, dtype);
    }

    /** The raw device address, without a liveness check. */
    final long addressValue() {
        return address;
    }

    /** The buffer or view whose lifetime this memory shares (itself for a DeviceBuffer or DeviceView). */
    abstract DeviceArray owner();

    /** Whether the owning buffer or view is closed. */
    abstract boolean released();

    /** @throws IllegalStateException when the owning buffer or view is closed */
    final void checkOpen() {
        if (released()) throw new IllegalStateException(owner() + " is closed");
    }

    /**
     * {@return the device this memory belongs to: the device current when a {@link DeviceBuffer} was allocated,
     * the one {@code cudaPointerGetAttributes} names for a {@link DeviceView}; {@link #ANY_DEVICE} for memory
     * every device can use (empty arrays, mapped pinned host memory)}
     */
    public final int device() {
        return device;
    }

    /** {@return the element type} */
    public final DType dtype() {
        return dtype;
    }

    /** {@return the number of elements} */
    public final long elementCount() {
        return elementCount;
    }

    /** {@return the size in bytes, {@code elementCount() * dtype().byteSize()}} */
    public final long byteSize() {
        return elementCount * dtype.byteSize();
    }

    /**
     * {@return the device address as a zero-length segment, for native calls only (never dereference it)}
     * @throws IllegalStateException when the owning buffer is closed
     */
    public final MemorySegment address() {
        checkOpen();
        return MemorySegment.ofAddress(address);
    }

    /**
     * {@return a non-owning view of {@code count} elements starting at element {@code offsetElements}}
     * @param offsetElements first element, {@code 0 <= offsetElements <= elementCount()}
     * @param count          number of elements, {@code 0 <= count <= elementCount() - offsetElements}
     * @throws IllegalArgumentException when the range is not inside this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final DeviceSlice slice(long offsetElements, long count) {
        checkOpen();
        if (offsetElements < 0 || count < 0 || offsetElements > elementCount || count > elementCount - offsetElements) {
            throw new IllegalArgumentException("slice [" + offsetElements + ", +" + count + ") out of range for "
                    + this);
        }
        return new DeviceSlice(owner(), address + offsetElements * dtype.byteSize(), count, dtype, device);
    }

    // ---- host -> device ----

    /**
     * Copies {@code src} to the device and returns once the data is there; dtype must be FLOAT32.
     *
     * @param src the floats to copy, exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyFrom(float[] src) {
        Objects.requireNonNull(src, "src");
        checkHostArray(DType.FLOAT32, src.length, "copyFrom");
        try (Arena arena = Arena.ofConfined()) {
            copyFrom(arena.allocateFrom(ValueLayout.JAVA_FLOAT, src));
        }
    }

    /**
     * Copies {@code src} to the device and returns once the data is there; dtype must be INT32.
     *
     * @param src the ints to copy, exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyFrom(int[] src) {
        Objects.requireNonNull(src, "src");
        checkHostArray(DType.INT32, src.length, "copyFrom");
        try (Arena arena = Arena.ofConfined()) {
            copyFrom(arena.allocateFrom(ValueLayout.JAVA_INT, src));
        }
    }

    /**
     * Copies {@code src} to the device and returns once the data is there; dtype must be INT64.
     *
     * @param src the longs to copy, exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyFrom(long[] src) {
        Objects.requireNonNull(src, "src");
        checkHostArray(DType.INT64, src.length, "copyFrom");
        try (Arena arena = Arena.ofConfined()) {
            copyFrom(arena.allocateFrom(ValueLayout.JAVA_LONG, src));
        }
    }

    /**
     * Copies bfloat16 bit patterns to the device and returns once the data is there; dtype must be BFLOAT16.
     *
     * @param src raw bfloat16 bits (see {@link BFloat16}), exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyFrom(short[] src) {
        Objects.requireNonNull(src, "src");
        checkHostArray(DType.BFLOAT16, src.length, "copyFrom");
        try (Arena arena = Arena.ofConfined()) {
            copyFrom(arena.allocateFrom(ValueLayout.JAVA_SHORT, src));
        }
    }

    /**
     * Copies {@code byteSize()} bytes from native host memory to the device: waits for all queued device work,
     * copies ({@code cudaMemcpy}), and returns once the data is on the device.
     *
     * @param src a native segment of exactly {@code byteSize()} bytes
     */
    public final void copyFrom(MemorySegment src) {
        checkHostSegment(src, "copyFrom");
        MemorySegment dst = address();
        if (byteSize() == 0) return;
        Cuda.deviceSynchronize(); // queued kernels may still read the old contents
        Cuda.check("cudaMemcpy", cuda_runtime_h.cudaMemcpy(dst, src, byteSize(), cuda_runtime_h.cudaMemcpyHostToDevice()));
        Cuda.deviceSynchronize(); // a pageable copy may return before its DMA lands
    }

    /**
     * Queues a copy of {@code byteSize()} bytes from native host memory to the device on {@code stream}.
     * {@code src} must stay alive and unchanged until the stream has been synchronized.
     *
     * @param src    a native segment of exactly {@code byteSize()} bytes (pinned for real asynchrony)
     * @param stream the stream to queue on
     */
    public final void copyFromAsync(MemorySegment src, CudaStream stream) {
        checkHostSegment(src, "copyFromAsync");
        Objects.requireNonNull(stream, "stream");
        MemorySegment dst = address();
        MemorySegment s = stream.handle();
        if (byteSize() == 0) return;
        Cuda.check("cudaMemcpyAsync", cuda_runtime_h.cudaMemcpyAsync(dst, src, byteSize(),
                cuda_runtime_h.cudaMemcpyHostToDevice(), s));
    }

    // ---- device -> host ----

    /**
     * Copies the device data into {@code dst} after all queued device work; dtype must be FLOAT32.
     *
     * @param dst receives the floats, exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyTo(float[] dst) {
        Objects.requireNonNull(dst, "dst");
        checkHostArray(DType.FLOAT32, dst.length, "copyTo");
        copyToHeapArray(dst, ValueLayout.JAVA_FLOAT, dst.length);
    }

    /**
     * Copies the device data into {@code dst} after all queued device work; dtype must be INT32.
     *
     * @param dst receives the ints, exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyTo(int[] dst) {
        Objects.requireNonNull(dst, "dst");
        checkHostArray(DType.INT32, dst.length, "copyTo");
        copyToHeapArray(dst, ValueLayout.JAVA_INT, dst.length);
    }

    /**
     * Copies the device data into {@code dst} after all queued device work; dtype must be INT64.
     *
     * @param dst receives the longs, exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyTo(long[] dst) {
        Objects.requireNonNull(dst, "dst");
        checkHostArray(DType.INT64, dst.length, "copyTo");
        copyToHeapArray(dst, ValueLayout.JAVA_LONG, dst.length);
    }

    /**
     * Copies the device's bfloat16 bit patterns into {@code dst} after all queued device work; dtype must be BFLOAT16.
     *
     * @param dst receives raw bfloat16 bits, exactly {@code elementCount()} of them
     * @throws IllegalArgumentException when the dtype or the length does not match this array
     * @throws IllegalStateException    when the owning buffer is closed
     */
    public final void copyTo(short[] dst) {
        Objects.requireNonNull(dst, "dst");
        checkHostArray(DType.BFLOAT16, dst.length, "copyTo");
        copyToHeapArray(dst, ValueLayout.JAVA_SHORT, dst.length);
    }

    /**
     * Copies {@code byteSize()} bytes from the device into native host memory: waits for all queued device work,
     * then copies ({@code cudaMemcpy}, synchronous).
     *
     * @param dst a native, writable segment of exactly {@code byteSize()} bytes
     */
    public final void copyTo(MemorySegment dst) {
        checkHostSegment(dst, "copyTo");
        if (dst.isReadOnly()) throw new IllegalArgumentException("copyTo: destination segment is read-only");
        MemorySegment src = address();
        if (byteSize() == 0) return;
        Cuda.deviceSynchronize(); // kernels on non-blocking streams may still be writing the source
        Cuda.check("cudaMemcpy", cuda_runtime_h.cudaMemcpy(dst, src, byteSize(), cuda_runtime_h.cudaMemcpyDeviceToHost()));
    }

    /**
     * Queues a copy of {@code byteSize()} bytes from the device into native host memory on {@code stream};
     * read {@code dst} only after synchronizing the stream.
     *
     * @param dst    a native, writable segment of exactly {@code byteSize()} bytes
     * @param stream the stream to queue on
     */
    public final void copyToAsync(MemorySegment dst, CudaStream stream) {
        checkHostSegment(dst, "copyToAsync");
        if (dst.isReadOnly()) throw new IllegalArgumentException("copyToAsync: destination segment is read-only");
        Objects.requireNonNull(stream, "stream");
        MemorySegment src = address();
        MemorySegment s = stream.handle();
        if (byteSize() == 0) return;
        Cuda.check("cudaMemcpyAsync", cuda_runtime_h.cudaMemcpyAsync(dst, src, byteSize(),
                cuda_runtime_h.cudaMemcpyDeviceToHost(), s));
    }

    // ---- device -> device, fill ----

    /**
     * Queues a device-to-device copy from {@code src} (same dtype and element count) on {@code stream}.
     *
     * @param src    the source device memory
     * @param stream the stream to queue on
     */
    public final void copyFromAsync(DeviceArray src, CudaStream stream) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(stream, "stream");
        if (src.dtype != dtype) {
            throw new IllegalArgumentException("copyFromAsync: dtype mismatch, source is " + src.dtype + ", destination " + this);
        }
        if (src.elementCount != elementCount) {
            throw new IllegalArgumentException("copyFromAsync: size mismatch, source has " + src.elementCount
                    + " elements, destination " + this);
        }
        MemorySegment d = address();
        MemorySegment s = src.address();
        MemorySegment st = stream.handle();
        if (byteSize() == 0) return;
        Cuda.check("cudaMemcpyAsync", cuda_runtime_h.cudaMemcpyAsync(d, s, byteSize(),
                cuda_runtime_h.cudaMemcpyDeviceToDevice(), st));
    }

    /**
     * Queues setting every byte to zero on {@code stream} ({@code cudaMemsetAsync}).
     *
     * @param stream the stream to queue on
     */
    public final void zeroAsync(CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        MemorySegment d = address();
        MemorySegment st = stream.handle();
        if (byteSize() == 0) return;
        Cuda.check("cudaMemsetAsync", cuda_runtime_h.cudaMemsetAsync(d, 0, byteSize(), st));
    }

    /** Copies through a native staging segment into a heap array of {@code length} elements of {@code layout}. */
    private void copyToHeapArray(Object dst, ValueLayout layout, int length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment tmp = arena.allocate(layout, Math.max(1, length));
            copyTo(tmp.asSlice(0, byteSize()));
            MemorySegment.copy(tmp, layout, 0, dst, 0, length);
        }
    }

    private void checkHostArray(DType arrayType, int length, String op) {
        checkOpen();
        if (arrayType != dtype) {
            throw new IllegalArgumentException(op + ": dtype mismatch, host array holds " + arrayType + ", device memory is " + this);
        }
        if (length != elementCount) {
            throw new IllegalArgumentException(op + ": size mismatch, host array has " + length + " elements, device memory is " + this);
        }
    }

    private void checkHostSegment(MemorySegment host, String op) {
        Objects.requireNonNull(host, "host segment");
        checkOpen();
        if (!host.isNative()) {
            throw new IllegalArgumentException(op + ": host segment must be native (off-heap), got a heap segment");
        }
        if (host.byteSize() != byteSize()) {
            throw new IllegalArgumentException(op + ": size mismatch, host segment has " + host.byteSize()
                    + " bytes, device memory is " + this);
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + elementCount + " x " + dtype + ", " + byteSize() + " bytes, 0x"
                + Long.toHexString(address) + (device == ANY_DEVICE ? "" : ", device " + device)
                + (released() ? ", closed]" : "]");
    }
}
