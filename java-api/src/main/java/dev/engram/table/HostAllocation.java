package dev.engram.table;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One block of host memory handed out by a {@link HostMemory}: a native segment and the action that
 * gives it back. Closing runs that action once; later calls do nothing.
 *
 * <p>Contract for {@link HostMemory} implementations: the release action must first make the segment
 * inaccessible (close the {@link java.lang.foreign.Arena} it is scoped to, so a stale reference throws
 * {@link IllegalStateException} instead of touching freed memory), then free or unregister the memory.
 */
public final class HostAllocation implements AutoCloseable {
    private final MemorySegment segment;
    private final Runnable release;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Wraps an allocation.
     *
     * @param segment the memory; must be a native (off-heap) segment
     * @param release invalidates {@code segment}, then frees the memory; run once, by {@link #close()}
     * @throws IllegalArgumentException for a heap segment
     */
    public HostAllocation(MemorySegment segment, Runnable release) {
        Objects.requireNonNull(segment, "segment");
        Objects.requireNonNull(release, "release");
        if (!segment.isNative()) {
            throw new IllegalArgumentException("host allocation must be a native segment, got a heap segment " + segment);
        }
        this.segment = segment;
        this.release = release;
    }

    /** {@return the memory; unusable after {@link #close()}} */
    public MemorySegment segment() {
        return segment;
    }

    /** {@return whether {@link #close()} has run} */
    public boolean isClosed() {
        return closed.get();
    }

    /** Runs the release action the first time; later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            release.run();
        }
    }
}
