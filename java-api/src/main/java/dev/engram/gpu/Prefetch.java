package dev.engram.gpu;

import dev.engram.cuda.CudaEvent;

/**
 * A layer's rows on their way to the GPU, returned by {@link HostTableLayer#prefetch} and consumed once by
 * {@link HostTableLayer#forward(Prefetch, dev.engram.cuda.DeviceArray, dev.engram.cuda.DeviceArray,
 * dev.engram.cuda.CudaStream)}. A handle becomes stale when its staging slot is reused by a later prefetch
 * before it was consumed (a layer double-buffers: two prefetches may be outstanding).
 */
public final class Prefetch {
    final HostTableLayer owner;
    final int slot;
    final long generation;
    final int batch;
    final int seqLen;
    final CudaEvent ready;
    private boolean consumed;

    Prefetch(HostTableLayer owner, int slot, long generation, int batch, int seqLen, CudaEvent ready) {
        this.owner = owner;
        this.slot = slot;
        this.generation = generation;
        this.batch = batch;
        this.seqLen = seqLen;
        this.ready = ready;
    }

    /** {@return the event that completes when the rows are in device memory (owned by the layer; do not close)} */
    public CudaEvent ready() {
        return ready;
    }

    /** {@return batch rows of the prefetched ids} */
    public int batch() {
        return batch;
    }

    /** {@return tokens per row of the prefetched ids} */
    public int seqLen() {
        return seqLen;
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
        return "Prefetch[layer " + owner.layerId() + ", slot " + slot + ", B=" + batch + " T=" + seqLen
                + (consumed ? ", consumed]" : "]");
    }
}
