package dev.engram.hash;

import java.util.Objects;

/**
 * The Engram n-gram hash (SEMANTICS.md §3.4) on already-compressed token ids.
 *
 * <p>For every position {@code t} of every sequence, the shifted tokens are
 * {@code s_k = ids[t-k]} (or {@code padId} before the sequence start); for each order
 * {@code n = 2..maxNgram} the mix is {@code (s_0*m_0) ^ ... ^ (s_{n-1}*m_{n-1})} in {@code long}
 * arithmetic (which wraps exactly like numpy's int64), and head {@code j} of that order gets
 * {@code Math.floorMod(mix, p[n-2][j])}. Rows of the batch are independent.
 */
public final class NgramHasher {
    private NgramHasher() {}

    /**
     * Hashes a batch of compressed ids.
     *
     * @param compressedIds {@code [batch * seqLen]} compressed token ids, row-major; negatives allowed
     * @param batch         number of sequences, {@code >= 0}
     * @param seqLen        tokens per sequence, {@code >= 0}
     * @param padId         the compressed pad id used before each sequence start
     * @param multipliers   {@code [maxNgram]} per-position multipliers of the layer, {@code maxNgram >= 2}
     * @param moduli        {@code [(maxNgram-1) * headsPerNgram]} prime moduli, order-major, each {@code > 0}
     * @param headsPerNgram heads per n-gram order, {@code >= 1}
     * @return {@code [batch * seqLen * (maxNgram-1) * headsPerNgram]} hash ids in {@code [0, p)}
     * @throws IllegalArgumentException naming the first argument that does not fit the others
     */
    public static long[] hash(long[] compressedIds, int batch, int seqLen, long padId,
                              long[] multipliers, long[] moduli, int headsPerNgram) {
        Objects.requireNonNull(compressedIds, "compressedIds");
        Objects.requireNonNull(multipliers, "multipliers");
        Objects.requireNonNull(moduli, "moduli");
        int maxNgram = multipliers.length;
        checkArguments(compressedIds.length, batch, seqLen, maxNgram, moduli, headsPerNgram);
        long[] out = new long[Math.multiplyExact(compressedIds.length, moduli.length)];
        hashTokens(compressedIds, seqLen, padId, multipliers, moduli, headsPerNgram, 0, compressedIds.length, out);
        return out;
    }

    /**
     * Hashes the flat token range {@code [fromToken, toToken)} of a batch into {@code out} at the same places
     * {@link #hash} puts them ({@code out[token * heads + head]}), so disjoint ranges can be hashed in parallel
     * into one array. Positions still look back across the range start within their own sequence.
     *
     * @param compressedIds {@code [batch * seqLen]} compressed token ids
     * @param seqLen        tokens per sequence, {@code >= 1}
     * @param padId         the compressed pad id used before each sequence start
     * @param multipliers   {@code [maxNgram]} multipliers, {@code maxNgram >= 2}
     * @param moduli        {@code [(maxNgram-1) * headsPerNgram]} moduli, each {@code > 0}
     * @param headsPerNgram heads per n-gram order, {@code >= 1}
     * @param fromToken     first flat token index, {@code >= 0}
     * @param toToken       one past the last, {@code <= compressedIds.length}
     * @param out           {@code [compressedIds.length * heads]}; only the range's entries are written
     * @throws IllegalArgumentException for a bad range, seqLen, or too short {@code out}
     */
    public static void hashRange(long[] compressedIds, int seqLen, long padId, long[] multipliers, long[] moduli,
                                 int headsPerNgram, int fromToken, int toToken, long[] out) {
        Objects.requireNonNull(compressedIds, "compressedIds");
        Objects.requireNonNull(out, "out");
        if (seqLen < 1 || compressedIds.length % seqLen != 0) {
            throw new IllegalArgumentException("seqLen " + seqLen + " does not divide " + compressedIds.length + " ids");
        }
        checkArguments(compressedIds.length, compressedIds.length / seqLen, seqLen, multipliers.length, moduli,
                headsPerNgram);
        if (fromToken < 0 || toToken < fromToken || toToken > compressedIds.length) {
            throw new IllegalArgumentException("token range [" + fromToken + ", " + toToken + ") is outside [0, "
                    + compressedIds.length + ")");
        }
        if ((long) compressedIds.length * moduli.length > out.length) {
            throw new IllegalArgumentException("out has " + out.length + " entries, " + compressedIds.length
                    + " tokens x " + moduli.length + " heads need " + (long) compressedIds.length * moduli.length);
        }
        hashTokens(compressedIds, seqLen, padId, multipliers, moduli, headsPerNgram, fromToken, toToken, out);
    }

    private static void hashTokens(long[] ids, int seqLen, long padId, long[] multipliers, long[] moduli,
                                   int headsPerNgram, int fromToken, int toToken, long[] out) {
        int heads = moduli.length;
        int maxNgram = multipliers.length;
        for (int i = fromToken; i < toToken; i++) {
            int t = i % seqLen;
            int rowStart = i - t;
            int outBase = i * heads;
            long mix = shifted(ids, rowStart, t, 0, padId) * multipliers[0];
            for (int n = 2; n <= maxNgram; n++) {
                // mix_n = mix_{n-1} ^ (s_{n-1} * m_{n-1}); long multiply wraps like int64.
                mix ^= shifted(ids, rowStart, t, n - 1, padId) * multipliers[n - 1];
                int headBase = (n - 2) * headsPerNgram;
                for (int j = 0; j < headsPerNgram; j++) {
                    out[outBase + headBase + j] = Math.floorMod(mix, moduli[headBase + j]);
                }
            }
        }
    }

    /**
     * Checks the hash arguments (shared by this class and the native hash, so both reject the same
     * input with the same message).
     *
     * @param idCount       number of ids given
     * @param batch         number of sequences, {@code >= 0}
     * @param seqLen        tokens per sequence, {@code >= 0}; {@code batch * seqLen} must be {@code idCount}
     * @param maxNgram      number of multipliers ({@code max_ngram_size}), {@code >= 2}
     * @param moduli        the moduli, {@code (maxNgram-1) * headsPerNgram} of them, each {@code > 0}
     * @param headsPerNgram heads per n-gram order, {@code >= 1}
     * @return heads per position, {@code (maxNgram-1) * headsPerNgram}
     * @throws IllegalArgumentException naming the first problem
     */
    public static int checkArguments(int idCount, int batch, int seqLen, int maxNgram, long[] moduli, int headsPerNgram) {
        if (batch < 0 || seqLen < 0) {
            throw new IllegalArgumentException("batch and seqLen must be >= 0, got batch=" + batch + ", seqLen=" + seqLen);
        }
        if ((long) batch * seqLen != idCount) {
            throw new IllegalArgumentException("compressedIds has " + idCount + " elements, expected batch*seqLen = "
                    + batch + "*" + seqLen + " = " + (long) batch * seqLen);
        }
        if (maxNgram < 2) {
            throw new IllegalArgumentException("need at least 2 multipliers (max_ngram_size >= 2), got " + maxNgram);
        }
        if (headsPerNgram < 1) {
            throw new IllegalArgumentException("headsPerNgram must be >= 1, got " + headsPerNgram);
        }
        if ((long) (maxNgram - 1) * headsPerNgram != moduli.length) {
            throw new IllegalArgumentException("moduli has " + moduli.length
                    + " entries, expected (max_ngram_size-1)*headsPerNgram = " + (maxNgram - 1) + "*" + headsPerNgram);
        }
        for (int i = 0; i < moduli.length; i++) {
            if (moduli[i] <= 0) {
                throw new IllegalArgumentException("every modulus must be > 0, got moduli[" + i + "] = " + moduli[i]);
            }
        }
        return moduli.length;
    }

    /** The raw XOR mixes {@code [batch * seqLen * (maxNgram-1)]}, one per order (for checking against goldens). */
    static long[] mixes(long[] compressedIds, int batch, int seqLen, long padId, long[] multipliers) {
        int orders = multipliers.length - 1;
        long[] out = new long[compressedIds.length * orders];
        for (int b = 0; b < batch; b++) {
            int rowStart = b * seqLen;
            for (int t = 0; t < seqLen; t++) {
                long mix = shifted(compressedIds, rowStart, t, 0, padId) * multipliers[0];
                for (int n = 2; n <= multipliers.length; n++) {
                    mix ^= shifted(compressedIds, rowStart, t, n - 1, padId) * multipliers[n - 1];
                    out[(rowStart + t) * orders + n - 2] = mix;
                }
            }
        }
        return out;
    }

    private static long shifted(long[] ids, int rowStart, int t, int k, long padId) {
        return t - k >= 0 ? ids[rowStart + t - k] : padId;
    }
}
