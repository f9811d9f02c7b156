package dev.engram.gpu;

import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;

/**
 * The intermediates of one layer's forward, allocated once for {@code maxTokens} tokens and reused by
 * every forward (a forward of N tokens uses the first N rows of each).
 */
final class LayerWorkspace implements AutoCloseable {
    final int maxTokens;
    final DeviceBuffer embedded;   // e     [maxTokens, E], or null for a layer whose rows are gathered elsewhere
    final DeviceBuffer projected;  // proj  [maxTokens, (G+1)H]: G key projections, then the value, no bias
    final DeviceBuffer gated;      // value [maxTokens, G, H]: gate * (v + b_V)
    final DeviceBuffer cublasWorkspace; // cuBLAS's, so that it allocates nothing while a forward is captured

    LayerWorkspace(int maxTokens, int engramHidden, int hcMult, int hidden, DType dtype, boolean withEmbedded,
                   long cublasWorkspaceBytes) {
        this.maxTokens = maxTokens;
        DeviceBuffer e = null, p = null, g = null;
        try {
            if (withEmbedded) e = DeviceBuffer.allocate((long) maxTokens * engramHidden, dtype);
            p = DeviceBuffer.allocate((long) maxTokens * (hcMult + 1) * hidden, dtype);
            g = DeviceBuffer.allocate((long) maxTokens * hcMult * hidden, dtype);
            cublasWorkspace = DeviceBuffer.allocate(cublasWorkspaceBytes / Integer.BYTES, DType.INT32);
        } catch (RuntimeException | Error ex) {
            RuntimeException late = Closeables.closeAll(null, e, p, g);
            if (late != null) ex.addSuppressed(late);
            throw ex;
        }
        embedded = e;
        projected = p;
        gated = g;
    }

    /**
     * {@return NVIDIA's recommended cuBLAS workspace for a device of compute capability {@code major.x}: 32 MiB on
     * Hopper and later, 4 MiB before}
     * @param major the compute capability's major number
     */
    static long cublasWorkspaceBytes(int major) {
        return major >= 9 ? 32L << 20 : 4L << 20;
    }

    long byteSize() {
        return (embedded == null ? 0 : embedded.byteSize()) + projected.byteSize() + gated.byteSize()
                + cublasWorkspace.byteSize();
    }

    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null, embedded, projected, gated, cublasWorkspace);
        if (failure != null) throw failure;
    }
}
