package dev.engram.table;

import dev.engram.cuda.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * Table files: the raw rows, little-endian, row-major, nothing else ({@code tensor.numpy().tofile(path)} of a
 * {@code [rows, rowElements]} float32 or bfloat16 tensor). The file's size must be exactly
 * {@code rows * rowBytes}; the shape and dtype come from the caller.
 *
 * <p>Loading maps the file read-only and copies it into a {@link HostTable} in chunks on several threads
 * (parallel page faults and read-ahead are what make a cold file load fast); the mapping is unmapped when
 * the load returns. Tables hold native byte order, so these methods require a little-endian platform.
 */
public final class RowFile {
    private RowFile() {}

    /**
     * Allocates a table from {@code memory} and fills it from {@code file}.
     *
     * @param file        the row file
     * @param rows        rows of the table
     * @param rowElements elements per row
     * @param dtype       {@link DType#FLOAT32} or {@link DType#BFLOAT16}
     * @param memory      the allocator
     * @param threads     copy threads, {@code >= 1}
     * @param progress    progress listener ({@link ProgressListener#NONE} for none)
     * @return the filled table; the caller closes it
     * @throws IllegalArgumentException when the file size is not {@code rows * rowBytes}, or for a bad shape
     * @throws UncheckedIOException     when the file cannot be opened or mapped
     */
    public static HostTable load(Path file, long rows, int rowElements, DType dtype, HostMemory memory, int threads,
                                 ProgressListener progress) {
        checkSize(file, fileSize(file), rows, rowElements, dtype);
        HostTable table = HostTable.allocate(rows, rowElements, dtype, memory);
        try {
            readInto(file, table, threads, progress);
            return table;
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
    }

    /**
     * Fills {@code table} from {@code file}, whose size must be exactly {@code table.byteSize()}.
     *
     * @param file     the row file
     * @param table    the destination; its shape and dtype say how to read the file
     * @param threads  copy threads, {@code >= 1}
     * @param progress progress listener, called on this thread
     * @throws IllegalArgumentException when the file size does not match, naming both sizes
     * @throws UncheckedIOException     when the file cannot be opened or mapped
     */
    public static void readInto(Path file, HostTable table, int threads, ProgressListener progress) {
        readInto(file, table, threads, progress, ParallelChunks.DEFAULT_CHUNK_BYTES);
    }

    /** As {@link #readInto(Path, HostTable, int, ProgressListener)} with a chosen chunk size (tests). */
    static void readInto(Path file, HostTable table, int threads, ProgressListener progress, long chunkBytes) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(table, "table");
        ParallelChunks.checkThreads(threads);
        requireLittleEndian();
        MemorySegment dst = table.segment();
        long rowBytes = table.rowBytes();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofShared()) {
            checkSize(file, ch.size(), table.rows(), table.rowElements(), table.dtype());
            MemorySegment src = ch.map(FileChannel.MapMode.READ_ONLY, 0, dst.byteSize(), arena);
            ParallelChunks.run(table.rows(), rowBytes, chunkBytes, threads, "engram-load", progress,
                    (from, to) -> MemorySegment.copy(src, from * rowBytes, dst, from * rowBytes, (to - from) * rowBytes));
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code table} to {@code file} (created or truncated) in the format {@link #readInto} reads.
     *
     * @param table the table
     * @param file  the destination
     * @throws UncheckedIOException when the file cannot be written
     */
    public static void write(HostTable table, Path file) {
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(file, "file");
        requireLittleEndian();
        MemorySegment src = table.segment();
        long piece = 1L << 30; // a ByteBuffer view holds < 2 GiB
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long off = 0; off < src.byteSize(); off += piece) {
                var buf = src.asSlice(off, Math.min(piece, src.byteSize() - off)).asByteBuffer();
                while (buf.hasRemaining()) ch.write(buf);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    private static long fileSize(Path file) {
        try {
            return Files.size(file);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    private static void checkSize(Path file, long actual, long rows, int rowElements, DType dtype) {
        long expected = HostTable.byteSize(rows, rowElements, dtype);
        if (actual != expected) {
            throw new IllegalArgumentException(file + ": holds " + actual + " bytes, expected " + expected + " bytes ("
                    + rows + " rows x " + rowElements + " " + dtype + ")");
        }
    }

    private static void requireLittleEndian() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("row files are little-endian and tables native-order; this platform is "
                    + ByteOrder.nativeOrder());
        }
    }
}
