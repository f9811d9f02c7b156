package dev.engram.io;

import java.util.ArrayList;
import java.util.List;

/**
 * The short names of an Engram layer's tensors in a checkpoint: the official demo's {@code state_dict} names
 * (SEMANTICS.md §10), found behind a {@link LayerPrefix}. Branches {@code g} run from 0 to {@code hc_mult - 1}.
 * Linear weights are {@code [out, in]}; the conv weight is {@code [G·H, 1, K]}.
 */
public final class EngramTensorNames {
    private EngramTensorNames() {}

    /** The hashed embedding table, {@code [rows, head_dim]}: every head's rows stacked (one {@code nn.Embedding}). */
    public static final String EMBEDDING_WEIGHT = "multi_head_embedding.embedding.weight";
    /** The table's block scales for fp8 tables, {@code [rows, head_dim / block]} of E8M0. */
    public static final String EMBEDDING_SCALE = "multi_head_embedding.embedding.scale";
    /**
     * The heads' first table rows, {@code [heads]}: the demo's {@code offsets} buffer (int64), which a
     * {@code state_dict} holds. Optional in a checkpoint; when present it must equal the offsets derived from the
     * config.
     */
    public static final String EMBEDDING_OFFSETS = "multi_head_embedding.offsets";
    /** The value projection's weight. */
    public static final String VALUE_PROJ_WEIGHT = "value_proj.weight";
    /** The value projection's bias. */
    public static final String VALUE_PROJ_BIAS = "value_proj.bias";
    /** The short conv's depthwise weight, {@code [G·H, 1, K]}. */
    public static final String SHORT_CONV_WEIGHT = "short_conv.conv.weight";

    /**
     * {@return the key projection weight of one branch}
     *
     * @param branch the branch, from 0
     */
    public static String keyProjWeight(int branch) {
        return "key_projs." + checked(branch) + ".weight";
    }

    /**
     * {@return the key projection bias of one branch}
     *
     * @param branch the branch, from 0
     */
    public static String keyProjBias(int branch) {
        return "key_projs." + checked(branch) + ".bias";
    }

    /**
     * {@return the first RMSNorm's weight of one branch}
     *
     * @param branch the branch, from 0
     */
    public static String norm1Weight(int branch) {
        return "norm1." + checked(branch) + ".weight";
    }

    /**
     * {@return the second RMSNorm's weight of one branch}
     *
     * @param branch the branch, from 0
     */
    public static String norm2Weight(int branch) {
        return "norm2." + checked(branch) + ".weight";
    }

    /**
     * {@return the short conv's RMSNorm weight of one branch}
     *
     * @param branch the branch, from 0
     */
    public static String shortConvNormWeight(int branch) {
        return "short_conv.norms." + checked(branch) + ".weight";
    }

    /**
     * {@return every tensor a layer needs (the table, key projections, value projection, norms, conv), without the
     * fp8 scale}
     *
     * @param hcMult the number of branches ({@code hc_mult})
     * @throws IllegalArgumentException when {@code hcMult < 1}
     */
    public static List<String> required(int hcMult) {
        if (hcMult < 1) throw new IllegalArgumentException("hc_mult must be >= 1, got " + hcMult);
        List<String> names = new ArrayList<>();
        names.add(EMBEDDING_WEIGHT);
        for (int g = 0; g < hcMult; g++) names.add(keyProjWeight(g));
        for (int g = 0; g < hcMult; g++) names.add(keyProjBias(g));
        names.add(VALUE_PROJ_WEIGHT);
        names.add(VALUE_PROJ_BIAS);
        for (int g = 0; g < hcMult; g++) names.add(norm1Weight(g));
        for (int g = 0; g < hcMult; g++) names.add(norm2Weight(g));
        names.add(SHORT_CONV_WEIGHT);
        for (int g = 0; g < hcMult; g++) names.add(shortConvNormWeight(g));
        return List.copyOf(names);
    }

    private static int checked(int branch) {
        if (branch < 0) throw new IllegalArgumentException("branch must be >= 0, got " + branch);
        return branch;
    }
}
