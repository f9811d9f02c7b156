package dev.engram.nativelib;

import dev.engram.hash.NgramHasher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The C hash ({@code engram_ngram_hash_host}, the CUDA kernels' arithmetic) equals the Java hash
 * ({@link NgramHasher#hash}) bit for bit, on random shapes and values with fixed, printed seeds.
 */
class NativeHashMatchesJavaTest {

    /** Fixed seeds; each names one random case (shape, ids, multipliers, moduli). */
    static LongStream seeds() {
        return LongStream.rangeClosed(1, 60).map(i -> 0x5EED_0000L + i);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void randomCaseMatches(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int batch = 1 + rnd.nextInt(4);
        int seqLen = rnd.nextInt(5) == 0 ? 1 : 1 + rnd.nextInt(48); // T = 1 often, with B > 1 sometimes
        int maxNgram = 2 + rnd.nextInt(4);                           // 2..5
        int heads = 1 + rnd.nextInt(8);                              // 1..8
        long vocab = 1 + rnd.nextLong(1_000_000);
        long[] ids = ids(rnd, batch * seqLen, vocab);
        long padId = rnd.nextInt(4) == 0 ? -1 - rnd.nextLong(1000) : rnd.nextLong(vocab);
        long[] multipliers = multipliers(rnd, maxNgram, vocab);
        long[] moduli = moduli(rnd, (maxNgram - 1) * heads);
        System.out.printf("[hash] seed=%d B=%d T=%d N=%d K=%d V=%d pad=%d%n", seed, batch, seqLen, maxNgram, heads, vocab, padId);
        assertSameHash(ids, batch, seqLen, padId, multipliers, moduli, heads);
    }

    @Test
    void singleTokenSequencesInABatch() {
        long seed = 0xB0A7L;
        SplittableRandom rnd = new SplittableRandom(seed);
        System.out.println("[hash] seed=" + seed + " B=7 T=1");
        long[] ids = ids(rnd, 7, 646_400);
        assertSameHash(ids, 7, 1, 2, multipliers(rnd, 3, 646_400), moduli(rnd, 2 * 8), 8);
    }

    @Test
    void extremeIdsAndMultipliersWrapAround() {
        long[] ids = {Long.MIN_VALUE, Long.MAX_VALUE, -1, 0, 1, Long.MIN_VALUE + 1, -646_400, 646_399,
                      Long.MAX_VALUE, Long.MIN_VALUE, 3, -2};
        long[] multipliers = {Long.MAX_VALUE, Long.MIN_VALUE + 1, 0x7FFF_FFFF_FFFF_FFFDL, -3, 0xDEAD_BEEF_CAFE_F00DL};
        long[] moduli = {1, 2, 3, Long.MAX_VALUE, 646_403, 646_411, 1_000_000_007L, 4_294_967_296L};
        // N = 5, K = 2: 4 orders * 2 heads = 8 moduli; B = 3, T = 4.
        assertSameHash(ids, 3, 4, Long.MIN_VALUE, multipliers, moduli, 2);
        long[] out = EngramNative.ngramHashHost(ids, 3, 4, Long.MIN_VALUE, multipliers, moduli, 2);
        for (int i = 0; i < out.length; i++) {
            long p = moduli[i % moduli.length];
            int at = i;
            assertTrue(out[i] >= 0 && out[i] < p, () -> "hash id " + out[at] + " at " + at + " outside [0, " + p + ")");
        }
    }

    @Test
    void emptyBatchesGiveEmptyOutput() {
        long[] mult = {3, 5, 7};
        long[] mod = {11, 13, 17, 19};
        assertEquals(0, EngramNative.ngramHashHost(new long[0], 0, 5, 0, mult, mod, 2).length);
        assertEquals(0, EngramNative.ngramHashHost(new long[0], 4, 0, 0, mult, mod, 2).length);
        assertSameHash(new long[0], 0, 0, 0, mult, mod, 2);
    }

    private static void assertSameHash(long[] ids, int batch, int seqLen, long padId, long[] multipliers,
                                       long[] moduli, int heads) {
        long[] java = NgramHasher.hash(ids, batch, seqLen, padId, multipliers, moduli, heads);
        long[] c = EngramNative.ngramHashHost(ids, batch, seqLen, padId, multipliers, moduli, heads);
        assertEquals(java.length, c.length, "output length");
        for (int i = 0; i < java.length; i++) {
            if (java[i] != c[i]) {
                int perPosition = moduli.length;
                int position = i / perPosition;
                int head = i % perPosition;
                throw new AssertionError("first mismatch at flat index " + i + " (b=" + position / Math.max(seqLen, 1)
                        + ", t=" + position % Math.max(seqLen, 1) + ", head=" + head + ", p=" + moduli[head]
                        + "): java=" + java[i] + " c=" + c[i] + "; multipliers=" + Arrays.toString(multipliers));
            }
        }
        assertArrayEquals(java, c);
    }

    /** Mostly ids in [0, V), with negative ids, Long.MIN_VALUE and Long.MAX_VALUE mixed in. */
    private static long[] ids(SplittableRandom rnd, int n, long vocab) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(20);
            ids[i] = switch (kind) {
                case 0 -> Long.MIN_VALUE;
                case 1 -> Long.MAX_VALUE;
                case 2, 3 -> -1 - rnd.nextLong(vocab);
                case 4 -> rnd.nextLong();
                default -> rnd.nextLong(vocab);
            };
        }
        return ids;
    }

    /** Engram-style odd multipliers (2*U[0, half)+1), or arbitrary huge ones that overflow int64 products. */
    private static long[] multipliers(SplittableRandom rnd, int n, long vocab) {
        long half = Math.max(1, Long.MAX_VALUE / vocab / 2);
        long[] m = new long[n];
        for (int i = 0; i < n; i++) {
            m[i] = switch (rnd.nextInt(3)) {
                case 0 -> rnd.nextLong(half) * 2 + 1;
                case 1 -> rnd.nextLong() | 1;
                default -> Long.MAX_VALUE - rnd.nextLong(1 << 20);
            };
        }
        return m;
    }

    /** Primes from random starts and arbitrary positive non-primes, small and huge. */
    private static long[] moduli(SplittableRandom rnd, int n) {
        long[] p = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = switch (rnd.nextInt(5)) {
                case 0 -> BigInteger.valueOf(rnd.nextLong(10, 2_000_000)).nextProbablePrime().longValueExact();
                case 1 -> BigInteger.valueOf(rnd.nextLong(1L << 40, 1L << 61)).nextProbablePrime().longValueExact();
                case 2 -> 1 + rnd.nextLong(1000);
                case 3 -> 1 + rnd.nextLong(Long.MAX_VALUE - 1);
                default -> 2L * (1 + rnd.nextLong(1 << 20));
            };
        }
        return p;
    }
}
