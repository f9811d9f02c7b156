package dev.engram.io;

import dev.engram.json.JsonWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a safetensors file as the reference implementation does: tensors ordered by decreasing element size
 * (ties in the reference's dtype order), then by name (UTF-8 bytes); a compact JSON header with
 * {@code __metadata__} first, padded with spaces to a multiple of 8 bytes, so that every tensor's offset is a
 * multiple of its element size. With at most one metadata entry the bytes equal Python's {@code save_file}
 * (the reference writes several in hash order; here they keep insertion order).
 *
 * <p>Tensor bytes come from {@link MemorySegment}s the caller keeps alive until {@link #write} returns (heap or
 * native, e.g. slices of another checkpoint's mapping); they are streamed to the file in chunks, never gathered
 * in memory, and must already be in the format's layout: little-endian, row-major (fill them with
 * {@link SafetensorsDType#elementLayout()}). The file appears atomically: it is written to a temporary file in
 * the same directory, forced to disk, then renamed over the target, so a reader never sees half a file and an
 * open mapping of the old file stays valid.
 */
public final class SafetensorsWriter {
    /** The most bytes copied at once from a heap segment into the staging buffer. */
    private static final int CHUNK_BYTES = 8 << 20;

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, Pending> tensors = new LinkedHashMap<>();

    private record Pending(String name, byte[] utf8Name, SafetensorsDType dtype, long[] shape, MemorySegment data) {}

    /** Creates a writer with no tensors and no metadata. */
    public SafetensorsWriter() {}

    /**
     * Adds an entry to {@code __metadata__}, replacing an earlier one of the same key.
     *
     * @param key   the key
     * @param value the value
     * @return this writer
     * @throws IllegalArgumentException when the key or value is not valid Unicode (an unpaired surrogate)
     */
    public SafetensorsWriter metadata(String key, String value) {
        utf8("metadata key", key);
        utf8("metadata value", value);
        metadata.put(key, value);
        return this;
    }

    /**
     * Adds a tensor. Its bytes are read when {@link #write} runs, not now.
     *
     * @param name  the full name: unique, not {@code __metadata__}
     * @param dtype the element type
     * @param shape the dimensions, outermost first (empty for a 0-d tensor); copied
     * @param data  exactly {@code elements x dtype.byteSize()} bytes, little-endian, row-major
     * @return this writer
     * @throws IllegalArgumentException when the name is taken, reserved or not valid Unicode, a dimension is
     *                                  negative, or {@code data}'s size disagrees with the shape
     */
    public SafetensorsWriter add(String name, SafetensorsDType dtype, long[] shape, MemorySegment data) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(data, "data");
        byte[] utf8Name = utf8("tensor name", name);
        if (name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("\"" + name + "\" is reserved for the metadata, not a tensor name");
        }
        if (tensors.containsKey(name)) throw new IllegalArgumentException("tensor \"" + name + "\" added twice");
        long[] dims = shape.clone();
        long bytes = TensorInfo.byteSizeOf(dtype, dims);
        if (data.byteSize() != bytes) {
            throw new IllegalArgumentException("tensor \"" + name + "\": " + dtype + " " + Arrays.toString(dims)
                    + " takes " + bytes + " bytes, the segment holds " + data.byteSize());
        }
        tensors.put(name, new Pending(name, utf8Name, dtype, dims, data));
        return this;
    }

    /**
     * Writes the file, replacing any file of that name atomically.
     *
     * @param file the file to write
     * @return the size of the file written, in bytes
     * @throws IllegalArgumentException     when the header would exceed the 100,000,000 bytes readers accept
     * @throws IllegalStateException        when a tensor's segment is no longer alive
     * @throws java.io.UncheckedIOException when the file cannot be written (the target is then left as it was)
     */
    public long write(Path file) {
        List<Pending> order = new ArrayList<>(tensors.values());
        order.sort(Comparator.comparingInt((Pending p) -> -p.dtype.referenceOrder())
                .thenComparing(Pending::utf8Name, Arrays::compareUnsigned));
        byte[] header = header(order);
        long size = SafetensorsHeader.LENGTH_BYTES + (long) header.length;
        for (Pending p : order) size = Math.addExact(size, p.data.byteSize());

        Path target = file.toAbsolutePath();
        Path temp = null;
        try {
            temp = createTemp(target);
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer head = ByteBuffer.allocate(SafetensorsHeader.LENGTH_BYTES + header.length)
                        .order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header).flip();
                writeFully(channel, head);
                writeTensors(channel, order);
                channel.force(true);
            }
            move(temp, target);
            return size;
        } catch (IOException e) {
            deleteQuietly(temp, e);
            throw new UncheckedIOException(file + ": cannot write: " + e, e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(temp, e);
            throw e;
        }
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes. */
    private byte[] header(List<Pending> order) {
        Map<String, Object> root = new LinkedHashMap<>();
        if (!metadata.isEmpty()) root.put(SafetensorsHeader.METADATA_KEY, metadata);
        long offset = 0;
        for (Pending p : order) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", p.dtype.name());
            List<Long> dims = new ArrayList<>(p.shape.length);
            for (long d : p.shape) dims.add(d);
            entry.put("shape", dims);
            long end = offset + p.data.byteSize();
            entry.put("data_offsets", List.of(offset, end));
            root.put(p.name, entry);
            offset = end;
        }
        byte[] json = JsonWriter.compact(root).getBytes(StandardCharsets.UTF_8); // names checked by add()
        int padded = (json.length + 7) & ~7;
        if (padded > SafetensorsHeader.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("safetensors header of " + padded + " bytes exceeds the limit of "
                    + SafetensorsHeader.MAX_HEADER_BYTES + " that readers accept");
        }
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Native segments are written straight from their memory; heap ones through a native staging buffer. */
    private static void writeTensors(FileChannel channel, List<Pending> order) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = null;
            for (Pending p : order) {
                MemorySegment src = p.data;
                for (long pos = 0; pos < src.byteSize(); pos += CHUNK_BYTES) {
                    int len = (int) Math.min(CHUNK_BYTES, src.byteSize() - pos);
                    ByteBuffer out;
                    if (src.isNative()) {
                        out = src.asSlice(pos, len).asByteBuffer();
                    } else {
                        if (staging == null) staging = arena.allocate(CHUNK_BYTES);
                        MemorySegment.copy(src, pos, staging, 0, len);
                        out = staging.asSlice(0, len).asByteBuffer();
                    }
                    writeFully(channel, out);
                }
            }
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) channel.write(buffer);
    }

    /** A new file beside the target, with default permissions (unlike {@link Files#createTempFile}'s 0600). */
    private static Path createTemp(Path target) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path temp = target.resolveSibling("." + target.getFileName() + "."
                    + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                Files.newByteChannel(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return temp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 10) throw e;
            }
        }
    }

    private static void move(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteQuietly(Path temp, Throwable failure) {
        if (temp == null) return;
        try {
            Files.deleteIfExists(temp);
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    private static byte[] utf8(String what, String s) {
        Objects.requireNonNull(s, what);
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).encode(CharBuffer.wrap(s));
            return Arrays.copyOf(b.array(), b.limit());
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " \"" + s + "\" is not valid Unicode (an unpaired surrogate)");
        }
    }
}
