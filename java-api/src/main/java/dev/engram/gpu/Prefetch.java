package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.cuda.CudaEvent;

/**
 * A layer's rows on their way to the GPU, returned by {@link HostTableLayer#prefetch} and consumed once by
 * {@link HostTableLayer#forward(Prefetch, dev.engram.cuda.DeviceArray, dev.engram.cuda.DeviceArray,
 * dev.engram.cuda.CudaStream) forward} (rectangular) or {@link HostTableLayer#forward(Prefetch,
 * dev.engram.cuda.DeviceArray, dev.engram.cuda.DeviceArray, EngramState, dev.engram.cuda.CudaStream) forward with
 * a state} (packed). A rectangular handle becomes stale when its staging slot is reused by a later prefetch before it
 * was consumed (a layer double-buffers: two prefetches may be outstanding); a packed one is never dropped that way
 * (the prefetch that would reuse its slot throws), because its state's history has already moved past it.
 */
public final class Prefetch {
    final HostTableLayer owner;
    final int slot;
    final long generation;
    final int batch;
    final int seqLen;
    final CudaEvent ready;
    final PackedBatch packed;   // null for a rectangular prefetch
    final EngramState state;    // the state whose history this packed prefetch advanced, or null
    final long ticket;          // its place among the state's prefetches (forwards run in that order)
    final HostGatherPath path;  // the path its rows took: CPU or ZERO_COPY
    private boolean consumed;

    Prefetch(HostTableLayer owner, int slot, long generation, int batch, int seqLen, CudaEvent ready, PackedBatch packed,
             EngramState state, long ticket, HostGatherPath path) {
        this.owner = owner;
        this.slot = slot;
        this.generation = generation;
        this.batch = batch;
        this.seqLen = seqLen;
        this.ready = ready;
        this.packed = packed;
        this.state = state;
        this.ticket = ticket;
        this.path = path;
    }

    /** {@return the event that completes when the rows are in device memory (owned by the layer; do not close)} */
    public CudaEvent ready() {
        return ready;
    }

    /** {@return batch rows of the prefetched ids (1 for a packed batch, whose tokens are one row)} */
    public int batch() {
        return batch;
    }

    /** {@return tokens per row of the prefetched ids (a packed batch's {@code tokens()})} */
    public int seqLen() {
        return seqLen;
    }

    /** {@return the packed batch prefetched, or {@code null} for a rectangular prefetch} */
    public PackedBatch packedBatch() {
        return packed;
    }

    /** {@return the path the rows took: {@link HostGatherPath#CPU} or {@link HostGatherPath#ZERO_COPY}} */
    public HostGatherPath path() {
        return path;
    }

    /** {@return whether a forward has consumed this handle} */
    public boolean isConsumed() {
        return consumed;
    }

    void markConsumed() {
        consumed = true;
    }

    @Override
    public String toString() {
        String shape = packed == null ? "B=" + batch + " T=" + seqLen
                : packed.sequences() + " sequences, " + packed.tokens() + " tokens";
        return "Prefetch[layer " + owner.layerId() + ", slot " + slot + ", " + shape + ", " + path
                + (consumed ? ", consumed]" : "]");
    }
}
