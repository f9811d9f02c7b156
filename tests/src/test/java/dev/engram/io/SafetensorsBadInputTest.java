package dev.engram.io;

import dev.engram.EngramException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each way a safetensors file can be wrong is refused at open with a {@link SafetensorsException} whose message
 * names the file, and the tensor where one is involved, and says what is wrong.
 */
class SafetensorsBadInputTest {
    /** A valid two-tensor file: {@code a} F32 [2] at [0, 8], {@code b} U8 [3] at [8, 11]. */
    private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    private static final String B = "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}";

    @TempDir
    Path dir;

    private SafetensorsException refused(byte[] bytes, String... messageParts) {
        Path file = SafetensorsBytes.write(dir.resolve("bad.safetensors"), bytes);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertEquals(file, e.file());
        for (String part : messageParts) assertTrue(e.getMessage().contains(part), "\"" + part + "\" in " + e.getMessage());
        return e;
    }

    private SafetensorsException refusedHeader(String header, int dataBytes, String tensor, String... messageParts) {
        SafetensorsException e = refused(SafetensorsBytes.padded(header, new byte[dataBytes]), messageParts);
        assertEquals(tensor, e.tensor().orElse(null), e.getMessage());
        if (tensor != null) assertTrue(e.getMessage().contains("tensor \"" + tensor + "\""), e.getMessage());
        return e;
    }

    @Test
    void theExceptionIsOfTheLibrarysFamily() {
        assertTrue(EngramException.class.isAssignableFrom(SafetensorsException.class));
        var e = new SafetensorsException(Path.of("f.safetensors"), null, "broken");
        assertEquals("f.safetensors: broken", e.getMessage());
        assertTrue(e.tensor().isEmpty());
    }

    @Test
    void theValidBaseOpens() throws IOException {
        Path file = SafetensorsBytes.write(dir.resolve("ok.safetensors"), SafetensorsBytes.padded("{" + A + "," + B + "}", new byte[11]));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(2, f.tensors().size());
        }
    }

    @Test
    void truncatedFiles() {
        refused(new byte[0], "0 bytes, too short for the 8-byte header length");
        refused(new byte[7], "7 bytes, too short");
        byte[] valid = SafetensorsBytes.padded("{" + A + "," + B + "}", new byte[11]);
        // Cut inside the data: the last tensor runs past the data section.
        SafetensorsException e = refused(Arrays.copyOf(valid, valid.length - 1), "run past the data section of 10 bytes");
        assertEquals("b", e.tensor().orElseThrow());
        // Cut inside the header.
        refused(Arrays.copyOf(valid, 20), "runs past the end of the file (20 bytes");
    }

    @Test
    void headerLengthLargerThanTheFileOrAbsurd() {
        refused(withLength(SafetensorsBytes.padded("{}", new byte[0]), 9), "header length 9 runs past the end of the file (16 bytes");
        refused(withLength(new byte[64], 1L << 40), "header length 1099511627776 is over the limit of 100000000 bytes");
        refused(withLength(new byte[64], 100_000_001L), "over the limit");
        refused(withLength(new byte[64], -1L), "header length 18446744073709551615 is over the limit");
    }

    private static byte[] withLength(byte[] file, long length) {
        byte[] out = file.clone();
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
        return out;
    }

    @Test
    void malformedHeaders() {
        refusedHeader("{" + A + "," + B, 11, null, "header is not valid JSON", "invalid JSON");
        refusedHeader("{" + A + "," + B + ",}", 11, null, "header is not valid JSON");
        refusedHeader("[1,2]", 0, null, "header is not a JSON object but [1,2]");
        refusedHeader("", 0, null, "header is not valid JSON");
        byte[] notUtf8 = SafetensorsBytes.file("{\"\u00e9\":1}", new byte[0]);
        notUtf8[10] = (byte) 0xFF;
        refused(notUtf8, "header is not valid UTF-8");
        refusedHeader("\uFEFF{}", 0, null, "byte-order mark");
        refusedHeader("{\"a\":[1]}", 0, "a", "entry is not an object but [1]");
        refusedHeader("{\"__metadata__\":{\"n\":1}}", 0, null, "__metadata__ value of \"n\" is not a string but 1");
        refusedHeader("{\"__metadata__\":[]}", 0, null, "__metadata__ is not an object");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        // the entry of tensor "t" (4 data bytes)          | message part
        "\"dtype\":\"F32\",\"shape\":[1]                    | entry has no \"data_offsets\"",
        "\"shape\":[1],\"data_offsets\":[0,4]                | entry has no \"dtype\"",
        "\"dtype\":\"F32\",\"data_offsets\":[0,4]            | entry has no \"shape\"",
        "\"dtype\":null,\"shape\":[1],\"data_offsets\":[0,4] | \"dtype\" is null",
        "\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]   | \"dtype\" is not a string but 32",
        "\"dtype\":\"BOOL\",\"shape\":[4],\"data_offsets\":[0,4] | unknown or unsupported dtype \"BOOL\"",
        "\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]  | unknown or unsupported dtype \"f32\"",
        "\"dtype\":\"F8_E4M3FNUZ\",\"shape\":[4],\"data_offsets\":[0,4] | unknown or unsupported dtype \"F8_E4M3FNUZ\"",
        "\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]    | \"shape\" must be an array of non-negative integers",
        "\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]   | \"shape\" must be an array",
        "\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]       | \"shape\" must be an array",
        "\"dtype\":\"F32\",\"shape\":[18446744073709551615],\"data_offsets\":[0,4] | below 2^63",
        "\"dtype\":\"F32\",\"shape\":[2,9223372036854775807],\"data_offsets\":[0,4] | more than 2^63 elements",
        "\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]  | takes more than 2^63 bytes",
        "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]  | \"data_offsets\" must be an array of 2 non-negative",
        "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]   | \"data_offsets\" must be an array of 2",
        "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]    | data_offsets [4, 0] end before they begin",
        "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]    | data_offsets [0, 8] run past the data section of 4 bytes",
        "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999] | run past the data section",
        "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]    | data_offsets [0, 4] hold 4 bytes, but F32 [2] takes 8",
        "\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,4]     | hold 4 bytes, but F64 [] takes 8",
    })
    void badTensorEntriesNameTheTensor(String entry, String message) {
        refusedHeader("{\"t\":{" + entry.strip() + "}}", 4, "t", message.strip());
    }

    @Test
    void overlappingGapsAndTrailingBytes() {
        String a = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        refusedHeader("{" + a + ",\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[6,9]}}", 9, "b",
                "data_offsets [6, 9] overlap tensor \"a\", which ends at 8");
        refusedHeader("{" + a + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "b",
                "overlap tensor \"a\"");
        refusedHeader("{" + a + ",\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[9,12]}}", 12, "b",
                "leave bytes [8, 9) of the data section to no tensor");
        refusedHeader("{\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[1,4]}}", 4, "b", "leave bytes [0, 1)");
        refusedHeader("{" + a + "}", 12, null, "the tensors cover 8 bytes, but the data section holds 12");
        refusedHeader("{}", 1, null, "the tensors cover 0 bytes, but the data section holds 1");
    }

    @Test
    void emptyTensorsMayShareAnOffset() throws IOException {
        String header = "{\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"e2\":{\"dtype\":\"U8\",\"shape\":[3,0],\"data_offsets\":[4,4]}}";
        Path file = SafetensorsBytes.write(dir.resolve("e.safetensors"), SafetensorsBytes.padded(header, new byte[4]));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(3, f.tensors().size());
            assertEquals("x", f.tensors().getFirst().name(), "tensors listed in data order");
        }
    }

    @Test
    void duplicateNamesAreRefused() {
        SafetensorsException e = refusedHeader("{" + A + "," + A.replace("[0,8]", "[8,16]") + "}", 16, null,
                "duplicate key \"a\"");
        assertTrue(e.getMessage().contains("header is not valid JSON"), e.getMessage());
    }

    @Test
    void missingTensorsAreNamedInFull() throws IOException {
        Path file = SafetensorsBytes.write(dir.resolve("ok.safetensors"), SafetensorsBytes.padded("{" + A + "," + B + "}", new byte[11]));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            var e = assertThrows(SafetensorsException.class, () -> f.tensor("model.layers.3.engram.value_proj.weight"));
            assertEquals(file + ": tensor \"model.layers.3.engram.value_proj.weight\": no such tensor in the checkpoint",
                    e.getMessage());
            assertThrows(SafetensorsException.class, () -> f.data("c"));
        }
    }

    @Test
    void missingFilesAndDirectories() throws IOException {
        var e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(dir.resolve("absent.safetensors")));
        assertTrue(e.getMessage().endsWith("absent.safetensors: no such file"), e.getMessage());
        Files.createDirectory(dir.resolve("d.safetensors"));
        e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(dir.resolve("d.safetensors")));
        assertTrue(e.getMessage().endsWith("not a regular file"), e.getMessage());
    }
}
