package dev.engram.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One safetensors file, memory-mapped read-only into a shared {@link Arena}: tensors are zero-copy slices of the
 * mapping, and nothing is copied onto the Java heap but the header.
 *
 * <p><b>Validation first.</b> {@link #open} reads the 8-byte header length and the header with plain reads and
 * checks them all before it maps the file: the length is at most 100,000,000 bytes (the reference
 * implementation's limit; a larger one means a corrupt file, not a large model) and within the file; the header
 * is one strict UTF-8 JSON object without duplicate names; each tensor has a supported dtype, a shape of
 * non-negative integers and {@code data_offsets [begin, end]} with {@code end - begin = elements x dtype size}
 * (computed without overflow: shapes may hold more than 2^31 elements); sorted by offset, the tensors cover the
 * data section exactly, with no overlap, no gap and no trailing bytes, as the reference requires. Every failure is
 * a {@link SafetensorsException} naming the file and, where one is involved, the tensor.
 *
 * <p><b>Byte order and alignment.</b> Tensor bytes are little-endian, row-major. The mapping starts on a page
 * boundary, so a tensor's address is aligned exactly as its {@link TensorInfo#fileOffset()}. The reference writer
 * (and {@link SafetensorsWriter}) pads the header to a multiple of 8 bytes and orders tensors by decreasing
 * element size, so every offset is a multiple of the element size; but the format does not require it, and other
 * writers may not do it. So read elements with the unaligned layouts of {@link SafetensorsDType#elementLayout()},
 * and check {@link TensorInfo#isNaturallyAligned()} before using aligned layouts or handing the address to code
 * that needs alignment.
 *
 * <p><b>Lifetime.</b> Segments stay valid until {@link #close()}. The file must not be truncated or rewritten in
 * place while it is open (a read past a new end faults, which the JVM reports as an {@link InternalError});
 * replacing it by a rename, as {@link SafetensorsWriter} does, is safe: the mapping keeps the old file.
 */
public final class SafetensorsFile implements SafetensorsCheckpoint {
    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final Map<String, String> metadata;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, SafetensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.metadata = header.metadata();
        this.tensors = header.tensors();
        Map<String, TensorInfo> names = new LinkedHashMap<>();
        for (TensorInfo t : tensors) names.put(t.name(), t);
        this.byName = names;
    }

    /**
     * Validates the header of {@code file} and maps it read-only.
     *
     * @param file the {@code .safetensors} file
     * @return the open file; close it to unmap it
     * @throws SafetensorsException when the file cannot be read, or breaks the format (see the class comment)
     */
    public static SafetensorsFile open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new SafetensorsException(file, null, Files.exists(file) ? "not a regular file" : "no such file");
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            long rawLength = 0;
            if (size >= SafetensorsHeader.LENGTH_BYTES) {
                ByteBuffer length = ByteBuffer.allocate(SafetensorsHeader.LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                readFully(file, channel, length, 0);
                rawLength = length.getLong(0);
            }
            int headerLength = SafetensorsHeader.headerLength(file, size, rawLength);
            ByteBuffer header = ByteBuffer.allocate(headerLength);
            readFully(file, channel, header, SafetensorsHeader.LENGTH_BYTES);
            SafetensorsHeader parsed = SafetensorsHeader.parse(file, size, header.array());
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return new SafetensorsFile(file, arena, mapping, parsed);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(file, null, "no such file", e);
        } catch (IOException e) {
            throw new SafetensorsException(file, null, "cannot read: " + e, e);
        }
    }

    private static void readFully(Path file, FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position + buffer.position());
            if (n < 0) throw new SafetensorsException(file, null, "file shrank while its header was read");
        }
        buffer.flip();
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public Optional<TensorInfo> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    @Override
    public MemorySegment data(String name) {
        TensorInfo t = tensor(name);
        if (closed.get()) throw new IllegalStateException(path + ": closed");
        return mapping.asSlice(t.fileOffset(), t.byteSize());
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) arena.close();
    }

    /**
     * {@return the path and the number of tensors}
     */
    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
