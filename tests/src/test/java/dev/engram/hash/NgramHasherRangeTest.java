package dev.engram.hash;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link NgramHasher#hashRange}: any split of the tokens into ranges gives exactly {@link NgramHasher#hash}. */
class NgramHasherRangeTest {
    private static final long[] MULTIPLIERS = {1_000_003L * 2 + 1, 7_777_777_777L, -3_141_592_653L | 1, 12345L};
    private static final long[] MODULI = {1009, 2003, 3001, 4001, 5003, 6007}; // maxNgram 4, 2 heads per order
    private static final long PAD = 2;

    @Test
    void rangesCutAnywhereReproduceTheWholeHash() {
        SplittableRandom rng = new SplittableRandom(7);
        for (int[] shape : new int[][] {{1, 1}, {1, 2}, {3, 5}, {4, 37}, {2, 300}}) {
            int batch = shape[0], seqLen = shape[1], n = batch * seqLen;
            long[] ids = rng.longs(n, -3, 50_000).toArray(); // negatives pass through the hash too
            long[] expected = NgramHasher.hash(ids, batch, seqLen, PAD, MULTIPLIERS, MODULI, 2);
            for (int cuts = 1; cuts <= Math.min(n, 7); cuts++) {
                long[] out = new long[expected.length];
                Arrays.fill(out, Long.MIN_VALUE); // unwritten entries show
                int[] bounds = rng.ints(cuts - 1, 0, n + 1).sorted().toArray();
                int from = 0;
                for (int i = 0; i <= bounds.length; i++) {
                    int to = i < bounds.length ? bounds[i] : n;
                    NgramHasher.hashRange(ids, seqLen, PAD, MULTIPLIERS, MODULI, 2, from, to, out);
                    from = to;
                }
                assertArrayEquals(expected, out, "B=" + batch + " T=" + seqLen + " cut at " + Arrays.toString(bounds));
            }
        }
    }

    @Test
    void aRangeWritesOnlyItsTokens() {
        long[] ids = {5, 6, 7, 8, 9, 10};
        long[] out = new long[ids.length * MODULI.length];
        Arrays.fill(out, -1);
        NgramHasher.hashRange(ids, 3, PAD, MULTIPLIERS, MODULI, 2, 2, 4, out);
        long[] whole = NgramHasher.hash(ids, 2, 3, PAD, MULTIPLIERS, MODULI, 2);
        int heads = MODULI.length;
        for (int i = 0; i < out.length; i++) {
            int token = i / heads;
            assertEquals(token >= 2 && token < 4 ? whole[i] : -1, out[i], "entry " + i);
        }
    }

    @Test
    void badRangesAndShapesAreRejected() {
        long[] ids = new long[6];
        long[] out = new long[6 * MODULI.length];
        assertThrows(IllegalArgumentException.class, () -> NgramHasher.hashRange(ids, 4, PAD, MULTIPLIERS, MODULI, 2, 0, 6, out));
        assertThrows(IllegalArgumentException.class, () -> NgramHasher.hashRange(ids, 0, PAD, MULTIPLIERS, MODULI, 2, 0, 0, out));
        assertThrows(IllegalArgumentException.class, () -> NgramHasher.hashRange(ids, 3, PAD, MULTIPLIERS, MODULI, 2, 4, 3, out));
        assertThrows(IllegalArgumentException.class, () -> NgramHasher.hashRange(ids, 3, PAD, MULTIPLIERS, MODULI, 2, 0, 7, out));
        assertThrows(IllegalArgumentException.class,
                () -> NgramHasher.hashRange(ids, 3, PAD, MULTIPLIERS, MODULI, 2, 0, 6, new long[out.length - 1]));
        assertThrows(IllegalArgumentException.class, () -> NgramHasher.hashRange(ids, 3, PAD, MULTIPLIERS, MODULI, 3, 0, 6, out));
    }
}
