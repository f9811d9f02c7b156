package dev.engram.hash;

import java.math.BigInteger;

/**
 * The per-layer hash multipliers (SEMANTICS.md §3.2):
 * {@code m = default_rng(seed + 10007*layer_id).integers(0, half_bound, size=max_ngram_size) * 2 + 1}
 * with {@code half_bound = max(1, ((2^63-1) // V') // 2)} and V' the compressed vocabulary size.
 */
public final class HashMultipliers {
    /** The prime that spreads layer seeds apart ({@code PRIME_1} in the reference). */
    public static final long LAYER_SEED_STRIDE = 10007;

    private HashMultipliers() {}

    /**
     * {@return {@code half_bound = max(1, ((2^63-1) // V') // 2)}, the exclusive bound of the multiplier draws}
     *
     * @param compressedVocabSize V', the compressed vocabulary size, {@code > 0}
     * @throws IllegalArgumentException when {@code compressedVocabSize <= 0}
     */
    public static long halfBound(long compressedVocabSize) {
        if (compressedVocabSize <= 0) {
            throw new IllegalArgumentException("compressed vocabulary size must be > 0, got " + compressedVocabSize);
        }
        return Math.max(1, (Long.MAX_VALUE / compressedVocabSize) / 2);
    }

    /**
     * {@return the layer's numpy seed, {@code seed + 10007 * layer_id}, as Python's unbounded int}
     *
     * @param seed    the config's base seed
     * @param layerId the backbone layer
     */
    public static BigInteger layerSeed(long seed, int layerId) {
        return BigInteger.valueOf(seed).add(BigInteger.valueOf(LAYER_SEED_STRIDE).multiply(BigInteger.valueOf(layerId)));
    }

    /**
     * {@return the {@code maxNgramSize} odd multipliers of one layer, {@code 2 * r + 1} for each draw {@code r}}
     *
     * @param seed                the config's base seed
     * @param layerId             the backbone layer
     * @param maxNgramSize        the number of multipliers, one per position of the longest n-gram
     * @param compressedVocabSize V', the compressed vocabulary size, {@code > 0}
     * @throws IllegalArgumentException when {@code compressedVocabSize <= 0}
     */
    public static long[] forLayer(long seed, int layerId, int maxNgramSize, long compressedVocabSize) {
        long[] r = rawDraws(seed, layerId, maxNgramSize, compressedVocabSize);
        long[] m = new long[r.length];
        for (int i = 0; i < r.length; i++) m[i] = r[i] * 2 + 1;
        return m;
    }

    /** The draws {@code r} before {@code * 2 + 1} (the goldens record them). */
    static long[] rawDraws(long seed, int layerId, int maxNgramSize, long compressedVocabSize) {
        Pcg64 rng = new Pcg64(new SeedSequence(layerSeed(seed, layerId)));
        return BoundedIntegers.integers(rng, 0, halfBound(compressedVocabSize), maxNgramSize);
    }
}
