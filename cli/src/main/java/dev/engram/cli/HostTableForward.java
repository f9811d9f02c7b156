package dev.engram.cli;

import dev.engram.PackedBatch;
import dev.engram.checkpoint.CheckpointHostTable;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.EngramState;
import dev.engram.gpu.HostGatherPath;
import dev.engram.gpu.HostTableLayer;
import dev.engram.gpu.Prefetch;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.SafetensorsDType;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.HostTable;
import dev.engram.table.ProgressListener;

/**
 * {@code forward --table-placement host-copy|host-register}: the checkpoint's table in host memory
 * ({@link CheckpointHostTable}: an F32 or BF16 table as a {@link HostTable} of the {@code --dtype}, an fp8 table as an
 * {@link Fp8HostTable} of its codes and scales, dequantized on the GPU to {@code --dtype}), the layer a
 * {@link HostTableLayer} on the {@link HostGatherPath#AUTO} path (zero copy for prefetches of a few tokens, the CPU
 * gather above), whole or chunk by chunk with a state of one slot per row. The outputs equal the device-table layer's
 * bit for bit: the same rows reach the same dense part.
 */
final class HostTableForward {
    private HostTableForward() {}

    static double[] run(NgramHashMapping mapping, CheckpointLayer layer, CheckpointHostTable.Placement placement,
                        DType dtype, long[] ids, double[] hidden, int batch, int seqLen, ChunkSizes chunks,
                        ProgressListener progress) {
        int maxTokens = chunks == null ? batch * seqLen : batch * Math.min(seqLen, chunks.max());
        HostTableLayer.Options options = HostTableLayer.Options.of(HostGatherPath.AUTO, maxTokens).withMaxSequences(batch);
        if (layer.tableDtype() == SafetensorsDType.F8_E4M3) {
            try (Fp8HostTable table = CheckpointHostTable.loadFp8(layer, placement, progress);
                 HostTableLayer l = CheckpointHostTable.layer(mapping, layer, table, dtype, options)) { // before the table
                return forward(mapping, l, dtype, ids, hidden, batch, seqLen, chunks);
            }
        }
        try (HostTable table = CheckpointHostTable.load(layer, placement, dtype, progress);
             HostTableLayer l = CheckpointHostTable.layer(mapping, layer, table, options)) { // closed before the table
            return forward(mapping, l, dtype, ids, hidden, batch, seqLen, chunks);
        }
    }

    private static double[] forward(NgramHashMapping mapping, HostTableLayer l, DType dtype, long[] ids, double[] hidden,
                                    int batch, int seqLen, ChunkSizes chunks) {
        try (CudaStream stream = CudaStream.create()) {
            if (chunks == null) {
                Prefetch p = l.prefetch(ids, batch, seqLen);
                return onDevice(hidden, dtype, (h, out) -> l.forward(p, h, out, stream), stream);
            }
            try (EngramState state = l.newState(batch)) {
                int gh = mapping.config().hcMult() * mapping.config().hiddenSize();
                return ChunkedForward.run(ids, hidden, batch, seqLen, gh, chunks, (PackedBatch b, long[] i, double[] h) -> {
                    Prefetch p = l.prefetch(b, i, state);
                    return onDevice(h, dtype, (dh, out) -> l.forward(p, dh, out, state, stream), stream);
                });
            }
        }
    }

    /** A forward from device hidden states into a device output. */
    @FunctionalInterface
    private interface DeviceStep {
        void run(DeviceBuffer hidden, DeviceBuffer out);
    }

    /** Uploads {@code hidden} (exact: read as float32; rounded for bf16), runs {@code step}, returns the output widened. */
    private static double[] onDevice(double[] hidden, DType dtype, DeviceStep step, CudaStream stream) {
        int n = hidden.length;
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) hidden[i];
        try (DeviceBuffer h = DeviceBuffer.allocate(n, dtype); DeviceBuffer out = DeviceBuffer.allocate(n, dtype)) {
            if (n > 0) {
                if (dtype == DType.FLOAT32) h.copyFrom(f);
                else h.copyFrom(BFloat16.fromFloats(f));
            }
            step.run(h, out);
            stream.synchronize();
            double[] y = new double[n];
            if (n == 0) return y;
            if (dtype == DType.FLOAT32) {
                float[] r = new float[n];
                out.copyTo(r);
                for (int i = 0; i < n; i++) y[i] = r[i];
            } else {
                short[] r = new short[n];
                out.copyTo(r);
                for (int i = 0; i < n; i++) y[i] = BFloat16.toFloat(r[i]);
            }
            return y;
        }
    }
}
