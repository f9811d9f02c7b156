package dev.engram.reference;

/**
 * Every intermediate of one reference forward, named as in the golden files (row-major; B batch,
 * T tokens, G branches, H hidden size, E engram width, heads = hash heads, L = T + (K-1)*dilation).
 * A packed forward ({@link ReferenceEngramLayer#trace(dev.engram.PackedBatch, long[], double[], ReferenceState)})
 * has {@code [N]} tokens in place of {@code [B, T]}, and its {@code convOutFull} is {@code [N, G*H]}: the causal
 * conv outputs only.
 *
 * @param compressedIds  [B, T]
 * @param hashIds        [B, T, heads]
 * @param shiftedIds     [B, T, heads] table rows: hash id + the head's offset
 * @param embeddings     [B, T, E]
 * @param keyProj        [B, T, G, H]
 * @param normedKey      [B, T, G, H]
 * @param normedQuery    [B, T, G, H]
 * @param gateDot        [B, T, G]
 * @param gateSignedSqrt [B, T, G]
 * @param gate           [B, T, G]
 * @param valueProj      [B, T, H]
 * @param value          [B, T, G, H]
 * @param convInNormed   [B, T, G, H]
 * @param convOutFull    [B, G*H, L] the conv over the symmetrically padded input, before truncation
 * @param shortConvOut   [B, T, G, H] SiLU of the first T conv outputs
 * @param output         [B, T, G, H] value + shortConvOut
 * @param times          wall-clock nanoseconds per stage
 */
public record ForwardTrace(
        long[] compressedIds,
        long[] hashIds,
        long[] shiftedIds,
        double[] embeddings,
        double[] keyProj,
        double[] normedKey,
        double[] normedQuery,
        double[] gateDot,
        double[] gateSignedSqrt,
        double[] gate,
        double[] valueProj,
        double[] value,
        double[] convInNormed,
        double[] convOutFull,
        double[] shortConvOut,
        double[] output,
        StageTimes times) {

    /**
     * Nanoseconds spent per stage.
     *
     * @param hash        compression + n-gram hash
     * @param gather      embedding row gather
     * @param projections key and value projections
     * @param gate        RMSNorms, gate and value gating
     * @param conv        ShortConv (RMSNorm, dilated causal conv, SiLU) and the residual
     */
    public record StageTimes(long hash, long gather, long projections, long gate, long conv) {
        /** {@return the sum of all stages, in nanoseconds} */
        public long total() {
            return hash + gather + projections + gate + conv;
        }
    }
}
