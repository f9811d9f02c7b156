package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A CUDA event ({@code cudaEvent_t}): owned when made by {@link #create()} ({@link #close()} destroys it,
 * idempotently), or a non-owning view of another stack's event ({@link #wrap(MemorySegment)}; closing the view
 * never destroys the event). Use after close is an {@link IllegalStateException}.
 */
public final class CudaEvent implements AutoCloseable {
    private final MemorySegment handle;
    private final boolean timing;
    private final boolean owned;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaEvent(MemorySegment handle, boolean timing, boolean owned) {
        this.handle = handle;
        this.timing = timing;
        this.owned = owned;
    }

    /**
     * A non-owning view of an event another stack created, e.g. to make this library's stream wait for the
     * other stack's work ({@link CudaStream#waitEvent}) or to signal it. Whether it records timing is not known
     * here: {@link #elapsedMillis} lets CUDA decide.
     *
     * @param handle the {@code cudaEvent_t}, not {@code NULL}
     * @return the view
     * @throws IllegalArgumentException for a {@code NULL} handle
     */
    public static CudaEvent wrap(MemorySegment handle) {
        Objects.requireNonNull(handle, "handle");
        if (handle.address() == 0) throw new IllegalArgumentException("CudaEvent.wrap: NULL handle");
        Cuda.ensureLoaded();
        return new CudaEvent(MemorySegment.ofAddress(handle.address()), true, false);
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
            return new CudaEvent(out.get(ValueLayout.ADDRESS, 0), timing, true);
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

    /** {@return whether this event records timing (assumed for a wrapped event)} */
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

    /** Destroys an owned event ({@code cudaEventDestroy}) or marks a view closed; later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && owned) {
            Cuda.check("cudaEventDestroy", cuda_runtime_h.cudaEventDestroy(handle));
        }
    }

    @Override
    public String toString() {
        return "CudaEvent[0x" + Long.toHexString(handle.address()) + (owned ? "" : ", wrapped")
                + (closed.get() ? ", closed]" : "]");
    }
}
