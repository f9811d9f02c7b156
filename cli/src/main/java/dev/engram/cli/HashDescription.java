package dev.engram.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;

/**
 * The hash parameters of a mapping as JSON, for {@code hash --describe}: what another implementation
 * (a CUDA kernel, a Python check) needs to reproduce the hash ids and table rows.
 *
 * <pre>
 * { "compressed_vocab_size": V', "pad_id_compressed": p,
 *   "layers": [ { "layer_id", "multipliers", "moduli", "offsets", "total_rows" }, ... ]  (layer_ids order) }
 * </pre>
 */
final class HashDescription {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private HashDescription() {}

    static String toJson(NgramHashMapping mapping) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("compressed_vocab_size", mapping.compressedVocabSize());
        root.put("pad_id_compressed", mapping.padIdCompressed());
        ArrayNode layers = root.putArray("layers");
        for (int id : mapping.layerIds()) {
            LayerHashing l = mapping.layer(id);
            ObjectNode o = layers.addObject();
            o.put("layer_id", l.layerId());
            putLongs(o.putArray("multipliers"), l.multipliers());
            putLongs(o.putArray("moduli"), l.moduli());
            putLongs(o.putArray("offsets"), l.offsets());
            o.put("total_rows", l.totalRows());
        }
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // cannot happen for a tree of numbers
        }
    }

    private static void putLongs(ArrayNode array, long[] values) {
        for (long v : values) array.add(v);
    }
}
