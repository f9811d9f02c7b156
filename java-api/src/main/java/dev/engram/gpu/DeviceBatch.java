package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.cuda.DeviceScope;
import dev.engram.cuda.PinnedHostBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A {@link PackedBatch}'s descriptors in persistent device memory, as the packed entry points read them
 * ({@code engram.h}, "Packed batches"): {@code cu_seqlens} int32 {@code [S+1]}, the slots int32 {@code [S]} and
 * the start flags uint8 {@code [S]}, for up to {@code maxSequences} sequences. {@link #set} uploads a batch once;
 * every forward given this object then reads it from the device with no host work. A decode loop sets its batch
 * once and reuses it step after step:
 * <pre>{@code
 * try (DeviceBatch step = DeviceBatch.create(64)) {
 *     step.set(PackedBatch.decode(slots), stream);
 *     for (...) layer.forward(step, ids, hidden, out, state, stream); // new ids and hidden each step
 * }
 * }</pre>
 *
 * <p>Lives on the device current when it was created. The three arrays share one device buffer (one copy per
 * {@link #set}): {@code cu_seqlens} at byte 0, the slots right after it, the start flags after the slots. Not
 * thread-safe.
 */
public final class DeviceBatch implements AutoCloseable {
    private final int maxSequences;
    private final int device;
    final DeviceBuffer descriptors; // int32 words: cu [S+1], slots [S], then S start bytes (rounded up to a word)
    private final PinnedHostBuffer staging;
    private final CudaEvent uploaded;
    private boolean uploadQueued;
    private PackedBatch batch;
    private boolean allStart;
    private MemorySegment cuSeqlens, seqSlots, seqStarts;
    private boolean closed;

    private DeviceBatch(int maxSequences, int device, DeviceBuffer descriptors, PinnedHostBuffer staging,
                        CudaEvent uploaded) {
        this.maxSequences = maxSequences;
        this.device = device;
        this.descriptors = descriptors;
        this.staging = staging;
        this.uploaded = uploaded;
    }

    /**
     * Allocates the device buffer and its pinned staging for up to {@code maxSequences} sequences on the current
     * device.
     *
     * @param maxSequences the most sequences a batch set here may have, {@code >= 1}
     * @return the batch, with nothing set yet
     * @throws IllegalArgumentException when {@code maxSequences < 1} or too large for int32 descriptors
     * @throws dev.engram.cuda.CudaException when memory runs out (nothing stays allocated)
     */
    public static DeviceBatch create(int maxSequences) {
        if (maxSequences < 1 || maxSequences > (Integer.MAX_VALUE - 8) / 3) {
            throw new IllegalArgumentException("DeviceBatch: maxSequences must be in [1, " + (Integer.MAX_VALUE - 8) / 3
                    + "], got " + maxSequences);
        }
        long words = words(maxSequences);
        int device = DeviceScope.currentDevice();
        DeviceBuffer descriptors = null;
        PinnedHostBuffer staging = null;
        CudaEvent uploaded = null;
        try {
            descriptors = DeviceBuffer.allocate(words, DType.INT32);
            staging = PinnedHostBuffer.allocate(words, DType.INT32);
            uploaded = CudaEvent.createWithoutTiming();
            return new DeviceBatch(maxSequences, device, descriptors, staging, uploaded);
        } catch (RuntimeException | Error e) {
            RuntimeException late = Closeables.closeAll(null, uploaded, staging, descriptors);
            if (late != null) e.addSuppressed(late);
            throw e;
        }
    }

    /** Int32 words for {@code s} sequences: cu {@code [s+1]}, slots {@code [s]}, {@code s} start bytes rounded up. */
    private static long words(int s) {
        return 2L * s + 1 + (s + 3) / 4;
    }

    /**
     * Uploads {@code batch}'s descriptors on {@code stream}: work queued on {@code stream} afterwards sees them.
     * Writes the pinned staging, then queues one host-to-device copy and records an event after it. Before
     * writing the staging it waits (on the host) for the previous {@code set}'s copy to have read it, normally long
     * done; nothing else is waited for. The device buffer is overwritten in stream order: forwards queued earlier
     * on <em>another</em> stream that read this batch must be ordered before {@code stream} by the caller.
     *
     * @param batch  the batch, at most {@link #maxSequences()} sequences
     * @param stream the stream to queue the copy on, of this batch's device (or the legacy default stream)
     * @throws IllegalArgumentException for too many sequences or a stream of another device
     * @throws IllegalStateException    when this object or the stream is closed, or the stream is capturing a CUDA
     *                                  graph (the copy would read the staging at every replay: set the batch before
     *                                  capturing)
     */
    public void set(PackedBatch batch, CudaStream stream) {
        checkOpen();
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(stream, "stream");
        stream.handle();
        int s = batch.sequences();
        if (s > maxSequences) {
            throw new IllegalArgumentException("DeviceBatch.set: the batch has " + s + " sequences, more than this "
                    + "DeviceBatch's maxSequences " + maxSequences);
        }
        ArgumentChecks.requireDevice("DeviceBatch.set", device, "the DeviceBatch is on", stream);
        try (DeviceScope scope = DeviceScope.enter(device)) {
            if (stream.isCapturing()) {
                throw new IllegalStateException("DeviceBatch.set: " + stream + " is capturing a CUDA graph; set the "
                        + "batch before the capture (a captured copy would re-read the host staging at every replay)");
            }
            this.batch = null; // until the copy is queued
            if (uploadQueued) uploaded.synchronize(); // the previous copy may still read the staging
            MemorySegment host = staging.segment();
            long slotsAt = 4L * (s + 1), startsAt = 4L * (2L * s + 1);
            boolean all = true;
            for (int i = 0; i < s; i++) {
                host.setAtIndex(ValueLayout.JAVA_INT, i, batch.start(i));
                host.set(ValueLayout.JAVA_INT, slotsAt + 4L * i, batch.slot(i));
                host.set(ValueLayout.JAVA_BYTE, startsAt + i, (byte) (batch.starts(i) ? 1 : 0));
                all &= batch.starts(i);
            }
            host.setAtIndex(ValueLayout.JAVA_INT, s, batch.tokens());
            long words = words(s);
            for (long b = startsAt + s; b < 4 * words; b++) host.set(ValueLayout.JAVA_BYTE, b, (byte) 0);
            descriptors.slice(0, words).copyFromAsync(host.asSlice(0, 4 * words), stream);
            uploaded.record(stream);
            uploadQueued = true;
            long base = descriptors.address().address();
            cuSeqlens = MemorySegment.ofAddress(base);
            seqSlots = MemorySegment.ofAddress(base + slotsAt);
            seqStarts = MemorySegment.ofAddress(base + startsAt);
            this.allStart = all;
            this.batch = batch;
        }
    }

    /**
     * {@return the batch last {@link #set}}
     * @throws IllegalStateException when closed, or when no batch has been set (or the last {@code set} failed)
     */
    public PackedBatch batch() {
        checkOpen();
        if (batch == null) throw new IllegalStateException("DeviceBatch: no batch has been set");
        return batch;
    }

    /** {@return the most sequences a batch set here may have} */
    public int maxSequences() {
        return maxSequences;
    }

    /** {@return the device this batch's memory is on} */
    public int device() {
        return device;
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed;
    }

    /** Whether every sequence of the batch set starts (so no state is read). */
    boolean allStart() {
        batch();
        return allStart;
    }

    /** {@code d_cu_seqlens} of the batch set. */
    MemorySegment cuSeqlens() {
        batch();
        return cuSeqlens;
    }

    /** {@code d_seq_slots} of the batch set. */
    MemorySegment seqSlots() {
        batch();
        return seqSlots;
    }

    /** {@code d_seq_starts} of the batch set. */
    MemorySegment seqStarts() {
        batch();
        return seqStarts;
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("DeviceBatch is closed");
    }

    /**
     * Waits for the last upload to have read the staging, then frees the device buffer, the staging and the event.
     * Forwards still queued that read this batch must have finished (synchronize their streams first), as for any
     * device buffer. Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException failure = null;
        DeviceScope scope = null;
        try {
            scope = DeviceScope.enter(device);
            if (uploadQueued) uploaded.synchronize();
        } catch (RuntimeException e) {
            failure = e;
        }
        failure = Closeables.closeAll(failure, uploaded, staging, descriptors, scope);
        if (failure != null) throw failure;
    }

    @Override
    public String toString() {
        return "DeviceBatch[maxSequences " + maxSequences + ", device " + device
                + (closed ? ", closed]" : batch == null ? ", empty]" : ", " + batch.sequences() + " sequences, "
                + batch.tokens() + " tokens]");
    }
}
