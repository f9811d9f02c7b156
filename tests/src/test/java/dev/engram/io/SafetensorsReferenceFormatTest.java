package dev.engram.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Compatibility with the reference implementation (Python {@code safetensors}, its Rust core): files built here byte
 * by byte exactly as it writes them (8-byte little-endian header length, compact JSON with {@code __metadata__}
 * first, tensors by decreasing dtype alignment then name, space padding to a multiple of 8) are read, and
 * {@link SafetensorsWriter} writes the same bytes. The single-tensor and metadata-only files are the ones the
 * reference's own serialization tests expect.
 */
class SafetensorsReferenceFormatTest {
    @TempDir
    Path dir;

    private static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        return b.array();
    }

    private byte[] written(SafetensorsWriter w) throws IOException {
        Path out = dir.resolve("written.safetensors");
        long size = w.write(out);
        byte[] bytes = Files.readAllBytes(out);
        assertEquals(bytes.length, size);
        return bytes;
    }

    @Test
    void oneF32TensorIsReadAndWrittenByteForByte() throws IOException {
        // 64 header bytes: a multiple of 8 already, so no padding.
        String header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        byte[] data = f32(0, 1, 2, 3, 4, 5);
        byte[] expected = SafetensorsBytes.padded(header, data);
        assertEquals(64, header.length());
        assertEquals(64, expected[0]);

        Path file = SafetensorsBytes.write(dir.resolve("attn.safetensors"), expected);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorInfo t = f.tensor("attn.0");
            assertEquals(SafetensorsDType.F32, t.dtype());
            assertArrayEquals(new long[] {1, 2, 3}, t.shape());
            assertEquals(8 + 64, t.fileOffset());
            assertEquals(24, t.byteSize());
            float[] values = f.data("attn.0").toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, values);
            assertEquals(Map.of(), f.metadata());
        }
        assertArrayEquals(expected, written(new SafetensorsWriter()
                .add("attn.0", SafetensorsDType.F32, new long[] {1, 2, 3}, MemorySegment.ofArray(data))));
    }

    @Test
    void shortHeaderIsPaddedWithSpacesSoTheDataStartsAligned() throws IOException {
        // 65 header bytes, padded with 7 spaces to 72.
        String header = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
        byte[] data = f32(0, 1, 2, 3, 4, 5);
        byte[] expected = SafetensorsBytes.padded(header, data);
        assertEquals(72, expected[0]);
        assertEquals("       ", new String(expected, 8 + 65, 7, StandardCharsets.US_ASCII));
        assertArrayEquals(expected, written(new SafetensorsWriter()
                .add("attn0", SafetensorsDType.F32, new long[] {1, 1, 2, 3}, MemorySegment.ofArray(data))));
        try (SafetensorsFile f = SafetensorsFile.open(SafetensorsBytes.write(dir.resolve("a.safetensors"), expected))) {
            assertEquals(80, f.tensor("attn0").fileOffset());
            assertTrue(f.tensor("attn0").isNaturallyAligned());
        }
    }

    @Test
    void metadataOnlyAndEmptyFiles() throws IOException {
        byte[] empty = SafetensorsBytes.padded("{}", new byte[0]);
        assertArrayEquals(SafetensorsBytes.ofInts(8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 32, 32, 32, 32, 32, 32), empty);
        assertArrayEquals(empty, written(new SafetensorsWriter()));

        byte[] withMetadata = SafetensorsBytes.padded("{\"__metadata__\":{\"framework\":\"pt\"}}", new byte[0]);
        assertEquals(8 + 40, withMetadata.length);
        assertArrayEquals(withMetadata, written(new SafetensorsWriter().metadata("framework", "pt")));
        try (SafetensorsFile f = SafetensorsFile.open(SafetensorsBytes.write(dir.resolve("m.safetensors"), withMetadata))) {
            assertEquals(Map.of("framework", "pt"), f.metadata());
            assertEquals(List.of(), f.tensors());
        }
    }

    @Test
    void tensorsAreOrderedByDecreasingAlignmentThenName() throws IOException {
        // The reference sorts by dtype (its enum order: ... U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, ..., F16, BF16,
        // I32, U32, F32, ..., F64, I64), descending, then by name: I64 first, U8 last, BF16 before F16.
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"z\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[8,16]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
                + "\"v\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[20,24]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[28,28]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[28,30]},"
                + "\"s\":{\"dtype\":\"F8_E8M0\",\"shape\":[1],\"data_offsets\":[30,31]},"
                + "\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[1,1],\"data_offsets\":[31,32]},"
                + "\"e\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[32,33]},"
                + "\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[33,36]}}";
        byte[] data = new byte[36];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 7 + 1);
        byte[] expected = SafetensorsBytes.padded(header, data);

        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        // Added in another order: the writer sorts.
        w.add("u", SafetensorsDType.U8, new long[] {3}, MemorySegment.ofArray(slice(data, 33, 36)));
        w.add("c", SafetensorsDType.BF16, new long[] {0}, MemorySegment.ofArray(new byte[0]));
        w.add("b", SafetensorsDType.BF16, new long[] {2}, MemorySegment.ofArray(slice(data, 24, 28)));
        w.add("h", SafetensorsDType.F16, new long[] {1}, MemorySegment.ofArray(slice(data, 28, 30)));
        w.add("e", SafetensorsDType.F8_E5M2, new long[] {1}, MemorySegment.ofArray(slice(data, 32, 33)));
        w.add("q", SafetensorsDType.F8_E4M3, new long[] {1, 1}, MemorySegment.ofArray(slice(data, 31, 32)));
        w.add("s", SafetensorsDType.F8_E8M0, new long[] {1}, MemorySegment.ofArray(slice(data, 30, 31)));
        w.add("v", SafetensorsDType.I32, new long[] {1}, MemorySegment.ofArray(slice(data, 20, 24)));
        w.add("w", SafetensorsDType.F32, new long[] {1}, MemorySegment.ofArray(slice(data, 16, 20)));
        w.add("a", SafetensorsDType.F64, new long[] {}, MemorySegment.ofArray(slice(data, 8, 16)));
        w.add("z", SafetensorsDType.I64, new long[] {1}, MemorySegment.ofArray(slice(data, 0, 8)));
        assertArrayEquals(expected, written(w));

        try (SafetensorsFile f = SafetensorsFile.open(SafetensorsBytes.write(dir.resolve("all.safetensors"), expected))) {
            assertEquals(List.of("z", "a", "w", "v", "b", "c", "h", "s", "q", "e", "u"),
                    f.tensors().stream().map(TensorInfo::name).toList());
            for (TensorInfo t : f.tensors()) assertTrue(t.isNaturallyAligned(), t.toString());
            assertArrayEquals(slice(data, 33, 36), f.data("u").toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void unpaddedHeadersAndWhitespaceAroundTheJsonAreAccepted() throws IOException {
        // Unpadded, as older writers and the reference's own tests make them.
        String header = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
        assertEquals(60, header.length());
        try (SafetensorsFile f = SafetensorsFile.open(SafetensorsBytes.write(dir.resolve("u.safetensors"),
                SafetensorsBytes.file(header, new byte[16])))) {
            assertArrayEquals(new long[] {2, 2}, f.tensor("test").shape());
            assertEquals(68, f.tensor("test").fileOffset());
            assertEquals(-1, f.data("test").mismatch(MemorySegment.ofArray(new byte[16])));
        }
        for (String h : new String[] {"{}\r \t\n", "\t\n{}\r "}) {
            try (SafetensorsFile f = SafetensorsFile.open(SafetensorsBytes.write(dir.resolve("w.safetensors"),
                    SafetensorsBytes.file(h, new byte[0])))) {
                assertEquals(0, f.tensors().size());
            }
        }
    }

    @Test
    void zeroDimensionalAndEmptyTensors() throws IOException {
        String header = "{\"scalar\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
                + "\"none\":{\"dtype\":\"I32\",\"shape\":[2,0],\"data_offsets\":[4, 4]}}";
        byte[] data = SafetensorsBytes.ofInts(42, 0, 0, 0);
        try (SafetensorsFile f = SafetensorsFile.open(SafetensorsBytes.write(dir.resolve("z.safetensors"),
                SafetensorsBytes.file(header, data)))) {
            TensorInfo scalar = f.tensor("scalar");
            assertEquals(0, scalar.rank());
            assertEquals(1, scalar.elementCount());
            assertEquals(42, f.data("scalar").get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
            TensorInfo none = f.tensor("none");
            assertEquals(0, none.elementCount());
            assertEquals(0, f.data("none").byteSize());
        }
    }

    private static byte[] slice(byte[] a, int from, int to) {
        return Arrays.copyOfRange(a, from, to);
    }
}
