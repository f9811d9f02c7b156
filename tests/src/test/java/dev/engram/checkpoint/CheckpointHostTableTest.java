package dev.engram.checkpoint;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.ProgressListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CheckpointHostTable} on the CPU (the COPY placement into plain and huge-page memory; REGISTER's checks that
 * come before any CUDA call): every element of the host table equals the checkpoint's, for F32 and BF16 files into
 * FLOAT32 and BFLOAT16 tables (F32 into BFLOAT16 bit for bit as {@link BFloat16#fromFloat}), progress reported, and
 * clear exceptions for a closed checkpoint, an fp8 table (pointed to loadFp8: CheckpointFp8HostTableTest) and a dtype
 * REGISTER cannot read in place. The GPU side
 * (pinned memory, registration, the layer) is {@code dev.engram.gpu.CheckpointHostTableGpuTest}.
 */
class CheckpointHostTableTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort S16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int LAYER = 5;

    @TempDir
    Path tmp;

    /**
     * A checkpoint of layer 5 with its table in {@code table} ("F32", "BF16" or "F8_E4M3"); the values are random,
     * not exact in bf16 (so F32 into BF16 really rounds).
     */
    private Path checkpoint(String table) {
        EngramWeights w = RandomWeights.create(LayerCheckpoints.CONFIG, LayerCheckpoints.mapping().layer(LAYER), 31, 0.7);
        Path file = tmp.resolve(table + ".safetensors");
        try (Arena arena = Arena.ofConfined()) {
            EmbeddingRows src = EmbeddingRows.of(w.embedding(), LayerCheckpoints.CONFIG.headDim());
            TableEncoding enc = switch (table) {
                case "F32" -> TableEncoding.float32(src, arena);
                case "BF16" -> TableEncoding.bfloat16(src, arena);
                default -> TableEncoding.fp8(src, 4, arena);
            };
            SafetensorsWriter writer = new SafetensorsWriter();
            LayerTensorWriter.add(writer, "m.", w.dense(), enc, TableLayout.of(LayerCheckpoints.CONFIG, LAYER), arena);
            writer.write(file);
        }
        return file;
    }

    private static CheckpointLayer open(SafetensorsCheckpoint c) {
        return CheckpointLayer.open(c, "m.", LayerCheckpoints.CONFIG, TableLayout.of(LayerCheckpoints.CONFIG, LAYER));
    }

    @Test
    void copyHoldsEveryElementOfTheFileInTheStorageDtype() {
        for (String file : List.of("F32", "BF16")) {
            Path path = checkpoint(file);
            for (DType storage : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                for (HostMemory memory : List.of(HostMemory.plain(), HostMemory.anonymousMapping(true))) {
                    String what = file + " file into " + storage + ", " + memory;
                    List<long[]> reports = new ArrayList<>();
                    try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
                        CheckpointLayer layer = open(c);
                        MemorySegment mapped = layer.data(EngramTensorNames.EMBEDDING_WEIGHT);
                        try (HostTable t = CheckpointHostTable.copy(layer, storage, memory, 3,
                                (done, total) -> reports.add(new long[] {done, total}))) {
                            assertEquals(layer.layout().rows(), t.rows(), what);
                            assertEquals(LayerCheckpoints.CONFIG.headDim(), t.rowElements(), what);
                            assertEquals(storage, t.dtype(), what);
                            assertElementsEqual(mapped, file, t, what);
                            long total = t.byteSize();
                            assertArrayEquals(new long[] {0, total}, reports.getFirst(), what);
                            assertArrayEquals(new long[] {total, total}, reports.getLast(), what);
                        }
                    }
                }
            }
        }
    }

    /** Bit for bit: the same dtype's bits, F32 → BF16 as BFloat16.fromFloat, BF16 → F32 widened. */
    private static void assertElementsEqual(MemorySegment mapped, String file, HostTable t, String what) {
        long n = t.rows() * t.rowElements();
        long rounded = 0;
        for (long i = 0; i < n; i++) {
            long row = i / t.rowElements();
            int col = (int) (i % t.rowElements());
            int actual = t.dtype() == DType.FLOAT32 ? Float.floatToRawIntBits(t.row(row).getAtIndex(ValueLayout.JAVA_FLOAT, col))
                    : t.row(row).getAtIndex(ValueLayout.JAVA_SHORT, col) & 0xFFFF;
            int expected;
            if (file.equals("F32")) {
                float f = mapped.getAtIndex(F32, i);
                expected = t.dtype() == DType.FLOAT32 ? Float.floatToRawIntBits(f) : BFloat16.fromFloat(f) & 0xFFFF;
                if (BFloat16.toFloat(BFloat16.fromFloat(f)) != f) rounded++;
            } else {
                short b = mapped.getAtIndex(S16, i);
                expected = t.dtype() == DType.FLOAT32 ? Float.floatToRawIntBits(BFloat16.toFloat(b)) : b & 0xFFFF;
            }
            if (actual != expected) {
                throw new AssertionError(what + ": element " + i + " is 0x" + Integer.toHexString(actual) + ", expected 0x"
                        + Integer.toHexString(expected));
            }
        }
        if (file.equals("F32")) assertTrue(rounded > n / 2, what + ": the values really need rounding to bf16");
    }

    @Test
    void aClosedCheckpointIsAClearException() {
        Path path = checkpoint("BF16");
        CheckpointLayer layer;
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            layer = open(c);
        }
        var copy = assertThrows(IllegalStateException.class,
                () -> CheckpointHostTable.copy(layer, DType.BFLOAT16, HostMemory.plain(), 2, ProgressListener.NONE));
        assertTrue(copy.getMessage().contains(path.toString()) && copy.getMessage().contains("is closed"), copy.getMessage());
        // REGISTER refuses before any CUDA call
        var register = assertThrows(IllegalStateException.class,
                () -> CheckpointHostTable.register(layer, DType.BFLOAT16, ProgressListener.NONE));
        assertTrue(register.getMessage().contains("is closed"), register.getMessage());
    }

    @Test
    void anFp8TableIsRefusedInOnePlaceForBothPlacements() {
        Path path = checkpoint("F8_E4M3");
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            CheckpointLayer layer = open(c);
            for (CheckpointHostTable.Placement p : CheckpointHostTable.Placement.values()) {
                var e = assertThrows(UnsupportedOperationException.class,
                        () -> CheckpointHostTable.load(layer, p, DType.BFLOAT16, ProgressListener.NONE));
                assertTrue(e.getMessage().contains("fp8") && e.getMessage().contains("use CheckpointHostTable.loadFp8"),
                        e.getMessage());
            }
            assertThrows(UnsupportedOperationException.class,
                    () -> CheckpointHostTable.copy(layer, DType.FLOAT32, HostMemory.plain(), 1, ProgressListener.NONE));
        }
    }

    @Test
    void registerRefusesAnotherStorageDtypeAndSuggestsCopy() {
        Path path = checkpoint("F32");
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            CheckpointLayer layer = open(c);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> CheckpointHostTable.register(layer, DType.BFLOAT16, ProgressListener.NONE));
            assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("Placement.COPY"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> CheckpointHostTable.copy(layer, DType.INT64, HostMemory.plain(), 1, ProgressListener.NONE));
            assertThrows(IllegalArgumentException.class,
                    () -> CheckpointHostTable.copy(layer, DType.FLOAT32, HostMemory.plain(), 0, ProgressListener.NONE));
        }
        assertEquals(CheckpointHostTable.Placement.COPY, CheckpointHostTable.Placement.defaultPlacement());
    }
}
