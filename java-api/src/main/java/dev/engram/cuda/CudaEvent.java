package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An owned CUDA event ({@code cudaEvent_t}); {@link #close()} destroys it (idempotently). Use after
 * close is an {@link IllegalStateException}.
 */
public final class CudaEvent implements AutoCloseable {
    private final MemorySegment handle;
    private final boolean timing;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaEvent(MemorySegment handle, boolean timing) {
        this.handle = handle;
        this.timing = timing;
    }

    /** {@return a new event that records timing ({@code cudaEventDefault}), usable with {@link #elapsedMillis}} */
    public static CudaEvent create() {
        return create(true);
    }

    /** {@return a new event without timing ({@code cudaEventDisableTiming}), cheaper for pure synchronization} */
    public static CudaEvent createWithoutTiming() {
        return create(false);
    }

    private static CudaEvent create(boolean timing) {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int flags = timing ? cuda_runtime_h.cudaEventDefault() : cuda_runtime_h.cudaEventDisableTiming();
            Cuda.check("cudaEventCreateWithFlags", cuda_runtime_h.cudaEventCreateWithFlags(out, flags));
            return new CudaEvent(out.get(ValueLayout.ADDRESS, 0), timing);
        }
    }

    /**
     * {@return the {@code cudaEvent_t} (a zero-length segment, not dereferenceable)}
     * @throws IllegalStateException after {@link #close()}
     */
    public MemorySegment handle() {
        if (closed.get()) {
            throw new IllegalStateException(this + " is closed");
        }
        return handle;
    }

    /** {@return whether this event records timing} */
    public boolean timing() {
        return timing;
    }

    /**
     * Records this event on {@code stream} ({@code cudaEventRecord}).
     *
     * @param stream the stream whose current work the event marks
     */
    public void record(CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        MemorySegment h = handle();
        Cuda.check("cudaEventRecord", cuda_runtime_h.cudaEventRecord(h, stream.handle()));
    }

    /** Blocks until the work this event marks has completed ({@code cudaEventSynchronize}). */
    public void synchronize() {
        MemorySegment h = handle();
        Cuda.check("cudaEventSynchronize", cuda_runtime_h.cudaEventSynchronize(h));
    }

    /**
     * {@return milliseconds between two recorded, completed timing events ({@code cudaEventElapsedTime})}
     * @param start the earlier event
     * @param end   the later event
     * @throws IllegalArgumentException when either event was created without timing
     */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        Objects.requireNonNull(start, "start");
        Objects.requireNonNull(end, "end");
        if (!start.timing || !end.timing) {
            throw new IllegalArgumentException("elapsedMillis needs timing events; "
                    + (start.timing ? end : start) + " was created without timing");
        }
        MemorySegment s = start.handle();
        MemorySegment e = end.handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT);
            Cuda.check("cudaEventElapsedTime", cuda_runtime_h.cudaEventElapsedTime(out, s, e));
            return out.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    /** Destroys the event ({@code cudaEventDestroy}); later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            Cuda.check("cudaEventDestroy", cuda_runtime_h.cudaEventDestroy(handle));
        }
    }

    @Override
    public String toString() {
        return "CudaEvent[0x" + Long.toHexString(handle.address()) + (closed.get() ? ", closed]" : "]");
    }
}
