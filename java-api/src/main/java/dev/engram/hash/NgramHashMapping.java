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

    /**
     * {@return the mapping for raw tokenizer ids compressed through {@code table}}
     *
     * @param config the model's Engram configuration
     * @param table  the tokenizer's compression table; it sets V' and the compressed pad id
     * @throws IllegalArgumentException when the config's {@code pad_id} is outside the table
     */
    public static NgramHashMapping create(EngramConfig config, CompressionTable table) {
        return new NgramHashMapping(Objects.requireNonNull(config, "config"), Objects.requireNonNull(table, "table"));
    }

    /**
     * {@return the mapping for ids that are already compressed} The config must give
     * {@code compressed_vocab_size}; the identity table of that size is used.
     *
     * @param config the model's Engram configuration, with {@code compressed_vocab_size} set
     * @throws IllegalArgumentException when {@code compressed_vocab_size} is absent or too large for an
     *                                  identity table, or {@code pad_id} is outside it
     */
    public static NgramHashMapping forCompressedIds(EngramConfig config) {
        long v = config.compressedVocabSize().orElseThrow(() -> new IllegalArgumentException(
                "EngramConfig.compressed_vocab_size is required when no compression table is given"));
        return new NgramHashMapping(config, CompressionTable.identity(v));
    }

    /** {@return the configuration} */
    public EngramConfig config() {
        return config;
    }

    /** {@return the compression table (the identity table for already-compressed ids)} */
    public CompressionTable compressionTable() {
        return table;
    }

    /** {@return V', the compressed vocabulary size that sets the multipliers' bound} */
    public long compressedVocabSize() {
        return table.compressedVocabSize();
    }

    /** {@return the configured raw {@code pad_id} mapped through the table} */
    public long padIdCompressed() {
        return padIdCompressed;
    }

    /** {@return the Engram layer ids, in config order} */
    public List<Integer> layerIds() {
        return config.layerIds();
    }

    /**
     * {@return the hash parameters of one layer}
     *
     * @param layerId one of {@link #layerIds()}
     * @throws IllegalArgumentException when {@code layerId} is not an Engram layer
     */
    public LayerHashing layer(int layerId) {
        LayerHashing l = layers.get(layerId);
        if (l == null) {
            throw new IllegalArgumentException("layer " + layerId + " is not an Engram layer (layer_ids = "
                    + config.layerIds() + ")");
        }
        return l;
    }

    /**
     * {@return the compressed ids, a new array} Negative ids pass through unchanged.
     *
     * @param rawIds raw tokenizer ids
     * @throws IndexOutOfBoundsException for the first id {@code >=} the table's size, naming its index
     */
    public long[] compress(long[] rawIds) {
        return table.compress(rawIds);
    }

    /**
     * {@return the hash ids {@code [batch, seqLen, heads]} of one layer, row-major}
     * Each lies in {@code [0, p)} for its head's modulus {@code p}.
     *
     * @param rawIds  raw tokenizer ids {@code [batch, seqLen]}, row-major
     * @param batch   number of sequences, {@code >= 0}
     * @param seqLen  tokens per sequence, {@code >= 0}
     * @param layerId one of {@link #layerIds()}
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     * @throws IllegalArgumentException  when {@code rawIds.length != batch * seqLen} or the layer is unknown
     */
    public long[] hash(long[] rawIds, int batch, int seqLen, int layerId) {
        return hashCompressed(compress(rawIds), batch, seqLen, layerId);
    }

    /**
     * {@return the hash ids {@code [batch, seqLen, heads]} of one layer from already-compressed ids}
     *
     * @param compressedIds compressed ids {@code [batch, seqLen]}, row-major; negatives are hashed as they are
     * @param batch         number of sequences, {@code >= 0}
     * @param seqLen        tokens per sequence, {@code >= 0}
     * @param layerId       one of {@link #layerIds()}
     * @throws IllegalArgumentException when {@code compressedIds.length != batch * seqLen} or the layer is unknown
     */
    public long[] hashCompressed(long[] compressedIds, int batch, int seqLen, int layerId) {
        LayerHashing l = layer(layerId);
        return NgramHasher.hash(compressedIds, batch, seqLen, padIdCompressed, l.multipliers(), l.moduli(),
                config.nHeadPerNgram());
    }

    /**
     * {@return the hash ids {@code [tokens, heads]} of one layer for a packed batch of compressed ids}, each
     * sequence reading its {@code history} before its first token (SEMANTICS.md §8; see
     * {@link NgramHasher#hashPacked}).
     *
     * @param compressedIds compressed ids {@code [tokens]} of all sequences, back to back
     * @param cuSeqlens     {@code [S + 1]}: {@code cu[0] = 0}, nondecreasing, {@code cu[S] = tokens}
     * @param history       {@code [S, max_ngram_size - 1]}: per sequence the compressed ids before its first token,
     *                      oldest first ({@link #padIdCompressed()} where it has none)
     * @param layerId       one of {@link #layerIds()}
     * @throws IllegalArgumentException when the lengths do not fit each other or the layer is unknown
     */
    public long[] hashCompressedPacked(long[] compressedIds, int[] cuSeqlens, long[] history, int layerId) {
        LayerHashing l = layer(layerId);
        return NgramHasher.hashPacked(compressedIds, cuSeqlens, history, l.multipliers(), l.moduli(),
                config.nHeadPerNgram());
    }
}
