package dev.engram;

import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;

/**
 * Configuration of the Engram layers of a model: the reference's {@code EngramConfig} plus the two
 * backbone fields the layer needs ({@code hidden_size}, {@code hc_mult}). Field names mirror the
 * reference; {@link EngramConfigJson} reads and writes them with the reference's snake_case keys.
 *
 * <p>Every instance is valid: the canonical constructor throws {@link IllegalArgumentException}
 * naming the offending field.
 *
 * @param engramVocabSize     {@code engram_vocab_size}: base table size per n-gram order, index {@code n-2}
 * @param maxNgramSize        {@code max_ngram_size}: largest n (orders 2..N); also the ShortConv dilation
 * @param nEmbedPerNgram      {@code n_embed_per_ngram}: embedding width per order, split over the heads
 * @param nHeadPerNgram       {@code n_head_per_ngram}: hash heads per order
 * @param layerIds            {@code layer_ids}: the backbone layers that hold an Engram layer (order matters)
 * @param padId               {@code pad_id}: a raw tokenizer id, mapped through the compression table
 * @param seed                {@code seed}: base seed of the per-layer hash multipliers
 * @param kernelSize          {@code kernel_size}: ShortConv kernel size
 * @param hiddenSize          {@code hidden_size}: backbone hidden size
 * @param hcMult              {@code hc_mult}: number of hyper-connection branches
 * @param compressedVocabSize {@code compressed_vocab_size}: V' when ids are already compressed and no
 *                            compression table is given; empty otherwise
 * @param gateNormEps         {@code gate_norm_eps}: eps of the key/query RMSNorms (reference: 2^-23)
 * @param convNormEps         {@code conv_norm_eps}: eps of the ShortConv RMSNorms (reference: 1e-5)
 */
public record EngramConfig(
        List<Long> engramVocabSize,
        int maxNgramSize,
        int nEmbedPerNgram,
        int nHeadPerNgram,
        List<Integer> layerIds,
        long padId,
        long seed,
        int kernelSize,
        int hiddenSize,
        int hcMult,
        OptionalLong compressedVocabSize,
        double gateNormEps,
        double convNormEps) {

    /** float32 machine epsilon, 2^-23: torch's {@code nn.RMSNorm(eps=None)} for fp32, bf16 and fp16. */
    public static final double FLOAT32_EPS = 0x1p-23;
    /** float64 machine epsilon, 2^-52: torch's {@code nn.RMSNorm(eps=None)} for fp64. */
    public static final double FLOAT64_EPS = 0x1p-52;
    /** The ShortConv RMSNorm eps of the reference. */
    public static final double CONV_NORM_EPS = 1e-5;
    /** Largest accepted {@code max_ngram_size}; larger orders have no use and only inflate the hash. */
    public static final int MAX_NGRAM_LIMIT = 16;
    /** Largest accepted per-order base table size (keeps the prime search and row offsets in int64). */
    public static final long VOCAB_SIZE_LIMIT = 1L << 40;

    /** Validates every field; throws {@link IllegalArgumentException} naming the first bad one. */
    public EngramConfig {
        require(engramVocabSize != null, "engram_vocab_size", "is missing");
        require(layerIds != null, "layer_ids", "is missing");
        require(compressedVocabSize != null, "compressed_vocab_size", "must be an OptionalLong, not null");
        engramVocabSize = List.copyOf(engramVocabSize);
        layerIds = List.copyOf(layerIds);

        require(maxNgramSize >= 2, "max_ngram_size", "must be >= 2 (bigrams and up), got " + maxNgramSize);
        require(maxNgramSize <= MAX_NGRAM_LIMIT, "max_ngram_size", "must be <= " + MAX_NGRAM_LIMIT + ", got " + maxNgramSize);
        require(engramVocabSize.size() == maxNgramSize - 1, "engram_vocab_size",
                "needs one entry per order n=2.." + maxNgramSize + " (" + (maxNgramSize - 1) + " entries), got "
                        + engramVocabSize.size());
        for (int i = 0; i < engramVocabSize.size(); i++) {
            long v = engramVocabSize.get(i);
            require(v > 0, "engram_vocab_size", "entry " + i + " must be > 0, got " + v);
            require(v <= VOCAB_SIZE_LIMIT, "engram_vocab_size", "entry " + i + " must be <= 2^40, got " + v);
        }
        require(nHeadPerNgram > 0, "n_head_per_ngram", "must be > 0, got " + nHeadPerNgram);
        require(nEmbedPerNgram > 0, "n_embed_per_ngram", "must be > 0, got " + nEmbedPerNgram);
        require(nEmbedPerNgram % nHeadPerNgram == 0, "n_embed_per_ngram",
                "(" + nEmbedPerNgram + ") must be divisible by n_head_per_ngram (" + nHeadPerNgram + ")");
        require(!layerIds.isEmpty(), "layer_ids", "must not be empty");
        var seen = new HashSet<Integer>();
        for (int id : layerIds) {
            require(id >= 0, "layer_ids", "must be >= 0, got " + id);
            require(seen.add(id), "layer_ids", "contains " + id + " twice");
        }
        require(seed >= 0, "seed", "must be >= 0 (numpy's SeedSequence rejects negative seeds), got " + seed);
        require(kernelSize > 0, "kernel_size", "must be > 0, got " + kernelSize);
        require(hiddenSize > 0, "hidden_size", "must be > 0, got " + hiddenSize);
        require(hcMult > 0, "hc_mult", "must be > 0, got " + hcMult);
        compressedVocabSize.ifPresent(v -> require(v > 0, "compressed_vocab_size", "must be > 0, got " + v));
        require(gateNormEps > 0 && Double.isFinite(gateNormEps), "gate_norm_eps", "must be finite and > 0, got " + gateNormEps);
        require(convNormEps > 0 && Double.isFinite(convNormEps), "conv_norm_eps", "must be finite and > 0, got " + convNormEps);
    }

    /**
     * {@return the reference demo's default}: vocab 646400 per order, N=3, 512 dims over 8 heads, H=1024, G=4,
     * layers [1, 15].
     */
    public static EngramConfig referenceDefault() {
        return new EngramConfig(List.of(646_400L, 646_400L), 3, 512, 8, List.of(1, 15), 2, 0, 4, 1024, 4,
                OptionalLong.empty(), FLOAT32_EPS, CONV_NORM_EPS);
    }

    /**
     * {@return a small configuration that runs in milliseconds on the CPU} It is the golden forward's "main"
     * config: vocab [3001, 2503], N=3, 32 dims over 4 heads, H=64, G=4, layers [1, 15].
     */
    public static EngramConfig small() {
        return new EngramConfig(List.of(3001L, 2503L), 3, 32, 4, List.of(1, 15), 2, 0, 4, 64, 4,
                OptionalLong.empty(), FLOAT32_EPS, CONV_NORM_EPS);
    }

    /** {@return the number of n-gram orders, {@code max_ngram_size - 1}} */
    public int ngramOrders() {
        return maxNgramSize - 1;
    }

    /** {@return the hash heads per layer, {@code (max_ngram_size-1) * n_head_per_ngram}} */
    public int headsPerLayer() {
        return ngramOrders() * nHeadPerNgram;
    }

    /** {@return the embedding width of one head, {@code n_embed_per_ngram / n_head_per_ngram}} */
    public int headDim() {
        return nEmbedPerNgram / nHeadPerNgram;
    }

    /** {@return the width of the concatenated embedding, {@code E = (max_ngram_size-1) * n_embed_per_ngram}} */
    public int engramHiddenSize() {
        return ngramOrders() * nEmbedPerNgram;
    }

    /** {@return the ShortConv dilation: {@code max_ngram_size}, as in the reference} */
    public int convDilation() {
        return maxNgramSize;
    }

    /**
     * {@return a copy with the given key/query RMSNorm eps} For example {@link #FLOAT64_EPS} mirrors a float64
     * torch run.
     *
     * @param eps the new {@code gate_norm_eps}
     * @throws IllegalArgumentException if {@code eps} is not finite and &gt; 0
     */
    public EngramConfig withGateNormEps(double eps) {
        return new EngramConfig(engramVocabSize, maxNgramSize, nEmbedPerNgram, nHeadPerNgram, layerIds, padId, seed,
                kernelSize, hiddenSize, hcMult, compressedVocabSize, eps, convNormEps);
    }

    /**
     * {@return a copy with {@code compressed_vocab_size} set} Ids are then taken as already compressed.
     *
     * @param size the compressed vocabulary size V'
     * @throws IllegalArgumentException if {@code size} is not &gt; 0
     */
    public EngramConfig withCompressedVocabSize(long size) {
        return new EngramConfig(engramVocabSize, maxNgramSize, nEmbedPerNgram, nHeadPerNgram, layerIds, padId, seed,
                kernelSize, hiddenSize, hcMult, OptionalLong.of(size), gateNormEps, convNormEps);
    }

    /**
     * {@return a builder that starts from {@link #referenceDefault()}}: set what differs, by name, e.g.
     * {@code EngramConfig.builder().hiddenSize(4096).hcMult(4).layerIds(List.of(2, 15)).build()}
     */
    public static Builder builder() {
        return new Builder(referenceDefault());
    }

    /** {@return a builder that starts from this config} */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Sets fields by name; {@link #build()} validates them all at once, as the canonical constructor does. */
    public static final class Builder {
        private List<Long> engramVocabSize;
        private int maxNgramSize, nEmbedPerNgram, nHeadPerNgram, kernelSize, hiddenSize, hcMult;
        private List<Integer> layerIds;
        private long padId, seed;
        private OptionalLong compressedVocabSize;
        private double gateNormEps, convNormEps;

        private Builder(EngramConfig c) {
            engramVocabSize = c.engramVocabSize;
            maxNgramSize = c.maxNgramSize;
            nEmbedPerNgram = c.nEmbedPerNgram;
            nHeadPerNgram = c.nHeadPerNgram;
            layerIds = c.layerIds;
            padId = c.padId;
            seed = c.seed;
            kernelSize = c.kernelSize;
            hiddenSize = c.hiddenSize;
            hcMult = c.hcMult;
            compressedVocabSize = c.compressedVocabSize;
            gateNormEps = c.gateNormEps;
            convNormEps = c.convNormEps;
        }

        /**
         * Sets {@code engram_vocab_size}, one entry per order n = 2..max_ngram_size.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder engramVocabSize(List<Long> v) {
            engramVocabSize = v;
            return this;
        }

        /**
         * Sets {@code max_ngram_size}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder maxNgramSize(int v) {
            maxNgramSize = v;
            return this;
        }

        /**
         * Sets {@code n_embed_per_ngram}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder nEmbedPerNgram(int v) {
            nEmbedPerNgram = v;
            return this;
        }

        /**
         * Sets {@code n_head_per_ngram}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder nHeadPerNgram(int v) {
            nHeadPerNgram = v;
            return this;
        }

        /**
         * Sets {@code layer_ids}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder layerIds(List<Integer> v) {
            layerIds = v;
            return this;
        }

        /**
         * Sets {@code pad_id}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder padId(long v) {
            padId = v;
            return this;
        }

        /**
         * Sets {@code seed}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        /**
         * Sets {@code kernel_size}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder kernelSize(int v) {
            kernelSize = v;
            return this;
        }

        /**
         * Sets {@code hidden_size}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder hiddenSize(int v) {
            hiddenSize = v;
            return this;
        }

        /**
         * Sets {@code hc_mult}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder hcMult(int v) {
            hcMult = v;
            return this;
        }

        /**
         * Sets {@code compressed_vocab_size}; ids are then taken as already compressed.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder compressedVocabSize(long v) {
            compressedVocabSize = OptionalLong.of(v);
            return this;
        }

        /**
         * Sets {@code gate_norm_eps}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder gateNormEps(double v) {
            gateNormEps = v;
            return this;
        }

        /**
         * Sets {@code conv_norm_eps}.
         *
         * @param v the new value, checked by {@link #build()}
         * @return this builder
         */
        public Builder convNormEps(double v) {
            convNormEps = v;
            return this;
        }

        /**
         * {@return the config}
         * @throws IllegalArgumentException naming the first invalid field
         */
        public EngramConfig build() {
            return new EngramConfig(engramVocabSize, maxNgramSize, nEmbedPerNgram, nHeadPerNgram, layerIds, padId, seed,
                    kernelSize, hiddenSize, hcMult, compressedVocabSize, gateNormEps, convNormEps);
        }
    }

    private static void require(boolean ok, String field, String problem) {
        if (!ok) throw new IllegalArgumentException("EngramConfig." + field + " " + problem);
    }
}
