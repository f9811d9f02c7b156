package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;

/**
 * The device buffers and the stream of {@link EngramLayer}'s host-array forward, for {@code maxTokens} tokens,
 * allocated on first use and kept: a call then allocates and frees no device memory ({@code cudaFree} would
 * synchronize the device).
 */
final class HostArrayIo implements AutoCloseable {
    final DeviceBuffer ids;     // INT64 [maxTokens]
    final DeviceBuffer hidden;  // [maxTokens, G, H]
    final DeviceBuffer out;     // [maxTokens, G, H]
    final CudaStream stream;

    private HostArrayIo(DeviceBuffer ids, DeviceBuffer hidden, DeviceBuffer out, CudaStream stream) {
        this.ids = ids;
        this.hidden = hidden;
        this.out = out;
        this.stream = stream;
    }

    static HostArrayIo allocate(int maxTokens, EngramConfig c, DType dtype) {
        long activations = (long) maxTokens * c.hcMult() * c.hiddenSize();
        DeviceBuffer ids = null, hidden = null, out = null;
        CudaStream stream = null;
        try {
            ids = DeviceBuffer.allocate(maxTokens, DType.INT64);
            hidden = DeviceBuffer.allocate(activations, dtype);
            out = DeviceBuffer.allocate(activations, dtype);
            stream = CudaStream.create();
            return new HostArrayIo(ids, hidden, out, stream);
        } catch (RuntimeException | Error e) {
            RuntimeException late = Closeables.closeAll(null, stream, out, hidden, ids);
            if (late != null) e.addSuppressed(late);
            throw e;
        }
    }

    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null, stream, out, hidden, ids);
        if (failure != null) throw failure;
    }
}
