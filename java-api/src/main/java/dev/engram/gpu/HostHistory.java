package dev.engram.gpu;

import dev.engram.PackedBatch;

import java.util.Arrays;

/**
 * The hash history of a {@link HostTableLayer}'s state, kept on the host: per slot the last {@code M} compressed ids
 * of its sequence, oldest first, the compressed pad id where the sequence is shorter (SEMANTICS.md §8). The layer's
 * prefetch hashes with it and advances it at once, in the order prefetches are issued. Not thread-safe.
 */
final class HostHistory {
    private final int slots;
    private final int length; // M = max_ngram_size - 1
    private final long pad;
    private final long[] rows; // [slots * M]

    HostHistory(int slots, int length, long pad) {
        this.slots = slots;
        this.length = length;
        this.pad = pad;
        this.rows = new long[Math.multiplyExact(slots, length)];
        Arrays.fill(rows, pad);
    }

    int slots() {
        return slots;
    }

    int length() {
        return length;
    }

    /**
     * Writes, per sequence {@code s} of {@code batch}, the ids before its first token into
     * {@code out[s * M .. (s + 1) * M)}: its slot's row when it continues, pad when it starts (as the packed gather
     * reads them). The batch's slots must be below {@link #slots()}.
     */
    void rowsOf(PackedBatch batch, long[] out) {
        for (int s = 0; s < batch.sequences(); s++) {
            if (batch.starts(s)) Arrays.fill(out, s * length, (s + 1) * length, pad);
            else System.arraycopy(rows, batch.slot(s) * length, out, s * length, length);
        }
    }

    /**
     * Advances every slot of {@code batch} past its chunk, as {@code engram_state_commit} does on the device: entry
     * {@code j} becomes the compressed id at position {@code p = len - M + j} of the chunk when {@code p >= 0}, else
     * the old entry {@code M + p} (continuing) or pad (starting). In place, increasing {@code j}: entry
     * {@code j + len} is read before it is written.
     *
     * @param compressed the chunk's compressed ids, {@code [>= batch.tokens()]}
     */
    void advance(PackedBatch batch, long[] compressed) {
        for (int s = 0; s < batch.sequences(); s++) {
            int base = batch.slot(s) * length, first = batch.start(s), len = batch.length(s);
            boolean starts = batch.starts(s);
            for (int j = 0; j < length; j++) {
                int p = len - length + j;
                rows[base + j] = p >= 0 ? compressed[first + p] : starts ? pad : rows[base + j + len];
            }
        }
    }

    void reset(int slot) {
        Arrays.fill(rows, slot * length, (slot + 1) * length, pad);
    }

    void copy(int from, int to) {
        System.arraycopy(rows, from * length, rows, to * length, length);
    }

    long[] row(int slot) {
        return Arrays.copyOfRange(rows, slot * length, (slot + 1) * length);
    }
}
