package dev.engram.gpu;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.internal.Segments;
import dev.engram.table.ProgressListener;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Queues parameter copies on one stream: host tensors (converted to the destination's dtype through bounded staging
 * buffers, so a multi-gigabyte table needs no second full-size copy) and device tensors (device-to-device). No
 * device-wide synchronization: the caller records an event on the stream for the kernels to wait on.
 *
 * <p>Two ways for host tensors. Small ones (under {@link #STAGED_MIN_BYTES} on the device) go as before: a
 * {@code cudaMemcpyAsync} from pageable memory returns once the driver has taken the bytes, so one staging buffer is
 * refilled at once. Large ones (a table) go through a {@link PinnedStagingRing}: several threads fill pinned chunks
 * while the previous chunk's DMA runs, because a pageable copy of a mapped checkpoint runs at the rate one thread
 * faults the mapping in (7.5 GB/s on the H200 machine against 55 GB/s pinned, bench/RESULTS.md run 4).
 * {@link #close()} then waits for the last chunks' copies before freeing their pinned memory.
 */
final class ParameterUpload implements AutoCloseable {
    /** Bytes per staging chunk (and per copy of a native source that needs no conversion). */
    static final long CHUNK_BYTES = 32L << 20;
    /** Device bytes from which a host tensor goes through the pinned ring with parallel fills. */
    static final long STAGED_MIN_BYTES = 64L << 20;
    /** Threads filling one pinned chunk: the mapping's page faults and the conversions scale with them. */
    static final int FILL_THREADS = Math.min(8, Runtime.getRuntime().availableProcessors());
    /** Least time between two intermediate progress reports (as {@link dev.engram.table.ProgressListener} says). */
    private static final long REPORT_NANOS = 100_000_000L;
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final CudaStream stream;
    private final long chunkBytes;
    private final long stagedMinBytes;
    private final int fillThreads;
    private final Arena arena = Arena.ofConfined();
    private MemorySegment staging;
    private PinnedStagingRing ring;

    ParameterUpload(CudaStream stream) {
        this(stream, CHUNK_BYTES);
    }

    /** With another chunk size (tests use a small one to go through many chunks). */
    ParameterUpload(CudaStream stream, long chunkBytes) {
        this(stream, chunkBytes, STAGED_MIN_BYTES, FILL_THREADS);
    }

    /** With another chunk size, pinned-ring threshold and fill thread count (tests take the ring for small tensors). */
    ParameterUpload(CudaStream stream, long chunkBytes, long stagedMinBytes, int fillThreads) {
        if (chunkBytes < 4 || chunkBytes % 4 != 0) throw new IllegalArgumentException("chunk of " + chunkBytes + " bytes");
        if (fillThreads < 1) throw new IllegalArgumentException("fill threads must be >= 1, got " + fillThreads);
        this.stream = stream;
        this.chunkBytes = chunkBytes;
        this.stagedMinBytes = stagedMinBytes;
        this.fillThreads = fillThreads;
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
        if (dst.byteSize() >= stagedMinBytes) {
            DType from = src.dtype(), to = dst.dtype();
            PinnedStagingRing.Fill fill = from == to
                    ? (into, first, n) -> MemorySegment.copy(host, first * from.byteSize(), into, 0, n * from.byteSize())
                    : (into, first, n) -> convert(host, from, first, n, into, to);
            ring().copy(dst, 0, elements, fill, Segments.accessibleByOtherThreads(host),
                    done -> progress.reached(done * from.byteSize()));
            progress.finish();
            return;
        }
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
        if (bytes >= stagedMinBytes) {
            ring().copy(dst, 0, bytes, (into, first, n) -> MemorySegment.copy(src, first, into, 0, n),
                    Segments.accessibleByOtherThreads(src), done -> progress.reached(reportedBefore + done));
            return;
        }
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

    private PinnedStagingRing ring() {
        if (ring == null) ring = new PinnedStagingRing(stream, chunkBytes, fillThreads);
        return ring;
    }

    private MemorySegment staging() {
        if (staging == null) staging = arena.allocate(chunkBytes, 16);
        return staging;
    }

    /**
     * Frees the staging memory: the pageable buffer at once (the driver has its own copy of everything queued from
     * it), the pinned ring after its last copies (a wait on their events).
     */
    @Override
    public void close() {
        try {
            if (ring != null) ring.close();
        } finally {
            arena.close();
        }
    }
}
