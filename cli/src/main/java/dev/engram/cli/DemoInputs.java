package dev.engram.cli;

import java.util.SplittableRandom;

/**
 * Random inputs for the demo: compressed token ids uniform in {@code [0, V')}, each row starting with
 * 0 to 3 pad tokens (as left-padded batches do), and standard-normal hidden states.
 *
 * @param ids    {@code [B, T]} compressed ids
 * @param hidden {@code [B, T, G, H]} hidden states
 */
record DemoInputs(long[] ids, double[] hidden) {

    static DemoInputs random(int batch, int seqLen, int branches, int hiddenSize, long vocab, long padId, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        long[] ids = new long[batch * seqLen];
        for (int b = 0; b < batch; b++) {
            int pads = Math.min(seqLen, rng.nextInt(4));
            for (int t = 0; t < seqLen; t++) ids[b * seqLen + t] = t < pads ? padId : rng.nextLong(vocab);
        }
        double[] hidden = new double[Math.multiplyExact(ids.length, branches * hiddenSize)];
        for (int i = 0; i < hidden.length; i++) hidden[i] = rng.nextGaussian();
        return new DemoInputs(ids, hidden);
    }
}
