package dev.engram;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Reads and writes {@link EngramConfig} as JSON with the reference's snake_case keys.
 *
 * <p>Accepted shapes: a flat object ({@code {"engram_vocab_size": [...], "max_ngram_size": 3, ...,
 * "hidden_size": 1024, "hc_mult": 4}}), or the reference's split form
 * {@code {"engram_config": {...}, "backbone_config": {...}}} (as in the golden manifests). Missing keys
 * take the reference defaults; unknown keys are rejected so that a typo is not silently ignored.
 */
public final class EngramConfigJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** Keys of the reference configs that do not affect the Engram layer itself. */
    private static final Set<String> IGNORED = Set.of("tokenizer_name_or_path", "vocab_size", "num_layers");
    private static final Set<String> KNOWN = Set.of("engram_vocab_size", "max_ngram_size", "n_embed_per_ngram",
            "n_head_per_ngram", "layer_ids", "pad_id", "seed", "kernel_size", "hidden_size", "hc_mult",
            "compressed_vocab_size", "gate_norm_eps", "conv_norm_eps");

    private EngramConfigJson() {}

    /** Parses a config file; errors name the file and the problem. */
    public static EngramConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Parses a config from JSON text. */
    public static EngramConfig parse(String json) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("config must be a JSON object");
        ObjectNode flat = MAPPER.createObjectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            if ((e.getKey().equals("engram_config") || e.getKey().equals("backbone_config")) && e.getValue().isObject()) {
                e.getValue().fields().forEachRemaining(inner -> flat.set(inner.getKey(), inner.getValue()));
            } else {
                flat.set(e.getKey(), e.getValue());
            }
        }
        for (Iterator<String> it = flat.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!KNOWN.contains(key) && !IGNORED.contains(key)) {
                throw new IllegalArgumentException("unknown config key \"" + key + "\" (known: " + KNOWN + ")");
            }
        }
        EngramConfig d = EngramConfig.referenceDefault();
        return new EngramConfig(
                flat.has("engram_vocab_size") ? longList(flat, "engram_vocab_size") : d.engramVocabSize(),
                intValue(flat, "max_ngram_size", d.maxNgramSize()),
                intValue(flat, "n_embed_per_ngram", d.nEmbedPerNgram()),
                intValue(flat, "n_head_per_ngram", d.nHeadPerNgram()),
                flat.has("layer_ids") ? longList(flat, "layer_ids").stream().map(v -> toInt("layer_ids", v)).toList()
                        : d.layerIds(),
                longValue(flat, "pad_id", d.padId()),
                longValue(flat, "seed", d.seed()),
                intValue(flat, "kernel_size", d.kernelSize()),
                intValue(flat, "hidden_size", d.hiddenSize()),
                intValue(flat, "hc_mult", d.hcMult()),
                flat.has("compressed_vocab_size") && !flat.get("compressed_vocab_size").isNull()
                        ? OptionalLong.of(longValue(flat, "compressed_vocab_size", 0)) : OptionalLong.empty(),
                doubleValue(flat, "gate_norm_eps", d.gateNormEps()),
                doubleValue(flat, "conv_norm_eps", d.convNormEps()));
    }

    /** The config as a flat JSON object with snake_case keys. */
    public static String write(EngramConfig c) {
        ObjectNode o = MAPPER.createObjectNode();
        ArrayNode vocab = o.putArray("engram_vocab_size");
        c.engramVocabSize().forEach(vocab::add);
        o.put("max_ngram_size", c.maxNgramSize());
        o.put("n_embed_per_ngram", c.nEmbedPerNgram());
        o.put("n_head_per_ngram", c.nHeadPerNgram());
        ArrayNode layers = o.putArray("layer_ids");
        c.layerIds().forEach(layers::add);
        o.put("pad_id", c.padId());
        o.put("seed", c.seed());
        o.put("kernel_size", c.kernelSize());
        o.put("hidden_size", c.hiddenSize());
        o.put("hc_mult", c.hcMult());
        c.compressedVocabSize().ifPresent(v -> o.put("compressed_vocab_size", v));
        o.put("gate_norm_eps", c.gateNormEps());
        o.put("conv_norm_eps", c.convNormEps());
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<Long> longList(JsonNode o, String key) {
        JsonNode n = o.get(key);
        if (!n.isArray()) throw new IllegalArgumentException("\"" + key + "\" must be an array of integers, got " + n);
        List<Long> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isIntegralNumber() || !e.canConvertToLong()) {
                throw new IllegalArgumentException("\"" + key + "\" must hold 64-bit integers, got " + e);
            }
            out.add(e.longValue());
        }
        return out;
    }

    private static long longValue(JsonNode o, String key, long dflt) {
        JsonNode n = o.get(key);
        if (n == null) return dflt;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw new IllegalArgumentException("\"" + key + "\" must be a 64-bit integer, got " + n);
        }
        return n.longValue();
    }

    private static int intValue(JsonNode o, String key, int dflt) {
        return o.has(key) ? toInt(key, longValue(o, key, dflt)) : dflt;
    }

    private static int toInt(String key, long v) {
        if (v != (int) v) throw new IllegalArgumentException("\"" + key + "\" value " + v + " does not fit in 32 bits");
        return (int) v;
    }

    private static double doubleValue(JsonNode o, String key, double dflt) {
        JsonNode n = o.get(key);
        if (n == null) return dflt;
        if (!n.isNumber()) throw new IllegalArgumentException("\"" + key + "\" must be a number, got " + n);
        return n.doubleValue();
    }
}
