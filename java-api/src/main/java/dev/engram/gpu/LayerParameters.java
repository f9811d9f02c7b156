package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.reference.DenseWeights;
import dev.engram.tokenizer.CompressionTable;

import java.util.ArrayList;
import java.util.List;

/**
 * One layer's parameters in device memory, in the layouts the kernels and the projection GEMM take.
 * The key and value projection weights are stacked into one {@code [(G+1)H, E]} matrix
 * ({@code [Wk_0; ..; Wk_{G-1}; Wv]}, each torch-Linear {@code [out, in]}), so one GEMM computes every
 * projection; the biases are added by the gate kernel.
 */
final class LayerParameters implements AutoCloseable {
    final DeviceBuffer lut;                // INT64 [lut size]: the compression table
    final DeviceBuffer table;              // [totalRows, Dh], or null when the table lives in host memory
    final DeviceBuffer projectionWeight;   // [(G+1)H, E]
    final DeviceBuffer keyBias;            // [G*H]
    final DeviceBuffer valueBias;          // [H]
    final DeviceBuffer keyNormWeight;      // [G*H]
    final DeviceBuffer queryNormWeight;    // [G*H]
    final DeviceBuffer convNormWeight;     // [G*H]
    final DeviceBuffer convWeight;         // [G*H, K]
    private final List<DeviceBuffer> owned;

    private LayerParameters(List<DeviceBuffer> b, DeviceBuffer table) {
        owned = b;
        this.table = table;
        lut = b.get(0);
        projectionWeight = b.get(1);
        keyBias = b.get(2);
        valueBias = b.get(3);
        keyNormWeight = b.get(4);
        queryNormWeight = b.get(5);
        convNormWeight = b.get(6);
        convWeight = b.get(7);
    }

    /**
     * Uploads everything (synchronously; the device is synchronized before returning).
     *
     * @param table the float32 embedding table to upload, or {@code null} to keep the table off the device
     */
    static LayerParameters upload(CompressionTable compression, DenseWeights w, float[] table, DType dtype) {
        EngramConfig c = w.config();
        int g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize();
        List<DeviceBuffer> b = new ArrayList<>(9);
        try {
            DeviceBuffer lut = DeviceBuffer.allocate(compression.size(), DType.INT64);
            b.add(lut);
            lut.copyFrom(compression.toArray());
            DeviceBuffer proj = DeviceBuffer.allocate((long) (g + 1) * h * e, dtype);
            b.add(proj);
            int keyElements = g * h * e;
            DeviceUpload.copy(w.keyWeight(), 0, keyElements, proj.slice(0, keyElements));
            DeviceUpload.copy(w.valueWeight(), 0, h * e, proj.slice(keyElements, (long) h * e));
            b.add(DeviceUpload.of(w.keyBias(), dtype));
            b.add(DeviceUpload.of(w.valueBias(), dtype));
            b.add(DeviceUpload.of(w.keyNormWeight(), dtype));
            b.add(DeviceUpload.of(w.queryNormWeight(), dtype));
            b.add(DeviceUpload.of(w.convNormWeight(), dtype));
            b.add(DeviceUpload.of(w.convWeight(), dtype));
            DeviceBuffer deviceTable = null;
            if (table != null) {
                deviceTable = DeviceUpload.of(table, dtype);
                b.add(deviceTable);
            }
            // Pageable cudaMemcpy may return before its DMA lands; kernels run on non-blocking streams.
            Cuda.deviceSynchronize();
            return new LayerParameters(b, deviceTable);
        } catch (RuntimeException | Error ex) {
            RuntimeException late = Closeables.closeAll(null, b);
            if (late != null) ex.addSuppressed(late);
            throw ex;
        }
    }

    /** Device bytes held. */
    long byteSize() {
        return owned.stream().mapToLong(DeviceBuffer::byteSize).sum();
    }

    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null, owned);
        if (failure != null) throw failure;
    }
}
