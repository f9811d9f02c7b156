package dev.engram.bench;

/**
 * The sequence lengths of the packed-prefill benchmark: {@code count} lengths uniform in {@code [min, max]}, each
 * {@code min + (z mod (max - min + 1))} for the next output {@code z} (unsigned) of SplitMix64 seeded with {@code seed}.
 * {@code bench/baseline/torch_engram_serving.py} ({@code prefill_lengths}) draws the same lengths, so the JVM and
 * PyTorch time the same batch (512 lengths in [100, 1024] with seed 12: 283,438 tokens).
 */
final class PrefillLengths {
    private PrefillLengths() {}

    /**
     * Draws the lengths.
     *
     * @param count how many, {@code >= 0}
     * @param min   shortest, {@code >= 0}
     * @param max   longest, {@code >= min}
     * @param seed  the SplitMix64 seed
     * @return {@code count} lengths
     * @throws IllegalArgumentException for a negative count or min, or {@code max < min}
     */
    static int[] draw(int count, int min, int max, long seed) {
        if (count < 0 || min < 0 || max < min) {
            throw new IllegalArgumentException("bad prefill shape " + count + ":" + min + ":" + max);
        }
        long span = (long) max - min + 1;
        long state = seed;
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            out[i] = (int) (min + Long.remainderUnsigned(z, span));
        }
        return out;
    }
}
