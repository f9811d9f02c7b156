package dev.engram.hash;

/**
 * Everything that fixes one layer's hash and table layout.
 *
 * @param layerId     the backbone layer
 * @param multipliers {@code [max_ngram_size]} odd per-position multipliers
 * @param moduli      {@code [heads]} prime moduli, order-major (head i = (n-2)*n_head_per_ngram + j)
 * @param offsets     {@code [heads]} first table row of each head: exclusive prefix sums of the moduli
 * @param totalRows   rows of the layer's embedding table, the sum of the moduli
 */
public record LayerHashing(int layerId, long[] multipliers, long[] moduli, long[] offsets, long totalRows) {

    /**
     * {@return the layer's hashing, with the offsets and row count built from the moduli}
     *
     * @param layerId     the backbone layer
     * @param multipliers {@code [max_ngram_size]} odd per-position multipliers; copied
     * @param moduli      {@code [heads]} prime moduli, order-major; copied
     * @throws ArithmeticException when the moduli sum past {@code Long.MAX_VALUE}
     */
    public static LayerHashing of(int layerId, long[] multipliers, long[] moduli) {
        long[] offsets = new long[moduli.length];
        long total = 0;
        for (int i = 0; i < moduli.length; i++) {
            offsets[i] = total;
            total = Math.addExact(total, moduli[i]);
        }
        return new LayerHashing(layerId, multipliers.clone(), moduli.clone(), offsets, total);
    }

    /** {@return the number of hash heads of the layer} */
    public int heads() {
        return moduli.length;
    }

    /** {@return a copy of the {@code [max_ngram_size]} odd per-position multipliers} */
    @Override
    public long[] multipliers() {
        return multipliers.clone();
    }

    /** {@return a copy of the {@code [heads]} prime moduli, order-major} */
    @Override
    public long[] moduli() {
        return moduli.clone();
    }

    /** {@return a copy of the {@code [heads]} first table rows of the heads} */
    @Override
    public long[] offsets() {
        return offsets.clone();
    }
}
