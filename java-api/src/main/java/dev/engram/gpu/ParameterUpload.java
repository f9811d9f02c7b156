package dev.engram.gpu;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.table.ProgressListener;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Queues parameter copies on one stream: host tensors (converted to the destination's dtype through a bounded
 * native staging buffer, so a multi-gigabyte table needs no second full-size copy) and device tensors
 * (device-to-device). No device-wide synchronization and no wait: a {@code cudaMemcpyAsync} from pageable memory
 * returns once the driver has taken the bytes into its own staging, so the staging buffer can be refilled at once,
 * and the caller records an event on the stream for the kernels to wait on.
 */
final class ParameterUpload implements AutoCloseable {
    /** Bytes per staging chunk (and per copy of a native source that needs no conversion). */
    static final long CHUNK_BYTES = 32L << 20;
    /** Least time between two intermediate progress reports (as {@link dev.engram.table.ProgressListener} says). */
    private static final long REPORT_NANOS = 100_000_000L;
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final CudaStream stream;
    private final long chunkBytes;
    private final Arena arena = Arena.ofConfined();
    private MemorySegment staging;

    ParameterUpload(CudaStream stream) {
        this(stream, CHUNK_BYTES);
    }

    /** With another chunk size (tests use a small one to go through many chunks). */
    ParameterUpload(CudaStream stream, long chunkBytes) {
        if (chunkBytes < 4 || chunkBytes % 4 != 0) throw new IllegalArgumentException("chunk of " + chunkBytes + " bytes");
        this.stream = stream;
        this.chunkBytes = chunkBytes;
    }

    /** Queues {@code src} into {@code dst} (same element count; dst FLOAT32 or BFLOAT16). */
    void copy(ParameterTensor src, DeviceArray dst) {
        if (src.isFp8()) throw new IllegalArgumentException("an fp8 table is uploaded by copyFp8: " + src);
        if (src.elementCount() != dst.elementCount()) {
            throw new IllegalArgumentException("upload of " + src + " into " + dst + ": element counts differ");
        }
        if (src.onDevice()) {
            if (src.dtype() != dst.dtype()) {
                throw new IllegalArgumentException("device tensor " + src + " cannot be converted to " + dst.dtype()
                        + " on the device: pass it in the layer's dtype or as host memory");
            }
            dst.copyFromAsync(src.device(), stream);
            return;
        }
        MemorySegment host = src.host();
        long elements = src.elementCount();
        Progress progress = new Progress(src.uploadProgress(), host.byteSize());
        if (src.dtype() == dst.dtype() && host.isNative()) { // straight from the caller's memory, in chunks
            long bytes = host.byteSize();
            for (long done = 0; done < bytes; done += chunkBytes) {
                long n = Math.min(chunkBytes, bytes - done);
                queue(dst, done / dst.dtype().byteSize(), host.asSlice(done, n));
                progress.reached(done + n);
            }
            progress.finish();
            return;
        }
        long perChunk = chunkBytes / Math.max(src.dtype().byteSize(), dst.dtype().byteSize());
        for (long done = 0; done < elements; done += perChunk) {
            long n = Math.min(perChunk, elements - done);
            MemorySegment chunk = staging().asSlice(0, n * dst.dtype().byteSize());
            convert(host, src.dtype(), done, n, chunk, dst.dtype());
            queue(dst, done, chunk);
            progress.reached((done + n) * src.dtype().byteSize());
        }
        progress.finish();
    }

    /**
     * Queues an fp8 host table's bytes unchanged: codes into {@code codes} (FP8_E4M3), scales into {@code scales}
     * (FP8_E8M0), in chunks, one progress report over both.
     */
    void copyFp8(ParameterTensor src, DeviceArray codes, DeviceArray scales) {
        if (!src.isFp8() || src.onDevice()) throw new IllegalArgumentException("not an fp8 host table: " + src);
        MemorySegment c = src.host(), s = src.hostScales();
        if (c.byteSize() != codes.byteSize() || s.byteSize() != scales.byteSize()) {
            throw new IllegalArgumentException("upload of " + src + " into " + codes + " and " + scales + ": sizes differ");
        }
        Progress progress = new Progress(src.uploadProgress(), c.byteSize() + s.byteSize());
        copyRaw(c, codes, progress, 0);
        copyRaw(s, scales, progress, c.byteSize());
        progress.finish();
    }

    /** One-byte elements copied unchanged, in chunks (staged when the source is on the Java heap). */
    private void copyRaw(MemorySegment src, DeviceArray dst, Progress progress, long reportedBefore) {
        long bytes = src.byteSize();
        for (long done = 0; done < bytes; done += chunkBytes) {
            long n = Math.min(chunkBytes, bytes - done);
            MemorySegment chunk = src.asSlice(done, n);
            if (!src.isNative()) chunk = staging().asSlice(0, n).copyFrom(chunk);
            queue(dst, done, chunk);
            progress.reached(reportedBefore + done + n);
        }
    }

    /** A tensor's upload progress: (0, total) first, then at most every 100 ms, (total, total) last. */
    private static final class Progress {
        private final ProgressListener listener;
        private final long total;
        private long lastReport = System.nanoTime();

        Progress(ProgressListener listener, long total) {
            this.listener = listener;
            this.total = total;
            if (listener != null) listener.progress(0, total);
        }

        void reached(long done) {
            if (listener == null || done >= total) return; // the last report is finish()'s
            long now = System.nanoTime();
            if (now - lastReport >= REPORT_NANOS) {
                lastReport = now;
                listener.progress(done, total);
            }
        }

        void finish() {
            if (listener != null) listener.progress(total, total);
        }
    }

    /** Queues native host bytes into {@code dst} from element {@code first} on (DeviceArray's checked async copy). */
    private void queue(DeviceArray dst, long first, MemorySegment src) {
        dst.slice(first, src.byteSize() / dst.dtype().byteSize()).copyFromAsync(src, stream);
    }

    /** Little-endian source elements [from, from + n) converted into {@code dst} (native order) as {@code to}. */
    private static void convert(MemorySegment src, DType from, long first, long n, MemorySegment dst, DType to) {
        for (long i = 0; i < n; i++) {
            long j = first + i;
            if (from == DType.FLOAT32) {
                float f = src.get(FLOAT_LE, j * 4);
                if (to == DType.FLOAT32) dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, f);
                else dst.setAtIndex(ValueLayout.JAVA_SHORT, i, BFloat16.fromFloat(f));
            } else {
                short b = src.get(SHORT_LE, j * 2);
                if (to == DType.BFLOAT16) dst.setAtIndex(ValueLayout.JAVA_SHORT, i, b);
                else dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, BFloat16.toFloat(b));
            }
        }
    }

    private MemorySegment staging() {
        if (staging == null) staging = arena.allocate(chunkBytes, 16);
        return staging;
    }

    /** Frees the staging memory (the driver has its own copy of everything queued). */
    @Override
    public void close() {
        arena.close();
    }
}
