package dev.engram.gpu;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Uploads float32 host weights into device memory of FLOAT32 or BFLOAT16 (rounded to nearest even),
 * through a bounded staging segment: a multi-gigabyte table never needs a second full-size host copy.
 * Copies are synchronous ({@code cudaMemcpy}); callers synchronize the device before launching on
 * non-blocking streams, since a pageable-memory copy may return before its DMA has finished.
 */
final class DeviceUpload {
    /** Elements per staging chunk: 16 Mi elements, 64 MiB of float32. */
    private static final int CHUNK = 1 << 24;

    private DeviceUpload() {}

    /** A new device buffer of {@code dtype} holding {@code src} from {@code from} to {@code from + count}. */
    static DeviceBuffer of(float[] src, int from, int count, DType dtype) {
        DeviceBuffer dst = DeviceBuffer.allocate(count, dtype);
        try {
            copy(src, from, count, dst);
            return dst;
        } catch (RuntimeException e) {
            dst.close();
            throw e;
        }
    }

    /** A new device buffer of {@code dtype} holding all of {@code src}. */
    static DeviceBuffer of(float[] src, DType dtype) {
        return of(src, 0, src.length, dtype);
    }

    /** Copies {@code src[from .. from + count)} into {@code dst} (exactly {@code count} elements). */
    static void copy(float[] src, int from, int count, DeviceArray dst) {
        if (dst.elementCount() != count) {
            throw new IllegalArgumentException("upload of " + count + " elements into " + dst);
        }
        if (dst.dtype() != DType.FLOAT32 && dst.dtype() != DType.BFLOAT16) {
            throw new IllegalArgumentException("weights upload needs FLOAT32 or BFLOAT16 device memory, got " + dst);
        }
        int elementBytes = dst.dtype().byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate((long) Math.max(1, Math.min(CHUNK, count)) * elementBytes, 16);
            for (int done = 0; done < count; ) {
                int n = Math.min(CHUNK, count - done);
                MemorySegment chunk = staging.asSlice(0, (long) n * elementBytes);
                if (dst.dtype() == DType.FLOAT32) {
                    MemorySegment.copy(src, from + done, chunk, ValueLayout.JAVA_FLOAT, 0, n);
                } else {
                    BFloat16.fromFloats(src, from + done, n, chunk);
                }
                dst.slice(done, n).copyFrom(chunk);
                done += n;
            }
        }
    }
}
