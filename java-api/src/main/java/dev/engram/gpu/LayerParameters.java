package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.reference.EngramWeights;
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
    final DeviceBuffer table;              // [totalRows, Dh]
    final DeviceBuffer projectionWeight;   // [(G+1)H, E]
    final DeviceBuffer keyBias;            // [G*H]
    final DeviceBuffer valueBias;          // [H]
    final DeviceBuffer keyNormWeight;      // [G*H]
    final DeviceBuffer queryNormWeight;    // [G*H]
    final DeviceBuffer convNormWeight;     // [G*H]
    final DeviceBuffer convWeight;         // [G*H, K]
    private final List<DeviceBuffer> owned;

    private LayerParameters(List<DeviceBuffer> b) {
        owned = b;
        lut = b.get(0);
        table = b.get(1);
        projectionWeight = b.get(2);
        keyBias = b.get(3);
        valueBias = b.get(4);
        keyNormWeight = b.get(5);
        queryNormWeight = b.get(6);
        convNormWeight = b.get(7);
        convWeight = b.get(8);
    }

    /** Uploads everything (synchronously; the device is synchronized before returning). */
    static LayerParameters upload(CompressionTable compression, EngramWeights w, DType dtype) {
        EngramConfig c = w.config();
        int g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize();
        List<DeviceBuffer> b = new ArrayList<>(9);
        try {
            DeviceBuffer lut = DeviceBuffer.allocate(compression.size(), DType.INT64);
            b.add(lut);
            lut.copyFrom(compression.toArray());
            b.add(DeviceUpload.of(w.embedding(), dtype));
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
            // Pageable cudaMemcpy may return before its DMA lands; kernels run on non-blocking streams.
            Cuda.deviceSynchronize();
            return new LayerParameters(b);
        } catch (RuntimeException ex) {
            b.forEach(DeviceBuffer::close);
            throw ex;
        }
    }

    /** Device bytes held. */
    long byteSize() {
        return owned.stream().mapToLong(DeviceBuffer::byteSize).sum();
    }

    @Override
    public void close() {
        owned.forEach(DeviceBuffer::close);
    }
}
