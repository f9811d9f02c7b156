package dev.engram.cli;

import dev.engram.PackedBatch;

/**
 * Runs a rectangular {@code [B, T]} forward as packed calls: every row is fed in consecutive chunks of the
 * {@link ChunkSizes}, the rows' current chunks packed into one call per step (row {@code b} in slot {@code b},
 * starting on the first chunk, continuing after), and the outputs put back in {@code [B, T, G, H]} order. The
 * device is a {@link PackedStep}, which owns the state it carries from call to call.
 */
final class ChunkedForward {
    private ChunkedForward() {}

    /** One packed call on some device, its state carried to the next call. */
    @FunctionalInterface
    interface PackedStep {
        /**
         * Runs the layer on a packed batch.
         *
         * @param batch  the rows' current chunks
         * @param ids    {@code [N]} raw ids, packed
         * @param hidden {@code [N, G, H]} hidden states, packed
         * @return {@code [N, G, H]} outputs, packed
         */
        double[] forward(PackedBatch batch, long[] ids, double[] hidden);
    }

    /**
     * The output {@code [B, T, G, H]} of {@code step} run chunk by chunk.
     *
     * @param ids    {@code [B, T]} raw ids
     * @param hidden {@code [B, T, G, H]}
     * @param gh     {@code G * H}
     */
    static double[] run(long[] ids, double[] hidden, int batch, int seqLen, int gh, ChunkSizes chunks, PackedStep step) {
        double[] out = new double[hidden.length];
        int[] slots = new int[batch];
        for (int b = 0; b < batch; b++) slots[b] = b;
        int pos = 0;
        for (int s = 0; pos < seqLen; s++) { // ChunkSizes has a size > 0, so pos reaches seqLen
            int len = Math.min(chunks.size(s), seqLen - pos);
            int[] lengths = new int[batch];
            boolean[] starts = new boolean[batch];
            java.util.Arrays.fill(lengths, len);
            java.util.Arrays.fill(starts, s == 0);
            PackedBatch packed = PackedBatch.ofLengths(lengths, slots, starts);
            long[] chunkIds = new long[batch * len];
            double[] chunkHidden = new double[batch * len * gh];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(ids, b * seqLen + pos, chunkIds, b * len, len);
                System.arraycopy(hidden, (b * seqLen + pos) * gh, chunkHidden, b * len * gh, len * gh);
            }
            double[] y = step.forward(packed, chunkIds, chunkHidden);
            for (int b = 0; b < batch; b++) {
                System.arraycopy(y, b * len * gh, out, (b * seqLen + pos) * gh, len * gh);
            }
            pos += len;
        }
        return out;
    }
}
