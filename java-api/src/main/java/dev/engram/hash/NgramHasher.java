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
 *
 * <p>{@link #hashPacked} hashes a packed batch whose sequences read a carried history instead of the pad
 * (SEMANTICS.md §8), with the same per-position arithmetic.
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
        long[] padHistory = new long[multipliers.length - 1];
        java.util.Arrays.fill(padHistory, padId); // what a row start reads before its first token
        for (int i = fromToken; i < toToken; i++) {
            hashPosition(ids, i, i % seqLen, padHistory, 0, multipliers, moduli, headsPerNgram, out);
        }
    }

    /**
     * Hashes a packed batch of compressed ids (SEMANTICS.md §8): sequence {@code s} owns the tokens
     * {@code [cu[s], cu[s+1])}, and its positions before its first token read {@code history} instead of the pad,
     * so a sequence hashed in consecutive chunks, each given the last ids of the chunks before, gets exactly the
     * hash ids of the whole sequence. The arithmetic is that of {@link #hash}: a sequence whose history is all
     * {@code padId} hashes as a row of {@link #hash}.
     *
     * @param compressedIds {@code [tokens]} compressed ids of all sequences, back to back; negatives allowed
     * @param cuSeqlens     {@code [S + 1]}: {@code cu[0] = 0}, nondecreasing, {@code cu[S] = tokens}
     * @param history       {@code [S, maxNgram - 1]}, row-major: per sequence the compressed ids just before its
     *                      first token of this call, oldest first (the pad id where the sequence has none)
     * @param multipliers   {@code [maxNgram]} per-position multipliers of the layer, {@code maxNgram >= 2}
     * @param moduli        {@code [(maxNgram-1) * headsPerNgram]} prime moduli, order-major, each {@code > 0}
     * @param headsPerNgram heads per n-gram order, {@code >= 1}
     * @return {@code [tokens * (maxNgram-1) * headsPerNgram]} hash ids in {@code [0, p)}
     * @throws IllegalArgumentException naming the first argument that does not fit the others
     */
    public static long[] hashPacked(long[] compressedIds, int[] cuSeqlens, long[] history, long[] multipliers,
                                    long[] moduli, int headsPerNgram) {
        Objects.requireNonNull(compressedIds, "compressedIds");
        Objects.requireNonNull(cuSeqlens, "cuSeqlens");
        Objects.requireNonNull(history, "history");
        Objects.requireNonNull(multipliers, "multipliers");
        Objects.requireNonNull(moduli, "moduli");
        int tokens = compressedIds.length;
        checkArguments(tokens, 1, tokens, multipliers.length, moduli, headsPerNgram);
        checkCuSeqlens(cuSeqlens, tokens);
        int sequences = cuSeqlens.length - 1, historyLength = multipliers.length - 1;
        if ((long) sequences * historyLength != history.length) {
            throw new IllegalArgumentException("history has " + history.length + " entries, expected [S, max_ngram_size-1] = ["
                    + sequences + ", " + historyLength + "] = " + (long) sequences * historyLength);
        }
        long[] out = new long[Math.multiplyExact(tokens, moduli.length)];
        for (int s = 0; s < sequences; s++) {
            for (int i = cuSeqlens[s]; i < cuSeqlens[s + 1]; i++) {
                hashPosition(compressedIds, i, i - cuSeqlens[s], history, s * historyLength, multipliers, moduli,
                        headsPerNgram, out);
            }
        }
        return out;
    }

    /**
     * {@link #hashPacked} for the flat token range {@code [fromToken, toToken)} into an array the caller reuses,
     * so a decode loop allocates nothing and disjoint ranges can be hashed in parallel into one array. Only the
     * first {@code sequences + 1} entries of {@code cuSeqlens}, the first {@code cu[sequences]} ids and the first
     * {@code sequences * (maxNgram - 1)} history entries are read; the arrays may be longer.
     *
     * @param compressedIds {@code [>= tokens]} compressed ids of all sequences, back to back, {@code tokens =
     *                      cuSeqlens[sequences]}
     * @param cuSeqlens     {@code [>= sequences + 1]}: {@code cu[0] = 0}, nondecreasing
     * @param sequences     {@code S >= 0}
     * @param history       {@code [>= S * (maxNgram - 1)]}, as for {@link #hashPacked}
     * @param multipliers   {@code [maxNgram]} multipliers, {@code maxNgram >= 2}
     * @param moduli        {@code [(maxNgram-1) * headsPerNgram]} moduli, each {@code > 0}
     * @param headsPerNgram heads per n-gram order, {@code >= 1}
     * @param fromToken     first flat token, {@code >= 0}
     * @param toToken       one past the last, {@code <= tokens}
     * @param out           {@code [>= tokens * heads]}; only the range's entries {@code out[token * heads + head]}
     *                      are written
     * @throws IllegalArgumentException naming the first argument that does not fit the others
     */
    public static void hashPackedRange(long[] compressedIds, int[] cuSeqlens, int sequences, long[] history,
                                       long[] multipliers, long[] moduli, int headsPerNgram, int fromToken, int toToken,
                                       long[] out) {
        Objects.requireNonNull(compressedIds, "compressedIds");
        Objects.requireNonNull(cuSeqlens, "cuSeqlens");
        Objects.requireNonNull(history, "history");
        Objects.requireNonNull(multipliers, "multipliers");
        Objects.requireNonNull(moduli, "moduli");
        Objects.requireNonNull(out, "out");
        if (sequences < 0 || cuSeqlens.length < sequences + 1) {
            throw new IllegalArgumentException("sequences = " + sequences + " does not fit cuSeqlens of " + cuSeqlens.length
                    + " entries");
        }
        if (cuSeqlens[0] != 0) throw new IllegalArgumentException("cuSeqlens[0] must be 0, got " + cuSeqlens[0]);
        for (int k = 1; k <= sequences; k++) {
            if (cuSeqlens[k] < cuSeqlens[k - 1]) {
                throw new IllegalArgumentException("cuSeqlens must be nondecreasing, but cuSeqlens[" + k + "] = "
                        + cuSeqlens[k] + " < cuSeqlens[" + (k - 1) + "] = " + cuSeqlens[k - 1]);
            }
        }
        int tokens = cuSeqlens[sequences];
        if (tokens > compressedIds.length) {
            throw new IllegalArgumentException("cuSeqlens ends at " + tokens + " but there are " + compressedIds.length + " ids");
        }
        int heads = checkArguments(tokens, 1, tokens, multipliers.length, moduli, headsPerNgram);
        int historyLength = multipliers.length - 1;
        if ((long) sequences * historyLength > history.length) {
            throw new IllegalArgumentException("history has " + history.length + " entries, [S, max_ngram_size-1] = ["
                    + sequences + ", " + historyLength + "] need " + (long) sequences * historyLength);
        }
        if (fromToken < 0 || toToken < fromToken || toToken > tokens) {
            throw new IllegalArgumentException("token range [" + fromToken + ", " + toToken + ") is outside [0, " + tokens + ")");
        }
        if ((long) tokens * heads > out.length) {
            throw new IllegalArgumentException("out has " + out.length + " entries, " + tokens + " tokens x " + heads
                    + " heads need " + (long) tokens * heads);
        }
        if (fromToken == toToken) return;
        // The sequence of fromToken: the last s with cu[s] <= fromToken (empty sequences own no token).
        int lo = 0, hi = sequences - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (cuSeqlens[mid] <= fromToken) lo = mid;
            else hi = mid - 1;
        }
        int s = lo;
        for (int i = fromToken; i < toToken; i++) {
            while (cuSeqlens[s + 1] <= i) s++;
            hashPosition(compressedIds, i, i - cuSeqlens[s], history, s * historyLength, multipliers, moduli,
                    headsPerNgram, out);
        }
    }

    private static void checkCuSeqlens(int[] cu, int tokens) {
        if (cu.length < 1) throw new IllegalArgumentException("cuSeqlens needs at least one entry (cu[0] = 0)");
        if (cu[0] != 0) throw new IllegalArgumentException("cuSeqlens[0] must be 0, got " + cu[0]);
        for (int s = 1; s < cu.length; s++) {
            if (cu[s] < cu[s - 1]) {
                throw new IllegalArgumentException("cuSeqlens must be nondecreasing, but cuSeqlens[" + s + "] = " + cu[s]
                        + " < cuSeqlens[" + (s - 1) + "] = " + cu[s - 1]);
            }
        }
        if (cu[cu.length - 1] != tokens) {
            throw new IllegalArgumentException("cuSeqlens ends at " + cu[cu.length - 1] + " but there are " + tokens + " ids");
        }
    }

    /**
     * The hash ids of the token at flat index {@code i}, position {@code t} of its sequence: {@code s_k} is
     * {@code ids[i - k]} when {@code t - k >= 0}, else entry {@code (maxNgram - 1) + (t - k)} of the
     * {@code maxNgram - 1} history entries at {@code history[historyBase..]} (oldest first).
     */
    private static void hashPosition(long[] ids, int i, int t, long[] history, int historyBase, long[] multipliers,
                                     long[] moduli, int headsPerNgram, long[] out) {
        int heads = moduli.length;
        int maxNgram = multipliers.length;
        int historyEnd = historyBase + maxNgram - 1;
        int outBase = i * heads;
        long mix = ids[i] * multipliers[0];
        for (int n = 2; n <= maxNgram; n++) {
            int k = n - 1;
            long s = t - k >= 0 ? ids[i - k] : history[historyEnd + t - k];
            // mix_n = mix_{n-1} ^ (s_{n-1} * m_{n-1}); long multiply wraps like int64.
            mix ^= s * multipliers[k];
            int headBase = (n - 2) * headsPerNgram;
            for (int j = 0; j < headsPerNgram; j++) {
                out[outBase + headBase + j] = Math.floorMod(mix, moduli[headBase + j]);
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
