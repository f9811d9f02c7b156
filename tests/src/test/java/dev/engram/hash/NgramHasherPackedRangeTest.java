package dev.engram.hash;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link NgramHasher#hashPackedRange}: any split of a packed batch's tokens into ranges, hashed into arrays longer
 * than needed (as a layer reuses them), gives exactly {@link NgramHasher#hashPacked}; entries outside the range are
 * left alone; bad arguments are rejected.
 */
class NgramHasherPackedRangeTest {
    private static final long[] MULTIPLIERS = {1_000_003L * 2 + 1, 7_777_777_777L, -3_141_592_653L | 1, 12345L};
    private static final long[] MODULI = {1009, 2003, 3001, 4001, 5003, 6007}; // maxNgram 4, 2 heads per order
    private static final int M = MULTIPLIERS.length - 1;

    @Test
    void rangesCutAnywhereIntoLongerArraysReproduceTheWholePackedHash() {
        SplittableRandom rng = new SplittableRandom(11);
        for (int trial = 0; trial < 40; trial++) {
            int sequences = rng.nextInt(6);
            int[] cu = new int[sequences + 1];
            for (int s = 0; s < sequences; s++) cu[s + 1] = cu[s] + (rng.nextInt(3) == 0 ? 0 : rng.nextInt(1, 9));
            int tokens = cu[sequences];
            long[] ids = rng.longs(tokens, -3, 50_000).toArray();
            long[] history = rng.longs((long) sequences * M, 0, 50_000).toArray();
            long[] expected = NgramHasher.hashPacked(ids, cu, history, MULTIPLIERS, MODULI, 2);
            // Reused arrays are longer than this call needs: extra ids, cu entries and history rows are ignored.
            long[] longIds = Arrays.copyOf(ids, tokens + 5);
            int[] longCu = Arrays.copyOf(cu, sequences + 4);
            long[] longHistory = Arrays.copyOf(history, history.length + 2 * M);
            long[] out = new long[expected.length + 7];
            Arrays.fill(out, Long.MIN_VALUE);
            int[] bounds = rng.ints(rng.nextInt(4), 0, tokens + 1).sorted().toArray();
            int from = 0;
            for (int i = 0; i <= bounds.length; i++) {
                int to = i < bounds.length ? bounds[i] : tokens;
                NgramHasher.hashPackedRange(longIds, longCu, sequences, longHistory, MULTIPLIERS, MODULI, 2, from, to, out);
                from = to;
            }
            String what = "cu " + Arrays.toString(cu) + " cut at " + Arrays.toString(bounds);
            assertArrayEquals(expected, Arrays.copyOf(out, expected.length), what);
            for (int i = expected.length; i < out.length; i++) {
                if (out[i] != Long.MIN_VALUE) throw new AssertionError(what + ": entry " + i + " past the tokens written");
            }
        }
    }

    @Test
    void aRangeWritesOnlyItsTokens() {
        long[] ids = {5, 6, 7, 8, 9, 10};
        int[] cu = {0, 2, 2, 6};
        long[] history = new long[3 * M];
        Arrays.fill(history, 2);
        long[] whole = NgramHasher.hashPacked(ids, cu, history, MULTIPLIERS, MODULI, 2);
        long[] out = new long[whole.length];
        Arrays.fill(out, -1);
        NgramHasher.hashPackedRange(ids, cu, 3, history, MULTIPLIERS, MODULI, 2, 1, 4, out);
        int heads = MODULI.length;
        for (int i = 0; i < out.length; i++) {
            int token = i / heads;
            if (out[i] != (token >= 1 && token < 4 ? whole[i] : -1)) throw new AssertionError("entry " + i);
        }
    }

    @Test
    void badArgumentsAreRejected() {
        long[] ids = new long[6];
        long[] history = new long[2 * M];
        long[] out = new long[6 * MODULI.length];
        int[] cu = {0, 2, 6};
        assertThrows(IllegalArgumentException.class, // more sequences than cu describes
                () -> NgramHasher.hashPackedRange(ids, cu, 3, history, MULTIPLIERS, MODULI, 2, 0, 6, out));
        assertThrows(IllegalArgumentException.class, // decreasing cu
                () -> NgramHasher.hashPackedRange(ids, new int[] {0, 4, 2}, 2, history, MULTIPLIERS, MODULI, 2, 0, 2, out));
        assertThrows(IllegalArgumentException.class, // cu[0] != 0
                () -> NgramHasher.hashPackedRange(ids, new int[] {1, 2, 6}, 2, history, MULTIPLIERS, MODULI, 2, 0, 6, out));
        assertThrows(IllegalArgumentException.class, // more tokens than ids
                () -> NgramHasher.hashPackedRange(ids, new int[] {0, 2, 7}, 2, history, MULTIPLIERS, MODULI, 2, 0, 6, out));
        assertThrows(IllegalArgumentException.class, // history too short
                () -> NgramHasher.hashPackedRange(ids, cu, 2, new long[M], MULTIPLIERS, MODULI, 2, 0, 6, out));
        assertThrows(IllegalArgumentException.class, // range past the tokens
                () -> NgramHasher.hashPackedRange(ids, cu, 2, history, MULTIPLIERS, MODULI, 2, 0, 7, out));
        assertThrows(IllegalArgumentException.class, // reversed range
                () -> NgramHasher.hashPackedRange(ids, cu, 2, history, MULTIPLIERS, MODULI, 2, 4, 3, out));
        assertThrows(IllegalArgumentException.class, // out too short
                () -> NgramHasher.hashPackedRange(ids, cu, 2, history, MULTIPLIERS, MODULI, 2, 0, 6, new long[5]));
        assertThrows(IllegalArgumentException.class, // moduli do not fit the heads
                () -> NgramHasher.hashPackedRange(ids, cu, 2, history, MULTIPLIERS, MODULI, 3, 0, 6, out));
    }
}
