package dev.engram.table;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import dev.engram.internal.Segments;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fills a {@link HostTable} from rows that are already in memory, such as a table tensor of a memory-mapped
 * checkpoint: little-endian, row-major {@code [rows, rowElements]} of FLOAT32 or BFLOAT16, at any alignment (the
 * safetensors format does not promise aligned offsets). Runs in chunks on several threads (so a cold mapping's page
 * faults and read-ahead overlap) and reports progress. The table's dtype decides the conversion: same dtype, a byte
 * copy; FLOAT32 into BFLOAT16, rounded to nearest even ({@link BFloat16#fromFloat}, as the device upload and
 * {@code TableEncoding} round); BFLOAT16 into FLOAT32, widened exactly. Needs a little-endian platform (tables hold
 * native byte order).
 *
 * <p>{@link #copyFp8} is the fp8 sibling: E4M3 codes and E8M0 scales into an {@link Fp8HostTable}, byte for byte,
 * each chunk's scale bytes checked for NaN as they are copied.
 */
public final class TableCopy {
    /** Elements converted per step of a chunk: a bulk read into a float array, then a bulk write. */
    private static final int BLOCK = 1 << 14;
    private static final ValueLayout.OfFloat FLOAT_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101010101010101L, HIGHS = 0x8080808080808080L;

    private TableCopy() {}

    /**
     * Copies {@code src} into {@code dst}, converting to {@code dst.dtype()}.
     *
     * @param src      the rows, {@code dst.rows() * dst.rowElements()} elements of {@code srcDtype}, little-endian
     * @param srcDtype {@link DType#FLOAT32} or {@link DType#BFLOAT16}
     * @param dst      the table; every byte of it is written
     * @param threads  copy threads, {@code >= 1}
     * @param progress called on this thread with the table bytes written ({@link ProgressListener#NONE} for none)
     * @throws IllegalArgumentException when {@code src} is not exactly the table's elements in {@code srcDtype}, for
     *                                  another dtype, or {@code threads < 1}
     * @throws IllegalStateException    when {@code src}'s memory or the table is closed (before or during the copy)
     * @throws UnsupportedOperationException on a big-endian platform
     */
    public static void copy(MemorySegment src, DType srcDtype, HostTable dst, int threads, ProgressListener progress) {
        copy(src, srcDtype, dst, threads, progress, ParallelChunks.DEFAULT_CHUNK_BYTES);
    }

    /** As {@link #copy(MemorySegment, DType, HostTable, int, ProgressListener)} with a chosen chunk size (tests). */
    static void copy(MemorySegment src, DType srcDtype, HostTable dst, int threads, ProgressListener progress,
                     long chunkBytes) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(srcDtype, "srcDtype");
        Objects.requireNonNull(dst, "dst");
        Objects.requireNonNull(progress, "progress");
        ParallelChunks.checkThreads(threads);
        if (srcDtype != DType.FLOAT32 && srcDtype != DType.BFLOAT16) {
            throw new IllegalArgumentException("table source dtype must be FLOAT32 or BFLOAT16, got " + srcDtype);
        }
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("the source is little-endian and tables native-order; this platform"
                    + " is " + ByteOrder.nativeOrder());
        }
        MemorySegment out = dst.segment();
        long n = dst.rowElements();
        long expected = Math.multiplyExact(dst.rows(), srcDtype.bytesFor(dst.rowElements()));
        if (src.byteSize() != expected) {
            throw new IllegalArgumentException("source holds " + src.byteSize() + " bytes, " + dst + " needs " + expected
                    + " bytes of " + srcDtype);
        }
        DType to = dst.dtype();
        ParallelChunks.run(dst.rows(), dst.rowBytes(), chunkBytes, threads, "engram-table-copy", progress, (from, until) -> {
            long first = from * n, count = (until - from) * n;
            if (srcDtype == to) {
                MemorySegment.copy(src, srcDtype.bytesFor(first), out, to.bytesFor(first), to.bytesFor(count));
            } else {
                convert(src, srcDtype, out, first, count);
            }
        });
    }

    /**
     * Copies an fp8 table's codes and scales into {@code dst} byte for byte, in chunks of whole rows (a row's codes
     * and its scales together) on several threads, and checks every scale byte as it is copied: after the whole
     * copy, a byte 255 (NaN, SEMANTICS.md 9) throws, naming the first such row and block as {@link Fp8Table} does.
     *
     * @param codes    {@code dst.rows() * dst.headDim()} E4M3 bytes, row-major
     * @param scales   {@code dst.rows() * dst.blocksPerRow()} E8M0 bytes, row-major
     * @param dst      the table; every code and scale byte of it is written
     * @param threads  copy threads, {@code >= 1} (one, this thread, when a segment is confined to this thread)
     * @param progress called on this thread with the code and scale bytes written ({@link ProgressListener#NONE} for
     *                 none); the total is {@code dst.rows() * (dst.codeRowBytes() + dst.scaleRowBytes())}
     * @throws IllegalArgumentException when a source is not exactly the table's bytes, {@code threads < 1}, or a scale
     *                                  byte is 255: "scale byte 255 (NaN) at row R, block K" (the table is then fully
     *                                  written, NaN included; the caller discards it)
     * @throws IllegalStateException    when a source's memory or the table is closed (before or during the copy)
     */
    public static void copyFp8(MemorySegment codes, MemorySegment scales, Fp8HostTable dst, int threads,
                               ProgressListener progress) {
        copyFp8(codes, scales, dst, threads, progress, ParallelChunks.DEFAULT_CHUNK_BYTES);
    }

    /** As {@link #copyFp8(MemorySegment, MemorySegment, Fp8HostTable, int, ProgressListener)}, a chosen chunk size. */
    static void copyFp8(MemorySegment codes, MemorySegment scales, Fp8HostTable dst, int threads,
                        ProgressListener progress, long chunkBytes) {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(scales, "scales");
        Objects.requireNonNull(dst, "dst");
        Objects.requireNonNull(progress, "progress");
        ParallelChunks.checkThreads(threads);
        MemorySegment outCodes = dst.codes(), outScales = dst.scales();
        if (codes.byteSize() != outCodes.byteSize() || scales.byteSize() != outScales.byteSize()) {
            throw new IllegalArgumentException("source holds " + codes.byteSize() + " code and " + scales.byteSize()
                    + " scale bytes, " + dst + " needs " + outCodes.byteSize() + " and " + outScales.byteSize());
        }
        long codeRow = dst.codeRowBytes(), scaleRow = dst.scaleRowBytes();
        AtomicLong firstNan = new AtomicLong(Long.MAX_VALUE); // the lowest NaN scale index: the same on any thread count
        ParallelChunks.RowRange job = (from, until) -> {
            long rows = until - from;
            MemorySegment.copy(codes, from * codeRow, outCodes, from * codeRow, rows * codeRow);
            MemorySegment.copy(scales, from * scaleRow, outScales, from * scaleRow, rows * scaleRow);
            long nan = firstByte255(outScales.asSlice(from * scaleRow, rows * scaleRow));
            if (nan >= 0) firstNan.accumulateAndGet(from * scaleRow + nan, Math::min);
        };
        long rowBytes = codeRow + scaleRow;
        if (Segments.accessibleByOtherThreads(codes, scales, outCodes, outScales)) {
            ParallelChunks.run(dst.rows(), rowBytes, chunkBytes, threads, "engram-fp8-copy", progress, job);
        } else { // e.g. an Fp8Table from a confined arena: only this thread may read it
            long total = dst.rows() * rowBytes;
            progress.progress(0, total);
            try {
                job.run(0, dst.rows());
            } catch (Exception e) {
                throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
            }
            progress.progress(total, total);
        }
        long nan = firstNan.get();
        if (nan != Long.MAX_VALUE) {
            throw new IllegalArgumentException("scale byte 255 (NaN) at row " + nan / scaleRow + ", block "
                    + nan % scaleRow);
        }
    }

    /** {@return the index of the first byte 255 in {@code bytes}, or -1}: eight bytes at a time, then byte by byte. */
    static long firstByte255(MemorySegment bytes) {
        long n = bytes.byteSize(), i = 0;
        for (; i + 8 <= n; i += 8) {
            long v = ~bytes.get(ValueLayout.JAVA_LONG_UNALIGNED, i); // a byte 255 is a zero byte of ~v
            if (((v - ONES) & ~v & HIGHS) != 0) break;
        }
        for (; i < n; i++) {
            if (bytes.get(ValueLayout.JAVA_BYTE, i) == (byte) 0xFF) return i;
        }
        return -1;
    }

    /** Elements {@code [first, first + count)}: FLOAT32 → BFLOAT16 rounded, BFLOAT16 → FLOAT32 widened. */
    private static void convert(MemorySegment src, DType from, MemorySegment out, long first, long count) {
        float[] f = new float[(int) Math.min(BLOCK, count)];
        short[] s = new short[f.length];
        for (long done = 0; done < count; done += f.length) {
            int k = (int) Math.min(f.length, count - done);
            long at = first + done;
            if (from == DType.FLOAT32) {
                MemorySegment.copy(src, FLOAT_LE, at * 4, f, 0, k);
                for (int i = 0; i < k; i++) s[i] = BFloat16.fromFloat(f[i]);
                MemorySegment.copy(s, 0, out, ValueLayout.JAVA_SHORT, at * 2, k);
            } else {
                MemorySegment.copy(src, SHORT_LE, at * 2, s, 0, k);
                for (int i = 0; i < k; i++) f[i] = BFloat16.toFloat(s[i]);
                MemorySegment.copy(f, 0, out, ValueLayout.JAVA_FLOAT, at * 4, k);
            }
        }
    }
}
