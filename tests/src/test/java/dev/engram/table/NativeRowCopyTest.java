package dev.engram.table;

import dev.engram.EngramConfig;
import dev.engram.bindings.engram_h;
import dev.engram.cuda.DType;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.EngramNativeException;
import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native row copy ({@code engram_host_gather_rows}) against the Java copy, byte for byte, for every row width
 * the native side special-cases and some it does not, into 16-byte aligned destinations (streaming stores) and
 * misaligned ones (cached stores); and the native function's own checks, called directly.
 */
class NativeRowCopyTest {
    private static final int LAYER = 15;
    private static final long VOCAB = 5000;

    @BeforeAll
    static void needsLibengram() {
        // libengram is built by every Maven build (bindings module); without it this test has nothing to check.
        NativeLibraryLoader.require();
    }

    private static EngramConfig config(int headDim) {
        return new EngramConfig(List.of(5003L, 4001L), 3, headDim * 2, 2, List.of(1, 15), 2, 0, 4, 32, 2,
                OptionalLong.of(VOCAB), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    }

    @ParameterizedTest(name = "D={0} {1}, {2} tokens, {3} threads")
    @CsvSource({"64, BFLOAT16, 3000, 3", "64, FLOAT32, 3000, 2", "32, FLOAT32, 1, 1", "128, FLOAT32, 2500, 3",
            "128, BFLOAT16, 777, 3", "3, BFLOAT16, 2000, 2", "5, FLOAT32, 900, 3", "256, BFLOAT16, 4100, 3"})
    void nativeAndJavaCopiesWriteTheSameBytes(int headDim, DType dtype, int tokens, int threads) {
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config(headDim));
        LayerHashing layer = mapping.layer(LAYER);
        long[] raw = new SplittableRandom(tokens).longs(tokens, 0, VOCAB).toArray();
        long[] hash = mapping.hash(raw, 1, tokens, LAYER);
        try (HostTable table = HostTable.allocate(layer.totalRows(), headDim, dtype);
             Arena arena = Arena.ofShared();
             CpuRowGather java = new CpuRowGather(threads, false);
             CpuRowGather nat = new CpuRowGather(threads)) {
            assertTrue(nat.copiesNatively());
            RandomRows.fill(table, 3, 1.0, 2);
            long bytes = CpuRowGather.outputBytes(table, layer, tokens);
            MemorySegment expected = arena.allocate(bytes);
            // 64-byte aligned: rows of whole 16-byte units take the native streaming-store copy.
            MemorySegment actual = arena.allocate(bytes, 64);
            actual.fill((byte) 0x7F); // poison: an unwritten byte shows
            java.gather(table, layer, hash, expected);
            nat.gather(table, layer, hash, actual);
            assertEquals(-1, actual.mismatch(expected), "long[] ids");

            MemorySegment ids = arena.allocate(ValueLayout.JAVA_LONG, hash.length);
            MemorySegment.copy(hash, 0, ids, ValueLayout.JAVA_LONG, 0, hash.length);
            actual.fill((byte) 0x7F);
            nat.gather(table, layer, ids, tokens, actual);
            assertEquals(-1, actual.mismatch(expected), "INT64 segment ids");

            MemorySegment unaligned = arena.allocate(hash.length * 8L + 4).asSlice(4);
            MemorySegment.copy(ids, 0, unaligned, 0, ids.byteSize());
            actual.fill((byte) 0x7F);
            nat.gather(table, layer, unaligned, tokens, actual);
            assertEquals(-1, actual.mismatch(expected), "unaligned INT64 segment ids");

            // A destination 8 bytes off 16-byte alignment takes the cached-store copy.
            MemorySegment misaligned = arena.allocate(bytes + 8, 64).asSlice(8, bytes);
            misaligned.fill((byte) 0x7F);
            nat.gather(table, layer, hash, misaligned);
            assertEquals(-1, misaligned.mismatch(expected), "destination not 16-byte aligned");
        }
    }

    @Test
    void theNativeFunctionChecksIdsAndBoundsItself() {
        try (Arena arena = Arena.ofConfined()) {
            long rows = 100, rowBytes = 16;
            MemorySegment table = arena.allocate(rows * rowBytes);
            MemorySegment moduli = arena.allocateFrom(ValueLayout.JAVA_LONG, 40, 60);
            MemorySegment offsets = arena.allocateFrom(ValueLayout.JAVA_LONG, 0, 40);
            MemorySegment ids = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 2, 39, 60);
            MemorySegment out = arena.allocate(4 * rowBytes);
            MemorySegment firstBad = arena.allocate(ValueLayout.JAVA_LONG);
            out.fill((byte) 0x11);

            int status = engram_h.engram_host_gather_rows(table, rows, rowBytes, ids, 2, 2, moduli, offsets, out,
                    firstBad);
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), status, "id 60 of head 1 is outside [0, 60)");
            assertEquals(3, firstBad.get(ValueLayout.JAVA_LONG, 0));
            for (long i = 0; i < out.byteSize(); i++) assertEquals(0x11, out.get(ValueLayout.JAVA_BYTE, i));
            EngramNativeException e = assertThrows(EngramNativeException.class,
                    () -> dev.engram.nativelib.EngramNative.check("engram_host_gather_rows", status));
            assertTrue(e.getMessage().contains("hash id 60 at index 3 (token 1, head 1)"), e.getMessage());

            // A head whose rows would leave the table is refused before any id is read.
            MemorySegment farOffsets = arena.allocateFrom(ValueLayout.JAVA_LONG, 0, 41);
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), engram_h.engram_host_gather_rows(table, rows,
                    rowBytes, ids, 1, 2, moduli, farOffsets, out, MemorySegment.NULL));
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), engram_h.engram_host_gather_rows(table, rows, 0,
                    ids, 1, 2, moduli, offsets, out, MemorySegment.NULL), "row_bytes 0");
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), engram_h.engram_host_gather_rows(MemorySegment.NULL,
                    rows, rowBytes, ids, 1, 2, moduli, offsets, out, MemorySegment.NULL), "null table");

            // Zero tokens: success, nothing written.
            assertEquals(engram_h.ENGRAM_STATUS_SUCCESS(), engram_h.engram_host_gather_rows(table, rows, rowBytes, ids,
                    0, 2, moduli, offsets, out, firstBad));
            assertEquals(0x11, out.get(ValueLayout.JAVA_BYTE, 0));

            // The valid first token copies rows 1 and 40 + 2.
            for (long r = 0; r < rows; r++) table.asSlice(r * rowBytes, rowBytes).fill((byte) r);
            assertEquals(engram_h.ENGRAM_STATUS_SUCCESS(), engram_h.engram_host_gather_rows(table, rows, rowBytes, ids,
                    1, 2, moduli, offsets, out, firstBad));
            assertEquals(-1, firstBad.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(1, out.get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(1, out.get(ValueLayout.JAVA_BYTE, rowBytes - 1));
            assertEquals(42, out.get(ValueLayout.JAVA_BYTE, rowBytes));
            assertEquals(0x11, out.get(ValueLayout.JAVA_BYTE, 2 * rowBytes), "only one token was asked for");
        }
    }
}
