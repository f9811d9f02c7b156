package dev.engram;

import dev.engram.json.JsonNumber;
import dev.engram.json.JsonReader;
import dev.engram.json.JsonWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
 * take the reference defaults; unknown keys are rejected so that a typo is not silently ignored, and so
 * is a key given twice (in one object, or in both sections). The JSON itself is read strictly by a small
 * reader of this package, so the library needs no JSON dependency.
 */
public final class EngramConfigJson {
    /** Keys of the reference configs that do not affect the Engram layer itself. */
    private static final Set<String> IGNORED = Set.of("tokenizer_name_or_path", "vocab_size", "num_layers");
    private static final Set<String> KNOWN = Set.of("engram_vocab_size", "max_ngram_size", "n_embed_per_ngram",
            "n_head_per_ngram", "layer_ids", "pad_id", "seed", "kernel_size", "hidden_size", "hc_mult",
            "compressed_vocab_size", "gate_norm_eps", "conv_norm_eps");
    private static final Set<String> SECTIONS = Set.of("engram_config", "backbone_config");

    private EngramConfigJson() {}

    /**
     * Parses a config file; errors name the file and the problem.
     *
     * @param file a config.json (the official one, or this library's flat form)
     * @return the validated config
     * @throws IllegalArgumentException for malformed JSON or an invalid field, naming the file
     * @throws java.io.UncheckedIOException when the file cannot be read
     */
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

    /**
     * Parses a config from JSON text (strict JSON: malformed text, duplicate keys or trailing content
     * are errors that give the line and column).
     *
     * @param json the JSON text
     * @return the validated config
     * @throws IllegalArgumentException for malformed JSON, a missing or unknown field or an invalid value
     */
    public static EngramConfig parse(String json) {
        if (!(JsonReader.parse(json) instanceof Map<?, ?> root)) {
            throw new IllegalArgumentException("config must be a JSON object");
        }
        Map<String, Object> flat = new LinkedHashMap<>();
        for (var e : root.entrySet()) {
            String key = (String) e.getKey();
            if (SECTIONS.contains(key) && e.getValue() instanceof Map<?, ?> section) {
                section.forEach((k, v) -> put(flat, (String) k, v));
            } else {
                put(flat, key, e.getValue());
            }
        }
        for (String key : flat.keySet()) {
            if (!KNOWN.contains(key) && !IGNORED.contains(key)) {
                throw new IllegalArgumentException("unknown config key \"" + key + "\" (known: " + KNOWN + ")");
            }
        }
        EngramConfig d = EngramConfig.referenceDefault();
        return new EngramConfig(
                flat.containsKey("engram_vocab_size") ? longList(flat, "engram_vocab_size") : d.engramVocabSize(),
                intValue(flat, "max_ngram_size", d.maxNgramSize()),
                intValue(flat, "n_embed_per_ngram", d.nEmbedPerNgram()),
                intValue(flat, "n_head_per_ngram", d.nHeadPerNgram()),
                flat.containsKey("layer_ids") ? longList(flat, "layer_ids").stream().map(v -> toInt("layer_ids", v)).toList()
                        : d.layerIds(),
                longValue(flat, "pad_id", d.padId()),
                longValue(flat, "seed", d.seed()),
                intValue(flat, "kernel_size", d.kernelSize()),
                intValue(flat, "hidden_size", d.hiddenSize()),
                intValue(flat, "hc_mult", d.hcMult()),
                flat.get("compressed_vocab_size") != null // absent or null: not given
                        ? OptionalLong.of(longValue(flat, "compressed_vocab_size", 0)) : OptionalLong.empty(),
                doubleValue(flat, "gate_norm_eps", d.gateNormEps()),
                doubleValue(flat, "conv_norm_eps", d.convNormEps()));
    }

    /**
     * {@return the config as a flat JSON object with snake_case keys}, which {@link #parse} reads back
     * @param c the config
     */
    public static String write(EngramConfig c) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("engram_vocab_size", c.engramVocabSize());
        o.put("max_ngram_size", c.maxNgramSize());
        o.put("n_embed_per_ngram", c.nEmbedPerNgram());
        o.put("n_head_per_ngram", c.nHeadPerNgram());
        o.put("layer_ids", c.layerIds());
        o.put("pad_id", c.padId());
        o.put("seed", c.seed());
        o.put("kernel_size", c.kernelSize());
        o.put("hidden_size", c.hiddenSize());
        o.put("hc_mult", c.hcMult());
        c.compressedVocabSize().ifPresent(v -> o.put("compressed_vocab_size", v));
        o.put("gate_norm_eps", c.gateNormEps());
        o.put("conv_norm_eps", c.convNormEps());
        return JsonWriter.pretty(o);
    }

    /** A key of the split form's two sections given in both would leave it unclear which one counts. */
    private static void put(Map<String, Object> flat, String key, Object value) {
        if (flat.containsKey(key)) {
            throw new IllegalArgumentException("config key \"" + key + "\" is given twice (at the top level, in "
                    + "engram_config or in backbone_config)");
        }
        flat.put(key, value);
    }

    private static List<Long> longList(Map<String, Object> o, String key) {
        if (!(o.get(key) instanceof List<?> list)) {
            throw new IllegalArgumentException("\"" + key + "\" must be an array of integers, got " + JsonWriter.compact(o.get(key)));
        }
        List<Long> out = new ArrayList<>();
        for (Object e : list) {
            if (!(e instanceof JsonNumber n) || !n.fitsLong()) {
                throw new IllegalArgumentException("\"" + key + "\" must hold 64-bit integers, got " + JsonWriter.compact(e));
            }
            out.add(n.longValue());
        }
        return out;
    }

    private static long longValue(Map<String, Object> o, String key, long dflt) {
        if (!o.containsKey(key)) return dflt;
        Object v = o.get(key);
        if (!(v instanceof JsonNumber n) || !n.fitsLong()) {
            throw new IllegalArgumentException("\"" + key + "\" must be a 64-bit integer, got " + JsonWriter.compact(v));
        }
        return n.longValue();
    }

    private static int intValue(Map<String, Object> o, String key, int dflt) {
        return o.containsKey(key) ? toInt(key, longValue(o, key, dflt)) : dflt;
    }

    private static int toInt(String key, long v) {
        if (v != (int) v) throw new IllegalArgumentException("\"" + key + "\" value " + v + " does not fit in 32 bits");
        return (int) v;
    }

    private static double doubleValue(Map<String, Object> o, String key, double dflt) {
        if (!o.containsKey(key)) return dflt;
        if (!(o.get(key) instanceof JsonNumber n)) {
            throw new IllegalArgumentException("\"" + key + "\" must be a number, got " + JsonWriter.compact(o.get(key)));
        }
        return n.doubleValue();
    }
}
