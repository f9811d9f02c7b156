package dev.engram.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SafetensorsWriter then SafetensorsFile: every dtype and shape comes back byte for byte, zero-copy. */
class SafetensorsRoundTripTest {
    private static final long SEED = 20260513;
    private static final long[][] SHAPES = {{}, {0}, {1}, {5}, {3, 4}, {2, 0, 3}, {2, 3, 1, 2}};

    @TempDir
    Path dir;

    @Test
    void everyDtypeAndShapeRoundTrips() throws IOException {
        Random random = new Random(SEED);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt").metadata("note", "ünïcode ✓");
        List<Object[]> added = new ArrayList<>();
        for (SafetensorsDType dtype : SafetensorsDType.values()) {
            for (int s = 0; s < SHAPES.length; s++) {
                long[] shape = SHAPES[s];
                byte[] bytes = new byte[(int) TensorInfo.byteSizeOf(dtype, shape)];
                random.nextBytes(bytes);
                String name = "layer." + dtype.name().toLowerCase() + "." + s;
                w.add(name, dtype, shape, MemorySegment.ofArray(bytes));
                added.add(new Object[] {name, dtype, shape, bytes});
            }
        }
        Path file = dir.resolve("all.safetensors");
        long size = w.write(file);
        assertEquals(Files.size(file), size);

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt", "note", "ünïcode ✓"), f.metadata());
            assertEquals(added.size(), f.tensors().size());
            for (Object[] a : added) {
                String name = (String) a[0];
                TensorInfo t = f.tensor(name);
                assertEquals(a[1], t.dtype(), name);
                assertArrayEquals((long[]) a[2], t.shape(), name);
                assertEquals(file, t.file());
                assertTrue(t.isNaturallyAligned(), name + " at " + t.fileOffset());
                MemorySegment data = f.data(name);
                assertTrue(data.isReadOnly(), "slices of a read-only mapping");
                assertTrue(data.isMapped());
                assertEquals(0, data.address() % ((SafetensorsDType) a[1]).byteSize(), name + " address aligned");
                assertArrayEquals((byte[]) a[3], data.toArray(ValueLayout.JAVA_BYTE), name);
            }
        }
        byte[] raw = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, headerLength % 8, "header padded to a multiple of 8");
        String header = new String(raw, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\","), header);
        assertTrue(header.stripTrailing().endsWith("}"), "only spaces pad the JSON");
        assertTrue(header.length() - header.stripTrailing().length() < 8, "at most 7 spaces");
    }

    @Test
    void elementLayoutsReadAndWriteLittleEndianValues() throws IOException {
        double[] f64 = {Math.PI, -0.0, Double.MIN_VALUE, Double.MAX_VALUE};
        float[] f32 = {1.5f, -2.25f, Float.NaN, Float.NEGATIVE_INFINITY};
        long[] i64 = {Long.MIN_VALUE, -1, 0, 1L << 40};
        int[] i32 = {Integer.MAX_VALUE, -7, 0, 123456};
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter w = new SafetensorsWriter();
            w.add("f64", SafetensorsDType.F64, new long[] {4}, fill(arena, SafetensorsDType.F64, f64));
            w.add("f32", SafetensorsDType.F32, new long[] {2, 2}, fill(arena, SafetensorsDType.F32, f32));
            w.add("i64", SafetensorsDType.I64, new long[] {4}, fill(arena, SafetensorsDType.I64, i64));
            w.add("i32", SafetensorsDType.I32, new long[] {4, 1}, fill(arena, SafetensorsDType.I32, i32));
            Path file = dir.resolve("values.safetensors");
            w.write(file);
            try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
                assertArrayEquals(f64, c.data("f64").toArray((ValueLayout.OfDouble) SafetensorsDType.F64.elementLayout()));
                assertArrayEquals(f32, c.data("f32").toArray((ValueLayout.OfFloat) SafetensorsDType.F32.elementLayout()));
                assertArrayEquals(i64, c.data("i64").toArray((ValueLayout.OfLong) SafetensorsDType.I64.elementLayout()));
                assertArrayEquals(i32, c.data("i32").toArray((ValueLayout.OfInt) SafetensorsDType.I32.elementLayout()));
                // Little-endian on disk whatever the platform: the low byte of 1.5f (0x3FC00000) comes first.
                assertEquals(0x00, c.data("f32").get(ValueLayout.JAVA_BYTE, 0));
                assertEquals(0x3F, c.data("f32").get(ValueLayout.JAVA_BYTE, 3));
            }
        }
    }

    private static MemorySegment fill(Arena arena, SafetensorsDType dtype, Object values) {
        int n = Array.getLength(values);
        MemorySegment s = arena.allocate((long) n * dtype.byteSize());
        for (int i = 0; i < n; i++) {
            long at = (long) i * dtype.byteSize();
            switch (values) {
                case double[] d -> s.set((ValueLayout.OfDouble) dtype.elementLayout(), at, d[i]);
                case float[] f -> s.set((ValueLayout.OfFloat) dtype.elementLayout(), at, f[i]);
                case long[] l -> s.set((ValueLayout.OfLong) dtype.elementLayout(), at, l[i]);
                case int[] v -> s.set((ValueLayout.OfInt) dtype.elementLayout(), at, v[i]);
                default -> throw new IllegalArgumentException();
            }
        }
        return s;
    }

    @Test
    void tensorsLargerThanOneChunkStreamFromHeapAndNativeSegments() throws IOException {
        int n = (8 << 20) / 4 + 3; // just over the writer's 8 MiB chunk
        float[] heap = new float[n];
        Random random = new Random(SEED);
        for (int i = 0; i < n; i++) heap[i] = random.nextFloat();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment nativeCopy = arena.allocate((long) n * 4);
            MemorySegment.copy(MemorySegment.ofArray(heap), 0, nativeCopy, 0, nativeCopy.byteSize());
            Path file = dir.resolve("big.safetensors");
            new SafetensorsWriter()
                    .add("heap", SafetensorsDType.F32, new long[] {n}, MemorySegment.ofArray(heap)) // float[]: staged
                    .add("native", SafetensorsDType.F32, new long[] {n}, nativeCopy)                // written in place
                    .write(file);
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                assertEquals(-1, f.data("heap").mismatch(MemorySegment.ofArray(heap)), "native-order floats = LE here");
                assertEquals(-1, f.data("native").mismatch(nativeCopy));
            }
        }
    }

    @Test
    void rewritingIsAtomicAndLeavesOpenMappingsIntact() throws IOException {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().add("t", SafetensorsDType.U8, new long[] {4}, MemorySegment.ofArray(new byte[] {1, 2, 3, 4}))
                .write(file);
        try (SafetensorsFile old = SafetensorsFile.open(file)) {
            MemorySegment oldData = old.data("t");
            new SafetensorsWriter().add("t", SafetensorsDType.U8, new long[] {2}, MemorySegment.ofArray(new byte[] {9, 8}))
                    .write(file);
            assertArrayEquals(new byte[] {1, 2, 3, 4}, oldData.toArray(ValueLayout.JAVA_BYTE), "the old mapping keeps the old file");
            try (SafetensorsFile fresh = SafetensorsFile.open(file)) {
                assertArrayEquals(new byte[] {9, 8}, fresh.data("t").toArray(ValueLayout.JAVA_BYTE));
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "no temporary file left behind");
        }
    }

    @Test
    void closedFilesRefuseReadsInsteadOfCrashing() throws IOException {
        Path file = dir.resolve("c.safetensors");
        new SafetensorsWriter().add("t", SafetensorsDType.F32, new long[] {2}, MemorySegment.ofArray(new float[] {1, 2})).write(file);
        SafetensorsFile f = SafetensorsFile.open(file);
        MemorySegment before = f.data("t");
        f.close();
        f.close(); // twice is fine
        assertThrows(IllegalStateException.class, () -> f.data("t"));
        assertThrows(IllegalStateException.class, () -> before.get(ValueLayout.JAVA_BYTE, 0));
        assertTrue(f.find("t").isPresent(), "the header stays readable");
    }

    @Test
    void writerRefusesBadArgumentsBeforeWriting() {
        SafetensorsWriter w = new SafetensorsWriter().add("a", SafetensorsDType.U8, new long[] {1}, MemorySegment.ofArray(new byte[1]));
        MemorySegment four = MemorySegment.ofArray(new byte[4]);
        assertThrows(IllegalArgumentException.class, () -> w.add("a", SafetensorsDType.U8, new long[] {4}, four), "duplicate");
        assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", SafetensorsDType.U8, new long[] {4}, four));
        var wrong = assertThrows(IllegalArgumentException.class, () -> w.add("b", SafetensorsDType.F32, new long[] {2}, four));
        assertTrue(wrong.getMessage().contains("\"b\"") && wrong.getMessage().contains("8 bytes"), wrong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> w.add("c", SafetensorsDType.U8, new long[] {-4}, four));
        assertThrows(IllegalArgumentException.class,
                () -> w.add("d", SafetensorsDType.F64, new long[] {1L << 31, 1L << 31}, four), "overflow is caught");
        assertThrows(IllegalArgumentException.class, () -> w.add("\uD800", SafetensorsDType.U8, new long[] {4}, four));
        assertThrows(IllegalArgumentException.class, () -> w.metadata("k", "\uDC00"));
        assertFalse(Files.exists(dir.resolve("never.safetensors")));
    }

    @Test
    void failedWriteLeavesTheTargetAsItWas() throws IOException {
        Path file = dir.resolve("keep.safetensors");
        Files.writeString(file, "old");
        Arena arena = Arena.ofConfined();
        MemorySegment gone = arena.allocate(4);
        arena.close();
        SafetensorsWriter w = new SafetensorsWriter().add("t", SafetensorsDType.I32, new long[] {1}, gone);
        assertThrows(IllegalStateException.class, () -> w.write(file));
        assertEquals("old", Files.readString(file));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "the temporary file is removed");
        }
    }
}
