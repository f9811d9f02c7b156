package dev.engram.io;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A safetensors checkpoint opened for reading: one {@link SafetensorsFile} or a {@link ShardedSafetensors} set of
 * them behind a {@code model.safetensors.index.json}. Tensors are looked up by full name; their bytes are
 * zero-copy, read-only slices of the files' memory mappings, valid until {@link #close()}.
 *
 * <p>Thread safety: after opening, lookups and reads may come from any thread; closing while another thread
 * still reads makes that read fail with {@link IllegalStateException} (never a crash).
 */
public sealed interface SafetensorsCheckpoint extends AutoCloseable permits SafetensorsFile, ShardedSafetensors {
    /**
     * Opens a checkpoint: a sharded one when the file name ends in {@code .json} (the index), else one
     * safetensors file. Every header is validated before this returns.
     *
     * @param path a {@code .safetensors} file or a {@code model.safetensors.index.json}
     * @return the open checkpoint; close it to unmap the files
     * @throws SafetensorsException when a file cannot be read or breaks the format, or the index does not match
     *                              its shards
     */
    static SafetensorsCheckpoint open(Path path) {
        Path name = path.getFileName();
        if (name != null && name.toString().endsWith(".json")) return ShardedSafetensors.open(path);
        return SafetensorsFile.open(path);
    }

    /**
     * {@return the path it was opened from: the safetensors file or the index}
     */
    Path path();

    /**
     * {@return the checkpoint's metadata: a file's {@code __metadata__}, or an index's {@code "metadata"} (its
     * non-string values, such as {@code total_size}, as JSON text); empty when there is none}
     */
    Map<String, String> metadata();

    /**
     * {@return every tensor, in file order (for a sharded checkpoint: in the index's order)}
     */
    List<TensorInfo> tensors();

    /**
     * {@return the tensor of this full name, or empty when the checkpoint has none}
     *
     * @param name the full name, e.g. {@code model.layers.3.engram.value_proj.weight}
     */
    Optional<TensorInfo> find(String name);

    /**
     * {@return the tensor of this full name}
     *
     * @param name the full name
     * @throws SafetensorsException when the checkpoint has no such tensor, naming it and {@link #path()}
     */
    default TensorInfo tensor(String name) {
        return find(name).orElseThrow(() -> new SafetensorsException(path(), name, "no such tensor in the checkpoint"));
    }

    /**
     * {@return whether the checkpoint has a tensor of this full name}
     *
     * @param name the full name
     */
    default boolean contains(String name) {
        return find(name).isPresent();
    }

    /**
     * The bytes of a tensor: a read-only slice of the file's mapping, {@link TensorInfo#byteSize()} long, in the
     * format's little-endian C order. Read elements with {@link SafetensorsDType#elementLayout()} (unaligned
     * layouts: the format does not promise aligned offsets).
     *
     * @param name the full name
     * @return the tensor's bytes, valid until the checkpoint is closed
     * @throws SafetensorsException  when the checkpoint has no such tensor
     * @throws IllegalStateException when the checkpoint is closed
     */
    MemorySegment data(String name);

    /**
     * Unmaps the files. Segments handed out before become inaccessible: reading one then throws
     * {@link IllegalStateException}. Closing twice does nothing.
     */
    @Override
    void close();
}
