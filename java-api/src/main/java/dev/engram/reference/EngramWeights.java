package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.LayerHashing;

/**
 * One Engram layer's parameters, stored as float32 (as the model stores them; every value is exact
 * in double, where the reference computes). Layouts follow the reference's state_dict, row-major:
 * Linear weights are {@code [out, in]} and the conv weight is {@code [G*H, 1, K]}.
 *
 * Shapes below use H = hidden_size, G = hc_mult, E = engram hidden size, Dh = head dim, K = kernel size.
 *
 * <p>Arrays are owned by this object and not copied (tables can be gigabytes); treat them as read-only.
 *
 * @param config          the configuration the shapes follow
 * @param hashing         the layer's hashing, which sets the table's row count {@code totalRows}
 * @param embedding       [totalRows, Dh] ({@code multi_head_embedding.embedding.weight})
 * @param keyWeight       [G, H, E] ({@code key_projs.g.weight})
 * @param keyBias         [G, H] ({@code key_projs.g.bias})
 * @param valueWeight     [H, E] ({@code value_proj.weight})
 * @param valueBias       [H] ({@code value_proj.bias})
 * @param keyNormWeight   [G, H] ({@code norm1.g.weight})
 * @param queryNormWeight [G, H] ({@code norm2.g.weight})
 * @param convNormWeight  [G, H] ({@code short_conv.norms.g.weight})
 * @param convWeight      [G*H, K] ({@code short_conv.conv.weight}); channel c = g*H + h, tap K-1 multiplies the
 *                        current step
 */
public record EngramWeights(
        EngramConfig config,
        LayerHashing hashing,
        float[] embedding,
        float[] keyWeight,
        float[] keyBias,
        float[] valueWeight,
        float[] valueBias,
        float[] keyNormWeight,
        float[] queryNormWeight,
        float[] convNormWeight,
        float[] convWeight) {

    /**
     * Checks every array against the shape the config and the layer's table size imply.
     *
     * @throws IllegalArgumentException naming the first array that is missing or has the wrong length
     */
    public EngramWeights {
        checkSize("multi_head_embedding.embedding.weight", embedding, tableElements(config, hashing),
                "[" + hashing.totalRows() + ", " + config.headDim() + "]");
        new DenseWeights(config, keyWeight, keyBias, valueWeight, valueBias, keyNormWeight, queryNormWeight,
                convNormWeight, convWeight); // checks the other shapes
    }

    /** {@return the parameters other than the embedding table (the same arrays, not copies)} */
    public DenseWeights dense() {
        return new DenseWeights(config, keyWeight, keyBias, valueWeight, valueBias, keyNormWeight, queryNormWeight,
                convNormWeight, convWeight);
    }

    /**
     * {@return weights of the same layer with {@code f} applied to every array}, e.g.
     * {@code w.mapArrays(BFloat16::roundTrip)} for what a bfloat16 copy of the layer computes with
     * @param f maps an array to one of the same length (a new array; this object's arrays must not change)
     */
    public EngramWeights mapArrays(java.util.function.UnaryOperator<float[]> f) {
        return new EngramWeights(config, hashing, f.apply(embedding), f.apply(keyWeight), f.apply(keyBias),
                f.apply(valueWeight), f.apply(valueBias), f.apply(keyNormWeight), f.apply(queryNormWeight),
                f.apply(convNormWeight), f.apply(convWeight));
    }

    /**
     * {@return the number of elements of the layer's embedding table, {@code totalRows * Dh}}
     *
     * @param config  gives the head dim {@code Dh}
     * @param hashing gives the layer's {@code totalRows}
     * @throws IllegalArgumentException when a Java array cannot hold that many elements
     */
    public static int tableElements(EngramConfig config, LayerHashing hashing) {
        long n = Math.multiplyExact(hashing.totalRows(), (long) config.headDim());
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("embedding table of layer " + hashing.layerId() + " has " + n
                    + " elements, more than a Java array holds; the CPU reference cannot store it");
        }
        return (int) n;
    }

    static void checkSize(String name, float[] a, long expected, String shape) {
        if (a == null) throw new IllegalArgumentException(name + " is missing");
        if (a.length != expected) {
            throw new IllegalArgumentException(name + " has " + a.length + " elements, expected " + expected
                    + " for shape " + shape);
        }
    }
}
