package dev.engram.reference;

import dev.engram.EngramConfig;

import java.util.Objects;

/**
 * The parameters of one Engram layer other than its embedding table: what the projections, the gate
 * and ShortConv use. Split from {@link EngramWeights} so a layer whose table lives elsewhere (in host
 * memory, larger than any Java array) can still be built. Layouts and shapes as in {@link EngramWeights}.
 * Arrays are owned, not copied; treat them as read-only.
 *
 * @param config          the configuration the shapes follow
 * @param keyWeight       [G, H, E] ({@code key_projs.g.weight})
 * @param keyBias         [G, H] ({@code key_projs.g.bias})
 * @param valueWeight     [H, E] ({@code value_proj.weight})
 * @param valueBias       [H] ({@code value_proj.bias})
 * @param keyNormWeight   [G, H] ({@code norm1.g.weight})
 * @param queryNormWeight [G, H] ({@code norm2.g.weight})
 * @param convNormWeight  [G, H] ({@code short_conv.norms.g.weight})
 * @param convWeight      [G*H, K] ({@code short_conv.conv.weight})
 */
public record DenseWeights(
        EngramConfig config,
        float[] keyWeight,
        float[] keyBias,
        float[] valueWeight,
        float[] valueBias,
        float[] keyNormWeight,
        float[] queryNormWeight,
        float[] convNormWeight,
        float[] convWeight) {

    /**
     * Checks every array against the shape the config implies.
     *
     * @throws IllegalArgumentException naming the first array that is missing or has the wrong length
     */
    public DenseWeights {
        Objects.requireNonNull(config, "config");
        int g = config.hcMult(), h = config.hiddenSize(), e = config.engramHiddenSize(), k = config.kernelSize();
        EngramWeights.checkSize("key_projs.*.weight", keyWeight, (long) g * h * e, "[" + g + " x " + h + ", " + e + "]");
        EngramWeights.checkSize("key_projs.*.bias", keyBias, (long) g * h, "[" + g + " x " + h + "]");
        EngramWeights.checkSize("value_proj.weight", valueWeight, (long) h * e, "[" + h + ", " + e + "]");
        EngramWeights.checkSize("value_proj.bias", valueBias, h, "[" + h + "]");
        EngramWeights.checkSize("norm1.*.weight", keyNormWeight, (long) g * h, "[" + g + " x " + h + "]");
        EngramWeights.checkSize("norm2.*.weight", queryNormWeight, (long) g * h, "[" + g + " x " + h + "]");
        EngramWeights.checkSize("short_conv.norms.*.weight", convNormWeight, (long) g * h, "[" + g + " x " + h + "]");
        EngramWeights.checkSize("short_conv.conv.weight", convWeight, (long) g * h * k, "[" + (g * h) + ", 1, " + k + "]");
    }
}
