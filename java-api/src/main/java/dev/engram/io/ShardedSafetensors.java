package dev.engram.io;

import dev.engram.json.JsonReader;
import dev.engram.json.JsonWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A checkpoint split into shards by a Hugging Face index, {@code model.safetensors.index.json}:
 * {@code {"metadata": {"total_size": ...}, "weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}}.
 *
 * <p>Opening is eager: every shard the weight map names is opened once (mapped, see {@link SafetensorsFile}) and
 * its header validated, and every tensor the map names must be in its shard, so all errors come at
 * {@link #open} and lookups never fail half-way through a load. Mapping costs address space, not memory.
 *
 * <p>Shard files are resolved against the index's directory and must stay inside it: an absolute name, or one
 * whose {@code ..} leads out, is refused before anything is opened (the check is on the names, so a shard that
 * is a symbolic link, as in the Hugging Face cache, is fine). Tensors a shard holds but the map does not name are
 * not visible. Other members of the index are ignored. The index is read whole and limited to 100,000,000 bytes.
 */
public final class ShardedSafetensors implements SafetensorsCheckpoint {
    private static final long MAX_INDEX_BYTES = SafetensorsHeader.MAX_HEADER_BYTES;

    private final Path index;
    private final Map<String, String> metadata;
    private final List<SafetensorsFile> shards;
    private final Map<String, SafetensorsFile> shardOf;
    private final List<TensorInfo> tensors;

    private ShardedSafetensors(Path index, Map<String, String> metadata, List<SafetensorsFile> shards,
                               Map<String, SafetensorsFile> shardOf, List<TensorInfo> tensors) {
        this.index = index;
        this.metadata = metadata;
        this.shards = shards;
        this.shardOf = shardOf;
        this.tensors = tensors;
    }

    /**
     * Reads the index, then opens and validates every shard it names.
     *
     * @param index the {@code model.safetensors.index.json}
     * @return the open checkpoint; close it to unmap the shards
     * @throws SafetensorsException when the index cannot be read or is malformed, names a shard outside its
     *                              directory, a shard cannot be opened (see {@link SafetensorsFile#open}), or a
     *                              shard lacks a tensor the map assigns to it
     */
    public static ShardedSafetensors open(Path index) {
        Map<?, ?> root = readIndex(index);
        Map<String, String> metadata = metadata(index, root.get("metadata"));
        if (!(root.get("weight_map") instanceof Map<?, ?> weightMap)) {
            throw new SafetensorsException(index, null, "\"weight_map\" is missing or not an object");
        }
        Path dir = index.toAbsolutePath().normalize().getParent();
        Map<String, Path> shardPaths = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : weightMap.entrySet()) {
            String tensor = (String) e.getKey();
            if (!(e.getValue() instanceof String shard)) {
                throw new SafetensorsException(index, tensor, "weight_map value is not a file name but "
                        + JsonWriter.compact(e.getValue()));
            }
            if (!shardPaths.containsKey(shard)) shardPaths.put(shard, resolveShard(index, dir, tensor, shard));
        }
        Map<String, SafetensorsFile> opened = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Path> s : shardPaths.entrySet()) opened.put(s.getKey(), SafetensorsFile.open(s.getValue()));
            Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
            List<TensorInfo> tensors = new ArrayList<>(weightMap.size());
            for (Map.Entry<?, ?> e : weightMap.entrySet()) {
                String tensor = (String) e.getKey();
                SafetensorsFile shard = opened.get((String) e.getValue());
                TensorInfo info = shard.find(tensor).orElseThrow(() -> new SafetensorsException(shard.path(), tensor,
                        "not in this shard, though the index " + index + " maps it here"));
                shardOf.put(tensor, shard);
                tensors.add(info);
            }
            return new ShardedSafetensors(index, metadata, List.copyOf(opened.values()), shardOf,
                    Collections.unmodifiableList(tensors));
        } catch (RuntimeException e) {
            for (SafetensorsFile f : opened.values()) f.close();
            throw e;
        }
    }

    /** A shard name resolved against the index's directory, refused when it leads outside it. */
    private static Path resolveShard(Path index, Path dir, String tensor, String shard) {
        Path relative;
        try {
            relative = Path.of(shard);
        } catch (InvalidPathException e) {
            throw new SafetensorsException(index, tensor, "shard name \"" + shard + "\" is not a valid path", e);
        }
        Path resolved = dir.resolve(relative).normalize();
        if (shard.isEmpty() || relative.isAbsolute() || !resolved.startsWith(dir) || resolved.equals(dir)) {
            throw new SafetensorsException(index, tensor, "shard \"" + shard + "\" is not a file inside the index's "
                    + "directory " + dir);
        }
        return resolved;
    }

    private static Map<?, ?> readIndex(Path index) {
        byte[] bytes;
        try {
            long size = Files.size(index);
            if (size > MAX_INDEX_BYTES) {
                throw new SafetensorsException(index, null, "index is " + size + " bytes, over the limit of "
                        + MAX_INDEX_BYTES);
            }
            bytes = Files.readAllBytes(index);
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(index, null, "no such file", e);
        } catch (IOException e) {
            throw new SafetensorsException(index, null, "cannot read: " + e, e);
        }
        Object root;
        try {
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            root = JsonReader.parse(text);
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(index, null, "index is not valid UTF-8 (" + e.getMessage() + ")", e);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(index, null, "index is not valid JSON (" + e.getMessage() + ")", e);
        }
        if (!(root instanceof Map<?, ?> map)) throw new SafetensorsException(index, null, "index is not a JSON object");
        return map;
    }

    /** The index's {@code "metadata"}, strings kept, other values as compact JSON ({@code total_size} is a number). */
    private static Map<String, String> metadata(Path index, Object value) {
        if (value == null) return Map.of();
        if (!(value instanceof Map<?, ?> fields)) {
            throw new SafetensorsException(index, null, "\"metadata\" is not an object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> f : fields.entrySet()) {
            out.put((String) f.getKey(), f.getValue() instanceof String s ? s : JsonWriter.compact(f.getValue()));
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * {@return the path of the index}
     */
    @Override
    public Path path() {
        return index;
    }

    /**
     * {@return the open shards, each once, in the order the weight map first names them}
     */
    public List<SafetensorsFile> shards() {
        return shards;
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
        SafetensorsFile shard = shardOf.get(name);
        return shard == null ? Optional.empty() : shard.find(name);
    }

    @Override
    public MemorySegment data(String name) {
        SafetensorsFile shard = shardOf.get(name);
        if (shard == null) throw new SafetensorsException(index, name, "no such tensor in the index's weight_map");
        return shard.data(name);
    }

    /**
     * Unmaps every shard; closing twice does nothing.
     */
    @Override
    public void close() {
        for (SafetensorsFile f : shards) f.close();
    }

    /**
     * {@return the index path and the numbers of shards and tensors}
     */
    @Override
    public String toString() {
        return "ShardedSafetensors[" + index + ", " + shards.size() + " shards, " + tensors.size() + " tensors]";
    }
}
