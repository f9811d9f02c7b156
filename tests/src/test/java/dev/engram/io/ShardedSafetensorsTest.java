package dev.engram.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checkpoints split by a Hugging Face {@code model.safetensors.index.json}. */
class ShardedSafetensorsTest {
    @TempDir
    Path dir;

    private static MemorySegment bytes(int... v) {
        return MemorySegment.ofArray(SafetensorsBytes.ofInts(v));
    }

    /** Two shards: a and b in the first, c in the second. */
    private Path twoShards(String weightMap) throws IOException {
        new SafetensorsWriter().add("a", SafetensorsDType.U8, new long[] {2}, bytes(1, 2))
                .add("b", SafetensorsDType.U8, new long[] {1}, bytes(3))
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("c", SafetensorsDType.U8, new long[] {3}, bytes(4, 5, 6))
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        return Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\": {\"total_size\": 6, \"format\": \"pt\"}, \"weight_map\": " + weightMap + "}");
    }

    private static final String MAP = "{\"a\": \"model-00001-of-00002.safetensors\", "
            + "\"c\": \"model-00002-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\"}";

    @Test
    void tensorsAreFoundAcrossShardsEachOpenedOnce() throws IOException {
        Path index = twoShards(MAP);
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(index)) {
            ShardedSafetensors s = assertInstanceOf(ShardedSafetensors.class, c);
            assertEquals(index, s.path());
            assertEquals(2, s.shards().size());
            assertEquals(Map.of("total_size", "6", "format", "pt"), s.metadata());
            assertEquals(List.of("a", "c", "b"), s.tensors().stream().map(TensorInfo::name).toList());
            assertEquals(dir.resolve("model-00002-of-00002.safetensors"), s.tensor("c").file());
            assertArrayEquals(new byte[] {4, 5, 6}, s.data("c").toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(new byte[] {1, 2}, s.data("a").toArray(ValueLayout.JAVA_BYTE));
            assertTrue(s.contains("b"));
            assertFalse(s.contains("d"));
            var e = assertThrows(SafetensorsException.class, () -> s.data("d"));
            assertEquals(index + ": tensor \"d\": no such tensor in the index's weight_map", e.getMessage());
            MemorySegment held = s.data("a");
            s.close();
            assertThrows(IllegalStateException.class, () -> held.get(ValueLayout.JAVA_BYTE, 0), "shards unmapped");
        }
    }

    @Test
    void aTensorTheMapNamesButTheShardLacksIsNamed() throws IOException {
        Path index = twoShards("{\"a\": \"model-00001-of-00002.safetensors\", \"c\": \"model-00001-of-00002.safetensors\"}");
        var e = assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(index));
        Path shard = dir.resolve("model-00001-of-00002.safetensors");
        assertEquals(shard, e.file());
        assertEquals("c", e.tensor().orElseThrow());
        assertTrue(e.getMessage().startsWith(shard + ": tensor \"c\": not in this shard, though the index " + index), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"../outside.safetensors", "sub/../../outside.safetensors", "/tmp/outside.safetensors", "", ".", "sub/.."})
    void shardsOutsideTheIndexDirectoryAreRefused(String shard) throws IOException {
        Path inner = Files.createDirectory(dir.resolve("ckpt"));
        new SafetensorsWriter().write(dir.resolve("outside.safetensors")); // a valid file that must not be reached
        Path index = Files.writeString(inner.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"w\": \"" + shard + "\"}}");
        var e = assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(index));
        assertEquals(index, e.file());
        assertEquals("w", e.tensor().orElseThrow());
        assertTrue(e.getMessage().contains("is not a file inside the index's directory"), e.getMessage());
    }

    @Test
    void subdirectoriesAndSymbolicLinksInsideTheDirectoryAreFine() throws IOException {
        Path blobs = Files.createDirectory(dir.resolve("blobs"));
        Path snapshot = Files.createDirectories(dir.resolve("snapshots/abc"));
        new SafetensorsWriter().add("w", SafetensorsDType.U8, new long[] {1}, bytes(7)).write(blobs.resolve("sha256"));
        // The Hugging Face cache layout: the snapshot's shard is a link to a blob elsewhere.
        Files.createSymbolicLink(snapshot.resolve("model.safetensors"), Path.of("../../blobs/sha256"));
        Files.createDirectory(snapshot.resolve("sub"));
        new SafetensorsWriter().add("v", SafetensorsDType.U8, new long[] {1}, bytes(8)).write(snapshot.resolve("sub/part.safetensors"));
        Path index = Files.writeString(snapshot.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"w\": \"model.safetensors\", \"v\": \"./sub/part.safetensors\"}}");
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(index)) {
            assertEquals(7, c.data("w").get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(8, c.data("v").get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(Map.of(), c.metadata());
        }
    }

    @Test
    void brokenIndexes() throws IOException {
        Path index = dir.resolve("model.safetensors.index.json");
        String[][] cases = {
            {"{\"weight_map\": {\"w\": \"x.safetensors\"}", "index is not valid JSON"},
            {"[]", "index is not a JSON object"},
            {"{\"metadata\": {}}", "\"weight_map\" is missing or not an object"},
            {"{\"weight_map\": []}", "\"weight_map\" is missing or not an object"},
            {"{\"weight_map\": {\"w\": 1}}", "tensor \"w\": weight_map value is not a file name but 1"},
            {"{\"metadata\": 3, \"weight_map\": {}}", "\"metadata\" is not an object"},
            {"{\"weight_map\": {\"w\": \"missing.safetensors\"}}", "missing.safetensors: no such file"},
        };
        for (String[] c : cases) {
            Files.writeString(index, c[0]);
            var e = assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(index), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
        var e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.open(dir.resolve("absent.index.json")));
        assertTrue(e.getMessage().endsWith("absent.index.json: no such file"), e.getMessage());
    }

    @Test
    void aBrokenShardIsReportedWithItsOwnName() throws IOException {
        Files.write(dir.resolve("bad.safetensors"), new byte[5]);
        Path index = Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"w\": \"bad.safetensors\"}}");
        var e = assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(index));
        assertEquals(dir.resolve("bad.safetensors"), e.file());
        assertTrue(e.getMessage().contains("too short for the 8-byte header length"), e.getMessage());
    }
}
