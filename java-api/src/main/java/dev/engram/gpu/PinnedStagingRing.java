package dev.engram.gpu;

import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.PinnedHostBuffer;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Host-to-device copies through a ring of pinned staging buffers, each filled by several threads at once.
 *
 * <p>Why: a {@code cudaMemcpyAsync} from pageable memory runs at the rate one thread brings the source in. For a
 * table mapped from a checkpoint that was 7.5 GB/s on the H200 machine (the rate of one thread faulting the mapped
 * page cache in), against 55 GB/s from pinned memory (bench/RESULTS.md, run 4). Here several threads fault and
 * copy (or convert) one chunk into a pinned slot while the previous chunk's DMA runs; a slot is refilled only once
 * the event recorded after its copy has completed (a wait on that event, never on the device).
 *
 * <p>Owns its pinned slots, their events and its fill threads; {@link #close()} waits for the copies still reading a
 * slot, then frees everything.
 */
final class PinnedStagingRing implements AutoCloseable {
    /** Pinned slots: one being filled, one or two being copied. */
    static final int SLOTS = 3;

    /** Fills {@code into} (the slot's first {@code n} destination elements) with elements {@code [first, first + n)}. */
    @FunctionalInterface
    interface Fill {
        void into(MemorySegment into, long first, long n);
    }

    private final CudaStream stream;
    private final long slotBytes;
    private final int threads;
    private final PinnedHostBuffer[] slots = new PinnedHostBuffer[SLOTS];
    private final CudaEvent[] copied = new CudaEvent[SLOTS];
    private final boolean[] inFlight = new boolean[SLOTS];
    private ExecutorService fillers;
    private int next;

    /**
     * @param stream    the stream the copies are queued on
     * @param slotBytes bytes per pinned slot (one chunk)
     * @param threads   threads filling one chunk, {@code >= 1}
     */
    PinnedStagingRing(CudaStream stream, long slotBytes, int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.stream = stream;
        this.slotBytes = slotBytes;
        this.threads = threads;
    }

    /**
     * Queues {@code elements} destination elements into {@code dst} from its element {@code dstFirst} on, chunk by
     * chunk, each chunk's content made by {@code fill} (split across the fill threads when {@code parallel}).
     *
     * @param parallel whether {@code fill} may run on other threads (not when it reads a confined segment)
     * @param progress called with the elements done so far after each chunk is queued
     */
    void copy(DeviceArray dst, long dstFirst, long elements, Fill fill, boolean parallel,
              java.util.function.LongConsumer progress) {
        int size = dst.dtype().byteSize();
        long perChunk = slotBytes / size;
        for (long done = 0; done < elements; done += perChunk) {
            long n = Math.min(perChunk, elements - done);
            int slot = acquire();
            MemorySegment staging = slots[slot].segment().asSlice(0, n * size);
            if (parallel) fillInParallel(staging, size, done, n, fill);
            else fill.into(staging, done, n);
            dst.slice(dstFirst + done, n).copyFromAsync(staging, stream);
            copied[slot].record(stream);
            inFlight[slot] = true;
            progress.accept(done + n);
        }
    }

    /** {@return the next slot, its previous copy finished} (allocating it on first use) */
    private int acquire() {
        int slot = next;
        next = (next + 1) % SLOTS;
        if (slots[slot] == null) {
            slots[slot] = PinnedHostBuffer.allocate(slotBytes);
            copied[slot] = CudaEvent.createWithoutTiming();
        } else if (inFlight[slot]) {
            copied[slot].synchronize();
            inFlight[slot] = false;
        }
        return slot;
    }

    private void fillInParallel(MemorySegment staging, int size, long first, long n, Fill fill) {
        int parts = (int) Math.min(threads, Math.max(1, n * size / (1L << 20))); // at least 1 MiB a part
        if (parts == 1) {
            fill.into(staging, first, n);
            return;
        }
        if (fillers == null) fillers = Executors.newFixedThreadPool(threads, r -> Thread.ofPlatform().daemon()
                .name("engram-upload-fill").unstarted(r));
        List<Future<?>> running = new ArrayList<>(parts);
        for (int p = 0; p < parts; p++) {
            long from = n * p / parts, to = n * (p + 1) / parts;
            MemorySegment part = staging.asSlice(from * size, (to - from) * size);
            running.add(fillers.submit(() -> fill.into(part, first + from, to - from)));
        }
        RuntimeException failure = null;
        for (Future<?> f : running) { // wait for every part, even after a failure: they write the slot
            try {
                f.get();
            } catch (ExecutionException e) {
                RuntimeException cause = e.getCause() instanceof RuntimeException r ? r
                        : new IllegalStateException("filling the upload's staging buffer failed", e.getCause());
                if (failure == null) failure = cause;
                else failure.addSuppressed(cause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = new IllegalStateException("interrupted while filling the upload's staging buffer", e);
            }
        }
        if (failure != null) throw failure;
    }

    /** Waits for the copies still reading a slot, then frees the slots, their events and the fill threads. */
    @Override
    public void close() {
        if (fillers != null) fillers.shutdownNow();
        RuntimeException failure = null;
        for (int i = 0; i < SLOTS; i++) {
            if (slots[i] == null) continue;
            try {
                if (inFlight[i]) copied[i].synchronize(); // the DMA still reads this slot
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
                continue; // a slot whose copy may still run is leaked rather than freed under it
            }
            copied[i].close();
            slots[i].close();
        }
        if (failure != null) throw failure;
    }
}
