package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A CUDA stream ({@code cudaStream_t}) and the device it belongs to. {@link #create()} owns a non-blocking stream
 * that {@link #close()} destroys (idempotently); {@link #wrap(MemorySegment)} views a stream another stack
 * created (closing the view never destroys it); {@link #legacyDefault()} is the legacy default stream (handle
 * {@code NULL}, the current device's), not owned either. Use after close is an {@link IllegalStateException}.
 * No GC-driven destruction: close what you create.
 */
public final class CudaStream implements AutoCloseable {
    /** {@link #device()} of the legacy default stream: whichever device is current when it is used. */
    public static final int CURRENT_DEVICE = -1;
    private static final CudaStream LEGACY_DEFAULT = new CudaStream(MemorySegment.NULL, false, CURRENT_DEVICE);

    /** One int of native memory per thread for cudaStreamIsCapturing's result: no allocation per call. */
    private static final ThreadLocal<MemorySegment> CAPTURE_STATUS_OUT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(ValueLayout.JAVA_INT));

    private final MemorySegment handle;
    private final boolean owned;
    private final int device;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaStream(MemorySegment handle, boolean owned, int device) {
        this.handle = handle;
        this.owned = owned;
        this.device = device;
    }

    /**
     * {@return a new stream on the current device, created with {@code cudaStreamNonBlocking}}
     * @throws CudaException when it cannot be created (e.g. no device)
     */
    public static CudaStream create() {
        Cuda.ensureLoaded();
        int device = DeviceScope.currentDevice();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Cuda.check("cudaStreamCreateWithFlags",
                    cuda_runtime_h.cudaStreamCreateWithFlags(out, cuda_runtime_h.cudaStreamNonBlocking()));
            return new CudaStream(out.get(ValueLayout.ADDRESS, 0), true, device);
        }
    }

    /**
     * A non-owning view of a stream another stack created, for queueing this library's work on it with no
     * synchronization in between. Its device comes from {@code cudaStreamGetDevice}. {@link #close()} marks the
     * view closed and never destroys the stream.
     *
     * @param handle the {@code cudaStream_t}; {@code NULL} is the legacy default stream ({@link #legacyDefault()})
     * @return the view
     * @throws IllegalArgumentException when CUDA rejects the handle
     * @throws CudaException            when the runtime cannot be asked (e.g. no driver)
     */
    public static CudaStream wrap(MemorySegment handle) {
        Objects.requireNonNull(handle, "handle");
        if (handle.address() == 0) return LEGACY_DEFAULT;
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment h = MemorySegment.ofAddress(handle.address());
            int code = cuda_runtime_h.cudaStreamGetDevice(h, out);
            if (code == cuda_runtime_h.cudaErrorInvalidValue() || code == CudaError.INVALID_RESOURCE_HANDLE.number()
                    || code == CudaError.CONTEXT_IS_DESTROYED.number()) {
                cuda_runtime_h.cudaGetLastError(); // reported here; do not leave it for the next launch
                throw new IllegalArgumentException("CudaStream.wrap: 0x" + Long.toHexString(handle.address())
                        + " is not a stream CUDA knows (cudaStreamGetDevice: " + Cuda.errorName(code) + ")");
            }
            Cuda.check("cudaStreamGetDevice", code);
            return new CudaStream(h, false, out.get(ValueLayout.JAVA_INT, 0));
        }
    }

    /** {@return the legacy default stream (handle {@code NULL}); not owned, closing it does nothing; no CUDA call} */
    public static CudaStream legacyDefault() {
        return LEGACY_DEFAULT;
    }

    /**
     * {@return the device this stream belongs to, or {@link #CURRENT_DEVICE} for the legacy default stream}
     */
    public int device() {
        return device;
    }

    /** {@return whether this object owns the stream (made by {@link #create()}), so that closing it destroys it} */
    public boolean owned() {
        return owned;
    }

    /**
     * {@return the {@code cudaStream_t} to pass to native calls (a zero-length segment, not dereferenceable)}
     * @throws IllegalStateException after {@link #close()}
     */
    public MemorySegment handle() {
        if (closed.get()) {
            throw new IllegalStateException(this + " is closed");
        }
        return handle;
    }

    /** {@return whether {@link #close()} has been called on this stream or view} */
    public boolean isClosed() {
        return closed.get();
    }

    /** Blocks until all work queued on this stream has finished ({@code cudaStreamSynchronize}). */
    public void synchronize() {
        MemorySegment h = handle();
        Cuda.ensureLoaded();
        Cuda.check("cudaStreamSynchronize", cuda_runtime_h.cudaStreamSynchronize(h));
    }

    /**
     * {@return whether this stream is being captured into a CUDA graph ({@code cudaStreamIsCapturing}: status active
     * or invalidated)} Work queued on a capturing stream is recorded, not run: code that would wait for or record an
     * event made outside the capture (which capture rejects) asks this first. One runtime call, no allocation.
     *
     * @throws IllegalStateException after {@link #close()}
     * @throws CudaException         when the runtime reports an error (e.g. the legacy default stream while another
     *                               stream captures in global mode)
     */
    public boolean isCapturing() {
        MemorySegment h = handle();
        Cuda.ensureLoaded();
        MemorySegment status = CAPTURE_STATUS_OUT.get();
        Cuda.check("cudaStreamIsCapturing", cuda_runtime_h.cudaStreamIsCapturing(h, status));
        return status.get(ValueLayout.JAVA_INT, 0) != cuda_runtime_h.cudaStreamCaptureStatusNone();
    }

    /**
     * Makes work queued later on this stream wait until {@code event} completes ({@code cudaStreamWaitEvent}).
     *
     * @param event a recorded event
     */
    public void waitEvent(CudaEvent event) {
        Objects.requireNonNull(event, "event");
        MemorySegment h = handle();
        MemorySegment e = event.handle();
        Cuda.check("cudaStreamWaitEvent", cuda_runtime_h.cudaStreamWaitEvent(h, e, 0));
    }

    /**
     * Destroys an owned stream ({@code cudaStreamDestroy}) or marks a wrapped view closed (the stream stays);
     * later calls do nothing. The legacy default stream is never closed.
     */
    @Override
    public void close() {
        if (this == LEGACY_DEFAULT || !closed.compareAndSet(false, true) || !owned) {
            return;
        }
        try (DeviceScope scope = DeviceScope.enter(device)) {
            Cuda.check("cudaStreamDestroy", cuda_runtime_h.cudaStreamDestroy(handle));
        }
    }

    @Override
    public String toString() {
        if (this == LEGACY_DEFAULT) return "CudaStream[legacy default]";
        return "CudaStream[0x" + Long.toHexString(handle.address()) + ", device " + device + (owned ? "" : ", wrapped")
                + (closed.get() ? ", closed]" : "]");
    }
}
