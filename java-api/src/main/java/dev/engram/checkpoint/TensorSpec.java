package dev.engram.checkpoint;

import dev.engram.EngramConfig;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsDType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What one tensor of a layer must be (SEMANTICS.md §10): its short name, shape (with what each dimension stands for,
 * for messages) and the dtypes accepted. The fp8 scale and the offsets buffer are checked apart, since their shape
 * depends on the table's dtype or is optional.
 */
record TensorSpec(String shortName, long[] shape, String meaning, List<SafetensorsDType> dtypes) {
    /** Dense parameters: converted exactly to float32 for the reference and the GPU upload. */
    static final List<SafetensorsDType> DENSE = List.of(SafetensorsDType.F32, SafetensorsDType.BF16, SafetensorsDType.F16);
    /** Tables: float32, bf16, or fp8 E4M3 with an E8M0 scale tensor. */
    static final List<SafetensorsDType> TABLE = List.of(SafetensorsDType.F32, SafetensorsDType.BF16,
            SafetensorsDType.F8_E4M3);

    /** Every tensor a layer of {@code c} with a table of {@code rows} rows needs, table first. */
    static List<TensorSpec> required(EngramConfig c, long rows) {
        long g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize(), k = c.kernelSize();
        List<TensorSpec> out = new ArrayList<>();
        out.add(new TensorSpec(EngramTensorNames.EMBEDDING_WEIGHT, new long[] {rows, c.headDim()},
                "[table rows of the layer, head_dim]", TABLE));
        for (int b = 0; b < g; b++) {
            out.add(dense(EngramTensorNames.keyProjWeight(b), "[hidden_size, engram hidden size]", h, e));
            out.add(dense(EngramTensorNames.keyProjBias(b), "[hidden_size]", h));
        }
        out.add(dense(EngramTensorNames.VALUE_PROJ_WEIGHT, "[hidden_size, engram hidden size]", h, e));
        out.add(dense(EngramTensorNames.VALUE_PROJ_BIAS, "[hidden_size]", h));
        for (int b = 0; b < g; b++) {
            out.add(dense(EngramTensorNames.norm1Weight(b), "[hidden_size]", h));
            out.add(dense(EngramTensorNames.norm2Weight(b), "[hidden_size]", h));
            out.add(dense(EngramTensorNames.shortConvNormWeight(b), "[hidden_size]", h));
        }
        out.add(dense(EngramTensorNames.SHORT_CONV_WEIGHT, "[hc_mult * hidden_size, 1, kernel_size]", g * h, 1, k));
        return out;
    }

    private static TensorSpec dense(String name, String meaning, long... shape) {
        return new TensorSpec(name, shape, meaning, DENSE);
    }

    /** {@return e.g. "F32, BF16 or F16"} */
    static String dtypeList(List<SafetensorsDType> dtypes) {
        List<String> names = dtypes.stream().map(Enum::name).toList();
        if (names.size() == 1) return names.getFirst();
        return String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.getLast();
    }

    /** {@return e.g. "[64, 256]"} */
    static String shapeText(long[] shape) {
        return Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", ", "[", "]"));
    }
}
