package dev.engram.io;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The names of a model's per-layer tensors: a prefix with one {@value #PLACEHOLDER} where the layer id goes, e.g.
 * {@code model.layers.{layer}.engram.}, then the tensor's short name ({@code value_proj.weight}, see
 * {@link EngramTensorNames}). Layer ids are written in plain decimal ({@code 3}, not {@code 03}); names that
 * differ are not a layer's tensors.
 */
public final class LayerPrefix {
    /** What a pattern holds where the layer id goes. */
    public static final String PLACEHOLDER = "{layer}";

    private final String pattern;
    private final String before;
    private final String after;

    private LayerPrefix(String pattern, String before, String after) {
        this.pattern = pattern;
        this.before = before;
        this.after = after;
    }

    /**
     * {@return the prefix a pattern describes}
     *
     * @param pattern the prefix with exactly one {@value #PLACEHOLDER}, e.g. {@code model.layers.{layer}.engram.}
     * @throws IllegalArgumentException when the placeholder is missing or repeated, or a digit follows it (the
     *                                  layer id would have no end)
     */
    public static LayerPrefix of(String pattern) {
        int at = pattern.indexOf(PLACEHOLDER);
        if (at < 0 || pattern.indexOf(PLACEHOLDER, at + 1) >= 0) {
            throw new IllegalArgumentException("layer prefix \"" + pattern + "\" must hold " + PLACEHOLDER + " exactly once");
        }
        String after = pattern.substring(at + PLACEHOLDER.length());
        if (!after.isEmpty() && isDigit(after.charAt(0))) {
            throw new IllegalArgumentException("layer prefix \"" + pattern + "\" has a digit right after " + PLACEHOLDER);
        }
        return new LayerPrefix(pattern, pattern.substring(0, at), after);
    }

    /**
     * {@return the pattern, with its placeholder}
     */
    public String pattern() {
        return pattern;
    }

    /**
     * {@return the prefix of one layer, e.g. {@code model.layers.3.engram.}}
     *
     * @param layer the layer id
     * @throws IllegalArgumentException when {@code layer} is negative
     */
    public String prefix(int layer) {
        if (layer < 0) throw new IllegalArgumentException("layer id must be >= 0, got " + layer);
        return before + layer + after;
    }

    /**
     * {@return a tensor's full name, e.g. {@code model.layers.3.engram.value_proj.weight}}
     *
     * @param layer     the layer id
     * @param shortName the name within the layer
     * @throws IllegalArgumentException when {@code layer} is negative
     */
    public String fullName(int layer, String shortName) {
        return prefix(layer) + Objects.requireNonNull(shortName, "shortName");
    }

    /**
     * {@return the layer a full tensor name belongs to, or empty when it does not match the pattern (a different
     * prefix, a non-decimal or zero-padded id, an id past {@code int}, or nothing after the prefix)}
     *
     * @param name a full tensor name
     */
    public OptionalInt layerOf(String name) {
        if (!name.startsWith(before)) return OptionalInt.empty();
        int start = before.length(), end = start;
        while (end < name.length() && isDigit(name.charAt(end))) end++;
        int digits = end - start;
        if (digits == 0 || digits > 10 || (digits > 1 && name.charAt(start) == '0')) return OptionalInt.empty();
        if (!name.startsWith(after, end) || name.length() == end + after.length()) return OptionalInt.empty();
        long id = Long.parseLong(name, start, end, 10);
        return id > Integer.MAX_VALUE ? OptionalInt.empty() : OptionalInt.of((int) id);
    }

    /**
     * {@return the layer ids that have at least one tensor in the checkpoint, ascending}
     *
     * @param checkpoint the checkpoint to search
     */
    public List<Integer> layers(SafetensorsCheckpoint checkpoint) {
        TreeSet<Integer> ids = new TreeSet<>();
        for (TensorInfo t : checkpoint.tensors()) layerOf(t.name()).ifPresent(ids::add);
        return List.copyOf(ids);
    }

    /**
     * {@return one layer's tensors by short name (the full name less the layer's prefix), sorted by short name}
     *
     * @param checkpoint the checkpoint to search
     * @param layer      the layer id
     * @throws IllegalArgumentException when {@code layer} is negative
     */
    public Map<String, TensorInfo> tensors(SafetensorsCheckpoint checkpoint, int layer) {
        String prefix = prefix(layer);
        TreeMap<String, TensorInfo> out = new TreeMap<>();
        for (TensorInfo t : checkpoint.tensors()) {
            if (t.name().startsWith(prefix) && t.name().length() > prefix.length()) {
                out.put(t.name().substring(prefix.length()), t);
            }
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * {@return one tensor of a layer}
     *
     * @param checkpoint the checkpoint to search
     * @param layer      the layer id
     * @param shortName  the name within the layer, e.g. {@link EngramTensorNames#VALUE_PROJ_WEIGHT}
     * @throws SafetensorsException     when the checkpoint lacks it, naming it in full
     * @throws IllegalArgumentException when {@code layer} is negative
     */
    public TensorInfo tensor(SafetensorsCheckpoint checkpoint, int layer, String shortName) {
        return checkpoint.tensor(fullName(layer, shortName));
    }

    /**
     * {@return the bytes of one tensor of a layer, as {@link SafetensorsCheckpoint#data} gives them}
     *
     * @param checkpoint the checkpoint to read
     * @param layer      the layer id
     * @param shortName  the name within the layer
     * @throws SafetensorsException     when the checkpoint lacks it, naming it in full
     * @throws IllegalArgumentException when {@code layer} is negative
     * @throws IllegalStateException    when the checkpoint is closed
     */
    public MemorySegment data(SafetensorsCheckpoint checkpoint, int layer, String shortName) {
        return checkpoint.data(fullName(layer, shortName));
    }

    /**
     * {@return the pattern}
     */
    @Override
    public String toString() {
        return pattern;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
