package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A CUDA stream ({@code cudaStream_t}). {@link #create()} owns a non-blocking stream that
 * {@link #close()} destroys (idempotently); {@link #legacyDefault()} is the legacy default stream
 * (handle {@code NULL}), which is not owned and whose {@code close()} does nothing.
 * Use after close is an {@link IllegalStateException}. No GC-driven destruction: close it.
 */
public final class CudaStream implements AutoCloseable {
    private static final CudaStream LEGACY_DEFAULT = new CudaStream(MemorySegment.NULL, false);

    private final MemorySegment handle;
    private final boolean owned;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaStream(MemorySegment handle, boolean owned) {
        this.handle = handle;
        this.owned = owned;
    }

    /**
     * {@return a new stream on the current device, created with {@code cudaStreamNonBlocking}}
     * @throws CudaException when it cannot be created (e.g. no device)
     */
    public static CudaStream create() {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Cuda.check("cudaStreamCreateWithFlags",
                    cuda_runtime_h.cudaStreamCreateWithFlags(out, cuda_runtime_h.cudaStreamNonBlocking()));
            return new CudaStream(out.get(ValueLayout.ADDRESS, 0), true);
        }
    }

    /** {@return the legacy default stream (handle {@code NULL}); not owned, closing it does nothing; no CUDA call} */
    public static CudaStream legacyDefault() {
        return LEGACY_DEFAULT;
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

    /** {@return whether {@link #close()} has been called on this owned stream} */
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

    /** Destroys an owned stream ({@code cudaStreamDestroy}); later calls do nothing. */
    @Override
    public void close() {
        if (!owned) {
            return;
        }
        if (closed.compareAndSet(false, true)) {
            Cuda.check("cudaStreamDestroy", cuda_runtime_h.cudaStreamDestroy(handle));
        }
    }

    @Override
    public String toString() {
        return owned ? "CudaStream[0x" + Long.toHexString(handle.address()) + (closed.get() ? ", closed]" : "]")
                : "CudaStream[legacy default]";
    }
}
