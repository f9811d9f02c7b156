package dev.engram.checkpoint;

import dev.engram.cuda.DType;
import dev.engram.gpu.EngramLayer;
import dev.engram.gpu.LayerWeights;
import dev.engram.gpu.ParameterTensor;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.TensorInfo;
import dev.engram.table.ProgressListener;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.function.IntFunction;

/**
 * A checkpoint layer's parameters as the GPU layer takes them ({@link LayerWeights} for
 * {@link EngramLayer#create(dev.engram.hash.NgramHashMapping, int, LayerWeights, EngramLayer.Options)}), without
 * a trip through the Java heap:
 * <ul>
 *   <li>F32 and BF16 tensors that the layer takes whole (the table, {@code value_proj}, the conv weight) are
 *       {@link ParameterTensor#ofHost} slices of the mapping: nothing is copied until the layer's upload, which
 *       reads the mapping in chunks and converts to the storage dtype on the way;</li>
 *   <li>per-branch tensors ({@code key_projs.g}, the norms), which the layer takes stacked, and F16 tensors are
 *       copied once into native float32 memory from {@code arena} (exact; they are small);</li>
 *   <li>an F8_E4M3 table with its F8_E8M0 scales is {@link ParameterTensor#ofFp8Host}: the mapped codes and
 *       scales as they are (1 byte a value plus 1 a block), uploaded unchanged; the layer's gather dequantizes
 *       rows to its storage dtype exactly as SEMANTICS.md §9 defines it, so an fp8 table costs the same host and
 *       device memory as in the file.</li>
 * </ul>
 * The mapping and {@code arena} must stay open until the layer is created; after that neither is needed.
 */
public final class GpuLayerWeights {
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private GpuLayerWeights() {}

    /**
     * {@return the layer's weights for a GPU layer of {@code storage} dtype}, without progress reports
     *
     * @param layer   the checked checkpoint layer
     * @param storage the GPU layer's storage dtype, FLOAT32 or BFLOAT16 (an fp8 table stays
     *                fp8; its rows are gathered into this dtype)
     * @param arena   allocates the stacked and converted tensors
     * @throws IllegalArgumentException      for another storage dtype
     * @throws dev.engram.io.SafetensorsException naming the scale tensor when an fp8 scale byte is NaN (255)
     */
    public static LayerWeights of(CheckpointLayer layer, DType storage, Arena arena) {
        return of(layer, storage, arena, null);
    }

    /**
     * {@return the layer's weights for a GPU layer of {@code storage} dtype, the table's upload reporting progress}
     *
     * @param layer       the checked checkpoint layer
     * @param storage     the GPU layer's storage dtype, FLOAT32 or BFLOAT16 (an fp8 table
     *                    stays fp8; its rows are gathered into this dtype)
     * @param arena       allocates the stacked and converted tensors
     * @param tableUpload receives the table upload's progress ({@link ParameterTensor#withUploadProgress}), or null
     * @throws IllegalArgumentException      for another storage dtype
     * @throws dev.engram.io.SafetensorsException naming the scale tensor when an fp8 scale byte is NaN (255)
     */
    public static LayerWeights of(CheckpointLayer layer, DType storage, Arena arena, ProgressListener tableUpload) {
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(arena, "arena");
        if (storage != DType.FLOAT32 && storage != DType.BFLOAT16) {
            throw new IllegalArgumentException("the GPU layer stores FLOAT32 or BFLOAT16, got " + storage);
        }
        ParameterTensor table = table(layer);
        if (tableUpload != null) table = table.withUploadProgress(tableUpload);
        return dense(layer, arena).table(table).build();
    }

    /**
     * {@return the layer's parameters other than the table}, for a {@link dev.engram.gpu.HostTableLayer} whose rows
     * stay in host memory ({@link CheckpointHostTable}); the tensors are those of {@link #of}, converted to the
     * layer's storage dtype on its upload
     *
     * @param layer the checked checkpoint layer
     * @param arena allocates the stacked and converted tensors; needed until the layer is created
     * @throws IllegalStateException when the checkpoint is closed
     */
    public static LayerWeights withoutTable(CheckpointLayer layer, Arena arena) {
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(arena, "arena");
        return dense(layer, arena).build();
    }

    private static LayerWeights.Builder dense(CheckpointLayer layer, Arena arena) {
        int g = layer.config().hcMult();
        return LayerWeights.builder()
                .keyWeight(stacked(layer, g, EngramTensorNames::keyProjWeight, arena))
                .keyBias(stacked(layer, g, EngramTensorNames::keyProjBias, arena))
                .valueWeight(whole(layer, EngramTensorNames.VALUE_PROJ_WEIGHT, arena))
                .valueBias(whole(layer, EngramTensorNames.VALUE_PROJ_BIAS, arena))
                .keyNormWeight(stacked(layer, g, EngramTensorNames::norm1Weight, arena))
                .queryNormWeight(stacked(layer, g, EngramTensorNames::norm2Weight, arena))
                .convNormWeight(stacked(layer, g, EngramTensorNames::shortConvNormWeight, arena))
                .convWeight(whole(layer, EngramTensorNames.SHORT_CONV_WEIGHT, arena));
    }

    private static ParameterTensor table(CheckpointLayer layer) {
        return switch (layer.tableDtype()) {
            case F32 -> ParameterTensor.ofHost(layer.data(EngramTensorNames.EMBEDDING_WEIGHT), DType.FLOAT32);
            case BF16 -> ParameterTensor.ofHost(layer.data(EngramTensorNames.EMBEDDING_WEIGHT), DType.BFLOAT16);
            case F8_E4M3 -> ParameterTensor.of(layer.fp8Table()); // raw bytes; scale bytes checked (no NaN)
            default -> throw new IllegalStateException("table dtype " + layer.tableDtype()); // refused by check()
        };
    }

    /** A tensor the layer takes whole: the mapped bytes (F32, BF16), or a float32 copy (F16). */
    private static ParameterTensor whole(CheckpointLayer layer, String name, Arena arena) {
        TensorInfo t = layer.tensor(name);
        MemorySegment data = layer.data(name);
        return switch (t.dtype()) {
            case F32 -> ParameterTensor.ofHost(data, DType.FLOAT32);
            case BF16 -> ParameterTensor.ofHost(data, DType.BFLOAT16);
            default -> ParameterTensor.ofHost(float32(arena, data, t.dtype()), DType.FLOAT32);
        };
    }

    /** Per-branch tensors stacked into one native float32 tensor (exact for F32, BF16 and F16). */
    private static ParameterTensor stacked(CheckpointLayer layer, int branches, IntFunction<String> name, Arena arena) {
        long total = 0;
        for (int b = 0; b < branches; b++) total += layer.tensor(name.apply(b)).elementCount();
        MemorySegment out = arena.allocate(total * 4, 16);
        long at = 0;
        for (int b = 0; b < branches; b++) {
            TensorInfo t = layer.tensor(name.apply(b));
            MemorySegment src = layer.data(name.apply(b));
            for (long i = 0; i < t.elementCount(); i++) out.setAtIndex(FLOAT_LE, at + i, DenseConversion.get(src, t.dtype(), i));
            at += t.elementCount();
        }
        return ParameterTensor.ofHost(out, DType.FLOAT32);
    }

    private static MemorySegment float32(Arena arena, MemorySegment src, SafetensorsDType dtype) {
        long n = src.byteSize() / dtype.byteSize();
        MemorySegment out = arena.allocate(n * 4, 16);
        for (long i = 0; i < n; i++) out.setAtIndex(FLOAT_LE, i, DenseConversion.get(src, dtype, i));
        return out;
    }
}
