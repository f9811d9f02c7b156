package dev.engram.checkpoint;

import dev.engram.EngramConfig;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.PrimeModuli;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The shape of one layer's embedding table as the config fixes it: its row count (the sum of the layer's prime
 * moduli) and each head's first row. This is what a checkpoint's table must match; unlike a {@link LayerHashing}, it
 * needs no compression table (the moduli depend on the config alone, SEMANTICS.md §3.3).
 *
 * @param layerId the backbone layer
 * @param offsets {@code [heads]} first table row of each head
 * @param rows    the table's rows
 */
public record TableLayout(int layerId, long[] offsets, long rows) {
    /**
     * Copies the offsets.
     *
     * @throws IllegalArgumentException when {@code rows < 1}
     */
    public TableLayout {
        offsets = offsets.clone();
        if (rows < 1) throw new IllegalArgumentException("a table needs rows >= 1, got " + rows);
    }

    /**
     * {@return the layout of a layer whose hashing is known}
     *
     * @param hashing the layer's hashing
     */
    public static TableLayout of(LayerHashing hashing) {
        Objects.requireNonNull(hashing, "hashing");
        return new TableLayout(hashing.layerId(), hashing.offsets(), hashing.totalRows());
    }

    /**
     * {@return the layout of every layer of the config, in {@code layer_ids} order}
     *
     * @param config the configuration
     */
    public static Map<Integer, TableLayout> of(EngramConfig config) {
        Map<Integer, TableLayout> out = new LinkedHashMap<>();
        PrimeModuli.compute(config).forEach((layer, moduli) -> {
            LayerHashing h = LayerHashing.of(layer, new long[0], moduli); // offsets and rows only: no multipliers
            out.put(layer, of(h));
        });
        return out;
    }

    /**
     * {@return the layout of one layer of the config}
     *
     * @param config  the configuration
     * @param layerId one of its {@code layer_ids}
     * @throws IllegalArgumentException when {@code layerId} is not in {@code layer_ids}
     */
    public static TableLayout of(EngramConfig config, int layerId) {
        TableLayout t = of(config).get(layerId);
        if (t == null) {
            throw new IllegalArgumentException("layer " + layerId + " is not one of the config's layer_ids "
                    + config.layerIds());
        }
        return t;
    }

    /** {@return a copy of the heads' first rows} */
    @Override
    public long[] offsets() {
        return offsets.clone();
    }

    /** {@return the number of hash heads} */
    public int heads() {
        return offsets.length;
    }

    /**
     * {@return whether the other object is a layout with the same layer, offsets and rows}
     *
     * @param o the object to compare with
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof TableLayout t && layerId == t.layerId && rows == t.rows && Arrays.equals(offsets, t.offsets);
    }

    /** {@return a hash of the fields, the offsets by content} */
    @Override
    public int hashCode() {
        return Objects.hash(layerId, rows, Arrays.hashCode(offsets));
    }

    /** {@return e.g. {@code TableLayout[layer 1, 8 heads, 22934 rows]}} */
    @Override
    public String toString() {
        return "TableLayout[layer " + layerId + ", " + offsets.length + " heads, " + rows + " rows]";
    }
}
