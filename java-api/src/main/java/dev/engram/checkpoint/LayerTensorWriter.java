package dev.engram.checkpoint;

import dev.engram.EngramConfig;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.DenseWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Adds one Engram layer's tensors to a {@link SafetensorsWriter} under the §10 names, as {@link CheckpointLayer}
 * reads them back: the table in its {@link TableEncoding}'s dtype (with {@code multi_head_embedding.embedding.scale}
 * for fp8), {@code multi_head_embedding.offsets} (I64, the heads' first rows, as the demo's {@code state_dict} holds
 * it), and the dense parameters in F32, one tensor per branch ({@code key_projs.g.weight} {@code [H, E]}, ...),
 * the conv weight {@code [G·H, 1, K]}.
 */
public final class LayerTensorWriter {
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

    private LayerTensorWriter() {}

    /**
     * Adds the layer's tensors; their bytes are read when the writer writes.
     *
     * @param writer      the writer
     * @param layerPrefix what every full name starts with, e.g. {@code model.layers.15.engram.}
     * @param dense       the parameters other than the table
     * @param table       the encoded table, {@code [layout.rows(), head_dim]}
     * @param layout      the layer's table rows and head offsets
     * @param arena       allocates the little-endian copies of the dense parameters; keep it open until the writer
     *                    has written (and {@code table}'s memory too)
     * @throws IllegalArgumentException when the table's shape is not the layout's and the config's, or a name is
     *                                  already taken in the writer
     */
    public static void add(SafetensorsWriter writer, String layerPrefix, DenseWeights dense, TableEncoding table,
                           TableLayout layout, Arena arena) {
        Objects.requireNonNull(writer, "writer");
        Objects.requireNonNull(layerPrefix, "layerPrefix");
        Objects.requireNonNull(dense, "dense");
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(arena, "arena");
        EngramConfig c = dense.config();
        if (table.rows() != layout.rows() || table.headDim() != c.headDim()) {
            throw new IllegalArgumentException("table [" + table.rows() + ", " + table.headDim() + "] is not layer "
                    + layout.layerId() + "'s [" + layout.rows() + ", " + c.headDim() + "]");
        }
        writer.add(layerPrefix + EngramTensorNames.EMBEDDING_WEIGHT, table.dtype(),
                new long[] {table.rows(), table.headDim()}, table.values());
        table.scales().ifPresent(s -> writer.add(layerPrefix + EngramTensorNames.EMBEDDING_SCALE,
                SafetensorsDType.F8_E8M0, table.scaleShape(), s));
        long[] offsets = layout.offsets();
        MemorySegment off = arena.allocate(8L * offsets.length, 8);
        for (int i = 0; i < offsets.length; i++) off.setAtIndex(LONG_LE, i, offsets[i]);
        writer.add(layerPrefix + EngramTensorNames.EMBEDDING_OFFSETS, SafetensorsDType.I64, new long[] {offsets.length},
                off);

        int g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize(), k = c.kernelSize();
        for (int b = 0; b < g; b++) {
            add(writer, arena, layerPrefix + EngramTensorNames.keyProjWeight(b), dense.keyWeight(), (long) b * h * e, h, e);
            add(writer, arena, layerPrefix + EngramTensorNames.keyProjBias(b), dense.keyBias(), (long) b * h, h);
            add(writer, arena, layerPrefix + EngramTensorNames.norm1Weight(b), dense.keyNormWeight(), (long) b * h, h);
            add(writer, arena, layerPrefix + EngramTensorNames.norm2Weight(b), dense.queryNormWeight(), (long) b * h, h);
            add(writer, arena, layerPrefix + EngramTensorNames.shortConvNormWeight(b), dense.convNormWeight(),
                    (long) b * h, h);
        }
        add(writer, arena, layerPrefix + EngramTensorNames.VALUE_PROJ_WEIGHT, dense.valueWeight(), 0, h, e);
        add(writer, arena, layerPrefix + EngramTensorNames.VALUE_PROJ_BIAS, dense.valueBias(), 0, h);
        add(writer, arena, layerPrefix + EngramTensorNames.SHORT_CONV_WEIGHT, dense.convWeight(), 0, (long) g * h, 1, k);
    }

    /** Adds {@code src[from, from + product(shape))} as a little-endian F32 tensor. */
    private static void add(SafetensorsWriter writer, Arena arena, String name, float[] src, long from, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        MemorySegment out = arena.allocate(4 * n, 16);
        for (int i = 0; i < n; i++) out.setAtIndex(FLOAT_LE, i, src[(int) from + i]);
        writer.add(name, SafetensorsDType.F32, shape, out);
    }
}
