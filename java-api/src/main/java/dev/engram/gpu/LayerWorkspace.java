package dev.engram.gpu;

import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;

/**
 * The intermediates of one layer's forward, allocated once for {@code maxTokens} tokens and reused by
 * every forward (a forward of N tokens uses the first N rows of each).
 */
final class LayerWorkspace implements AutoCloseable {
    final int maxTokens;
    final DeviceBuffer embedded;   // e     [maxTokens, E]
    final DeviceBuffer projected;  // proj  [maxTokens, (G+1)H]: G key projections, then the value, no bias
    final DeviceBuffer gated;      // value [maxTokens, G, H]: gate * (v + b_V)

    LayerWorkspace(int maxTokens, int engramHidden, int hcMult, int hidden, DType dtype) {
        this.maxTokens = maxTokens;
        DeviceBuffer e = null, p = null;
        try {
            e = DeviceBuffer.allocate((long) maxTokens * engramHidden, dtype);
            p = DeviceBuffer.allocate((long) maxTokens * (hcMult + 1) * hidden, dtype);
            gated = DeviceBuffer.allocate((long) maxTokens * hcMult * hidden, dtype);
        } catch (RuntimeException ex) {
            if (e != null) e.close();
            if (p != null) p.close();
            throw ex;
        }
        embedded = e;
        projected = p;
    }

    long byteSize() {
        return embedded.byteSize() + projected.byteSize() + gated.byteSize();
    }

    @Override
    public void close() {
        embedded.close();
        projected.close();
        gated.close();
    }
}
