package dev.engram.hash;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * numpy's {@code SeedSequence} for an integer entropy and no spawn key, bit for bit
 * (numpy/random/bit_generator.pyx; SEMANTICS.md §3.2). All arithmetic is on uint32 words, held in
 * {@code int}s: Java's int multiply, xor and {@code >>>} are exactly the mod-2^32 operations.
 */
public final class SeedSequence {
    private static final int POOL_SIZE = 4;
    private static final int INIT_A = 0x43b0d7e5;
    private static final int MULT_A = 0x931e8875;
    private static final int INIT_B = 0x8b51f9dd;
    private static final int MULT_B = 0x58f38ded;
    private static final int MIX_MULT_L = 0xca01f9dd;
    private static final int MIX_MULT_R = 0x4973f715;
    private static final int XSHIFT = 16;

    private final int[] pool = new int[POOL_SIZE];

    /**
     * Mixes a non-negative integer entropy into the pool, as {@code SeedSequence(entropy)}.
     *
     * @param entropy the seed, {@code >= 0}, of any size
     * @throws IllegalArgumentException when {@code entropy} is negative
     */
    public SeedSequence(BigInteger entropy) {
        if (entropy.signum() < 0) throw new IllegalArgumentException("SeedSequence entropy must be >= 0, got " + entropy);
        mixEntropy(toUint32Words(entropy));
    }

    /**
     * As {@link #SeedSequence(BigInteger)} for a {@code long} entropy.
     *
     * @param entropy the seed, {@code >= 0}
     * @throws IllegalArgumentException when {@code entropy} is negative
     */
    public SeedSequence(long entropy) {
        this(BigInteger.valueOf(entropy));
    }

    /** {@return a copy of the mixed pool, four uint32 words (as ints)} */
    public int[] pool() {
        return pool.clone();
    }

    /**
     * {@return {@code generate_state(nWords, np.uint64)}: 2*nWords uint32 words paired little-endian into uint64s}
     *
     * @param nWords the number of uint64 words, {@code >= 0}
     */
    public long[] generateStateUint64(int nWords) {
        int[] words = new int[2 * nWords];
        int hashConst = INIT_B;
        for (int i = 0; i < words.length; i++) {
            int v = pool[i % POOL_SIZE];
            v ^= hashConst;
            hashConst *= MULT_B;
            v *= hashConst;
            v ^= v >>> XSHIFT;
            words[i] = v;
        }
        long[] out = new long[nWords];
        for (int j = 0; j < nWords; j++) {
            out[j] = Integer.toUnsignedLong(words[2 * j]) | ((long) words[2 * j + 1] << 32);
        }
        return out;
    }

    /** numpy's {@code _coerce_to_uint32_array} for an int: little-endian 32-bit words, {@code [0]} for zero. */
    static int[] toUint32Words(BigInteger value) {
        List<Integer> words = new ArrayList<>();
        BigInteger mask = BigInteger.valueOf(0xFFFFFFFFL);
        BigInteger v = value;
        while (v.signum() > 0) {
            words.add(v.and(mask).intValue());
            v = v.shiftRight(32);
        }
        if (words.isEmpty()) words.add(0);
        return words.stream().mapToInt(Integer::intValue).toArray();
    }

    private void mixEntropy(int[] entropy) {
        int[] hashConst = {INIT_A};
        for (int i = 0; i < POOL_SIZE; i++) {
            pool[i] = hashmix(i < entropy.length ? entropy[i] : 0, hashConst);
        }
        for (int src = 0; src < POOL_SIZE; src++) {
            for (int dst = 0; dst < POOL_SIZE; dst++) {
                if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src], hashConst));
            }
        }
        for (int src = POOL_SIZE; src < entropy.length; src++) {
            for (int dst = 0; dst < POOL_SIZE; dst++) {
                pool[dst] = mix(pool[dst], hashmix(entropy[src], hashConst));
            }
        }
    }

    /** {@code hashmix}: the hash constant persists across calls, hence the one-element holder. */
    private static int hashmix(int value, int[] hashConst) {
        value ^= hashConst[0];
        hashConst[0] *= MULT_A;
        value *= hashConst[0];
        value ^= value >>> XSHIFT;
        return value;
    }

    private static int mix(int x, int y) {
        int r = MIX_MULT_L * x - MIX_MULT_R * y;
        r ^= r >>> XSHIFT;
        return r;
    }
}
