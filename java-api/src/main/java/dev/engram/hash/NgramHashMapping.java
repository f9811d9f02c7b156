package dev.engram.hash;

import dev.engram.EngramConfig;
import dev.engram.tokenizer.CompressionTable;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The reference's {@code NgramHashMapping}: token compression, then per-layer n-gram hash ids
 * (SEMANTICS.md §2.2–3.4). Built once per model; immutable and thread-safe.
 */
public final class NgramHashMapping {
    private final EngramConfig config;
    private final CompressionTable table;
    private final long padIdCompressed;
    private final Map<Integer, LayerHashing> layers;

    private NgramHashMapping(EngramConfig config, CompressionTable table) {
        this.config = config;
        this.table = table;
        this.padIdCompressed = table.compressPadId(config.padId());
        long vocab = table.compressedVocabSize();
        Map<Integer, long[]> moduli = PrimeModuli.compute(config);
        Map<Integer, LayerHashing> byLayer = new LinkedHashMap<>();
        for (int layerId : config.layerIds()) {
            long[] m = HashMultipliers.forLayer(config.seed(), layerId, config.maxNgramSize(), vocab);
            byLayer.put(layerId, LayerHashing.of(layerId, m, moduli.get(layerId)));
        }
        this.layers = byLayer;
    }

    /** The mapping for raw tokenizer ids compressed through {@code table}. */
    public static NgramHashMapping create(EngramConfig config, CompressionTable table) {
        return new NgramHashMapping(Objects.requireNonNull(config, "config"), Objects.requireNonNull(table, "table"));
    }

    /**
     * The mapping for ids that are already compressed: the config must give
     * {@code compressed_vocab_size}; the identity table of that size is used.
     */
    public static NgramHashMapping forCompressedIds(EngramConfig config) {
        long v = config.compressedVocabSize().orElseThrow(() -> new IllegalArgumentException(
                "EngramConfig.compressed_vocab_size is required when no compression table is given"));
        return new NgramHashMapping(config, CompressionTable.identity(v));
    }

    /** The configuration. */
    public EngramConfig config() {
        return config;
    }

    /** The compression table. */
    public CompressionTable compressionTable() {
        return table;
    }

    /** V', the compressed vocabulary size that sets the multipliers' bound. */
    public long compressedVocabSize() {
        return table.compressedVocabSize();
    }

    /** The configured raw {@code pad_id} mapped through the table. */
    public long padIdCompressed() {
        return padIdCompressed;
    }

    /** Layer ids in config order. */
    public List<Integer> layerIds() {
        return config.layerIds();
    }

    /** Hash parameters of one layer. */
    public LayerHashing layer(int layerId) {
        LayerHashing l = layers.get(layerId);
        if (l == null) {
            throw new IllegalArgumentException("layer " + layerId + " is not an Engram layer (layer_ids = "
                    + config.layerIds() + ")");
        }
        return l;
    }

    /** Compresses raw ids: negatives pass through, ids past the table throw. */
    public long[] compress(long[] rawIds) {
        return table.compress(rawIds);
    }

    /** Hash ids {@code [batch, seqLen, heads]} of one layer from raw ids {@code [batch, seqLen]}. */
    public long[] hash(long[] rawIds, int batch, int seqLen, int layerId) {
        return hashCompressed(compress(rawIds), batch, seqLen, layerId);
    }

    /** Hash ids of one layer from already-compressed ids. */
    public long[] hashCompressed(long[] compressedIds, int batch, int seqLen, int layerId) {
        LayerHashing l = layer(layerId);
        return NgramHasher.hash(compressedIds, batch, seqLen, padIdCompressed, l.multipliers(), l.moduli(),
                config.nHeadPerNgram());
    }
}
