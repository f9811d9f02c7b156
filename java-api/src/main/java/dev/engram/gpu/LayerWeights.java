package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.EngramWeights;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One layer's parameters for the GPU layers, as {@link ParameterTensor}s in host or device memory. Layouts follow
 * the official state_dict, row-major (H = hidden_size, G = hc_mult, E = engram hidden size, Dh = head dim,
 * K = kernel size):
 * <ul>
 *   <li>{@code table} [totalRows, Dh] ({@code multi_head_embedding.embedding.weight}); absent for a layer whose
 *       table stays in host memory ({@link HostTableLayer})</li>
 *   <li>{@code keyWeight} [G, H, E] ({@code key_projs.g.weight}), {@code keyBias} [G, H]</li>
 *   <li>{@code valueWeight} [H, E] ({@code value_proj.weight}), {@code valueBias} [H]</li>
 *   <li>{@code keyNormWeight} [G, H] ({@code norm1.g.weight}), {@code queryNormWeight} [G, H] ({@code norm2.g.weight})</li>
 *   <li>{@code convNormWeight} [G, H] ({@code short_conv.norms.g.weight}), {@code convWeight} [G*H, K]
 *       ({@code short_conv.conv.weight})</li>
 * </ul>
 * Built by name, so no two tensors of the same size can be swapped unnoticed:
 * <pre>{@code
 * LayerWeights w = LayerWeights.builder()
 *         .table(ParameterTensor.ofHost(mappedTable, DType.BFLOAT16))
 *         .keyWeight(ParameterTensor.of(keyWeight)).keyBias(ParameterTensor.of(keyBias))
 *         ... .build();
 * }</pre>
 * Element counts are checked against the config when a layer is created. The table alone may be fp8
 * ({@link ParameterTensor#ofFp8Host}, {@link ParameterTensor#ofFp8Device}): its block must divide the head dim and
 * its scales be {@code [totalRows, Dh / block]}, also checked before anything is allocated.
 */
public final class LayerWeights {
    private final ParameterTensor table;
    private final ParameterTensor keyWeight;
    private final ParameterTensor keyBias;
    private final ParameterTensor valueWeight;
    private final ParameterTensor valueBias;
    private final ParameterTensor keyNormWeight;
    private final ParameterTensor queryNormWeight;
    private final ParameterTensor convNormWeight;
    private final ParameterTensor convWeight;

    private LayerWeights(Builder b) {
        table = b.table;
        keyWeight = require(b.keyWeight, "keyWeight");
        keyBias = require(b.keyBias, "keyBias");
        valueWeight = require(b.valueWeight, "valueWeight");
        valueBias = require(b.valueBias, "valueBias");
        keyNormWeight = require(b.keyNormWeight, "keyNormWeight");
        queryNormWeight = require(b.queryNormWeight, "queryNormWeight");
        convNormWeight = require(b.convNormWeight, "convNormWeight");
        convWeight = require(b.convWeight, "convWeight");
    }

    private static ParameterTensor require(ParameterTensor t, String name) {
        if (t == null) throw new IllegalStateException("LayerWeights: " + name + " was not set");
        return t;
    }

    /** {@return a builder with nothing set} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * {@return the reference's float32 arrays as GPU layer weights} (not copied until the upload)
     * @param w the layer's weights, table included
     */
    public static LayerWeights of(EngramWeights w) {
        Objects.requireNonNull(w, "weights");
        return dense(w.dense()).table(ParameterTensor.of(w.embedding())).build();
    }

    /**
     * {@return the reference's float32 arrays without the table} (for {@link HostTableLayer})
     * @param w the dense parameters
     */
    public static LayerWeights of(DenseWeights w) {
        Objects.requireNonNull(w, "weights");
        return dense(w).build();
    }

    private static Builder dense(DenseWeights w) {
        return builder().keyWeight(ParameterTensor.of(w.keyWeight())).keyBias(ParameterTensor.of(w.keyBias()))
                .valueWeight(ParameterTensor.of(w.valueWeight())).valueBias(ParameterTensor.of(w.valueBias()))
                .keyNormWeight(ParameterTensor.of(w.keyNormWeight())).queryNormWeight(ParameterTensor.of(w.queryNormWeight()))
                .convNormWeight(ParameterTensor.of(w.convNormWeight())).convWeight(ParameterTensor.of(w.convWeight()));
    }

    /** {@return the table, or null when absent} */
    public ParameterTensor table() {
        return table;
    }

    /** {@return [G, H, E]} */
    public ParameterTensor keyWeight() {
        return keyWeight;
    }

    /** {@return [G, H]} */
    public ParameterTensor keyBias() {
        return keyBias;
    }

    /** {@return [H, E]} */
    public ParameterTensor valueWeight() {
        return valueWeight;
    }

    /** {@return [H]} */
    public ParameterTensor valueBias() {
        return valueBias;
    }

    /** {@return [G, H]} */
    public ParameterTensor keyNormWeight() {
        return keyNormWeight;
    }

    /** {@return [G, H]} */
    public ParameterTensor queryNormWeight() {
        return queryNormWeight;
    }

    /** {@return [G, H]} */
    public ParameterTensor convNormWeight() {
        return convNormWeight;
    }

    /** {@return [G*H, K]} */
    public ParameterTensor convWeight() {
        return convWeight;
    }

    /**
     * Checks every element count against {@code config} (and the table's against {@code tableRows}).
     *
     * @throws IllegalArgumentException naming each tensor whose size is off
     */
    void checkShapes(EngramConfig c, long tableRows, boolean tableWanted) {
        long g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize(), k = c.kernelSize();
        List<String> problems = new ArrayList<>();
        if (tableWanted && table == null) problems.add("table is missing");
        if (!tableWanted && table != null) problems.add("table is set, but this layer keeps its table in host memory");
        if (tableWanted && table != null) {
            check(problems, "table", table, Math.multiplyExact(tableRows, (long) c.headDim()),
                    "[" + tableRows + ", " + c.headDim() + "]");
            if (table.isFp8()) checkFp8Scales(problems, table, tableRows, c.headDim());
        }
        check(problems, "keyWeight", keyWeight, g * h * e, "[" + g + ", " + h + ", " + e + "]");
        check(problems, "keyBias", keyBias, g * h, "[" + g + ", " + h + "]");
        check(problems, "valueWeight", valueWeight, h * e, "[" + h + ", " + e + "]");
        check(problems, "valueBias", valueBias, h, "[" + h + "]");
        check(problems, "keyNormWeight", keyNormWeight, g * h, "[" + g + ", " + h + "]");
        check(problems, "queryNormWeight", queryNormWeight, g * h, "[" + g + ", " + h + "]");
        check(problems, "convNormWeight", convNormWeight, g * h, "[" + g + ", " + h + "]");
        check(problems, "convWeight", convWeight, g * h * k, "[" + g * h + ", " + k + "]");
        if (!problems.isEmpty()) throw new IllegalArgumentException("LayerWeights: " + String.join("; ", problems));
    }

    /** An fp8 table's block divides the head dim and its scales are {@code [rows, headDim / block]}. */
    private static void checkFp8Scales(List<String> problems, ParameterTensor t, long rows, int headDim) {
        int block = t.scaleBlock();
        if (headDim % block != 0) {
            problems.add("fp8 table block " + block + " does not divide head dim " + headDim);
            return;
        }
        long expected = Math.multiplyExact(rows, (long) (headDim / block));
        if (t.scaleCount() != expected) {
            problems.add("fp8 table has " + t.scaleCount() + " scales, expected " + expected + " for [" + rows + ", "
                    + headDim / block + "] (block " + block + ")");
        }
    }

    private static void check(List<String> problems, String name, ParameterTensor t, long expected, String shape) {
        if (t.isFp8() && !name.equals("table")) {
            problems.add(name + " is an fp8 tensor: only the table may be fp8");
            return;
        }
        if (t.elementCount() != expected) {
            problems.add(name + " has " + t.elementCount() + " elements, expected " + expected + " for " + shape);
        }
    }

    /** Sets tensors by name; {@link #build()} requires all but the table. */
    public static final class Builder {
        private ParameterTensor table, keyWeight, keyBias, valueWeight, valueBias, keyNormWeight, queryNormWeight,
                convNormWeight, convWeight;

        private Builder() {}

        /**
         * Sets the embedding table; optional: a layer without one keeps its rows in host memory
         * ({@link HostTableLayer}).
         *
         * @param t {@code [totalRows, Dh]}, {@code multi_head_embedding.embedding.weight}: float, or fp8 codes with
         *          block scales
         * @return this builder
         */
        public Builder table(ParameterTensor t) {
            table = Objects.requireNonNull(t, "table");
            return this;
        }

        /**
         * Sets the key projection weights, required.
         *
         * @param t {@code [G, H, E]}, {@code key_projs.g.weight} of every branch
         * @return this builder
         */
        public Builder keyWeight(ParameterTensor t) {
            keyWeight = Objects.requireNonNull(t, "keyWeight");
            return this;
        }

        /**
         * Sets the key projection biases, required.
         *
         * @param t {@code [G, H]}, {@code key_projs.g.bias} of every branch
         * @return this builder
         */
        public Builder keyBias(ParameterTensor t) {
            keyBias = Objects.requireNonNull(t, "keyBias");
            return this;
        }

        /**
         * Sets the value projection weight, required.
         *
         * @param t {@code [H, E]}, {@code value_proj.weight}
         * @return this builder
         */
        public Builder valueWeight(ParameterTensor t) {
            valueWeight = Objects.requireNonNull(t, "valueWeight");
            return this;
        }

        /**
         * Sets the value projection bias, required.
         *
         * @param t {@code [H]}, {@code value_proj.bias}
         * @return this builder
         */
        public Builder valueBias(ParameterTensor t) {
            valueBias = Objects.requireNonNull(t, "valueBias");
            return this;
        }

        /**
         * Sets the key RMSNorm weights, required.
         *
         * @param t {@code [G, H]}, {@code norm1.g.weight} of every branch
         * @return this builder
         */
        public Builder keyNormWeight(ParameterTensor t) {
            keyNormWeight = Objects.requireNonNull(t, "keyNormWeight");
            return this;
        }

        /**
         * Sets the query RMSNorm weights, required.
         *
         * @param t {@code [G, H]}, {@code norm2.g.weight} of every branch
         * @return this builder
         */
        public Builder queryNormWeight(ParameterTensor t) {
            queryNormWeight = Objects.requireNonNull(t, "queryNormWeight");
            return this;
        }

        /**
         * Sets the ShortConv RMSNorm weights, required.
         *
         * @param t {@code [G, H]}, {@code short_conv.norms.g.weight} of every branch
         * @return this builder
         */
        public Builder convNormWeight(ParameterTensor t) {
            convNormWeight = Objects.requireNonNull(t, "convNormWeight");
            return this;
        }

        /**
         * Sets the depthwise convolution weights, required.
         *
         * @param t {@code [G*H, K]}, {@code short_conv.conv.weight}
         * @return this builder
         */
        public Builder convWeight(ParameterTensor t) {
            convWeight = Objects.requireNonNull(t, "convWeight");
            return this;
        }

        /**
         * {@return the weights}
         * @throws IllegalStateException when a tensor other than the table was not set
         */
        public LayerWeights build() {
            return new LayerWeights(this);
        }
    }
}
