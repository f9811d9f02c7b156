package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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

    /** A forward queued on the device slices of one host-array call. */
    @FunctionalInterface
    interface DeviceForward {
        void run(DeviceArray ids, DeviceArray hidden, DeviceArray out, CudaStream stream);
    }

    /**
     * Uploads {@code rawIds} and {@code hidden} (rounded to bf16 for a BFLOAT16 layer) into the first {@code tokens}
     * rows, queues {@code forward} on this stream, waits for this stream only, and returns the output widened to float.
     */
    float[] run(long[] rawIds, float[] hidden, long activations, DType dtype, DeviceForward forward) {
        try (Arena arena = Arena.ofConfined()) {
            DeviceArray dIds = ids.slice(0, rawIds.length);
            DeviceArray dHidden = this.hidden.slice(0, activations);
            DeviceArray dOut = out.slice(0, activations);
            // Pageable native staging: an async copy from it returns once the driver holds the bytes.
            dIds.copyFromAsync(arena.allocateFrom(ValueLayout.JAVA_LONG, rawIds), stream);
            dHidden.copyFromAsync(dtype == DType.FLOAT32 ? arena.allocateFrom(ValueLayout.JAVA_FLOAT, hidden)
                    : arena.allocateFrom(ValueLayout.JAVA_SHORT, BFloat16.fromFloats(hidden)), stream);
            forward.run(dIds, dHidden, dOut, stream);
            MemorySegment result = arena.allocate(Math.max(1, dOut.byteSize()), 16).asSlice(0, dOut.byteSize());
            dOut.copyToAsync(result, stream);
            stream.synchronize(); // this stream only
            if (dtype == DType.FLOAT32) return result.toArray(ValueLayout.JAVA_FLOAT);
            return BFloat16.toFloats(result.toArray(ValueLayout.JAVA_SHORT));
        }
    }

    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null, stream, out, hidden, ids);
        if (failure != null) throw failure;
    }
}
