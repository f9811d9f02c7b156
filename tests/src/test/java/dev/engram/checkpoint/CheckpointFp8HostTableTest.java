package dev.engram.checkpoint;

import dev.engram.cuda.DType;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsException;
import dev.engram.io.SafetensorsWriter;
import dev.engram.io.TensorInfo;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.HostMemory;
import dev.engram.table.ProgressListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CheckpointHostTable}'s fp8 side on the CPU: {@link CheckpointHostTable#copyFp8} holds the file's codes and
 * scales byte for byte (blocks of a row, 4 and 1 value; plain and huge-page memory), reports progress in code + scale
 * bytes, refuses a NaN scale byte naming the scale tensor, its file, row and block (the words of
 * {@link CheckpointLayer#table()}); a closed checkpoint and a float table given to the fp8 methods (or an fp8 one to
 * the float methods) are clear exceptions before any CUDA call. Pinned memory, REGISTER and the layer are
 * {@code dev.engram.gpu.CheckpointFp8HostTableGpuTest}.
 */
class CheckpointFp8HostTableTest {
    private static final int LAYER = 5;

    @TempDir
    Path tmp;

    /** A checkpoint of layer 5 with an fp8 table of {@code block} values per scale, or a BF16 table for block 0. */
    private Path checkpoint(int block) {
        EngramWeights w = RandomWeights.create(LayerCheckpoints.CONFIG, LayerCheckpoints.mapping().layer(LAYER), 41, 0.7);
        Path file = tmp.resolve("t" + block + ".safetensors");
        try (Arena arena = Arena.ofConfined()) {
            EmbeddingRows src = EmbeddingRows.of(w.embedding(), LayerCheckpoints.CONFIG.headDim());
            TableEncoding enc = block == 0 ? TableEncoding.bfloat16(src, arena) : TableEncoding.fp8(src, block, arena);
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
    void copyHoldsTheFilesCodesAndScalesByteForByte() {
        int headDim = LayerCheckpoints.CONFIG.headDim();
        for (int block : new int[] {headDim, 4, 1}) {
            Path path = checkpoint(block);
            for (HostMemory memory : List.of(HostMemory.plain(), HostMemory.anonymousMapping(true))) {
                String what = "block " + block + ", " + memory;
                List<long[]> reports = new ArrayList<>();
                try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
                    CheckpointLayer layer = open(c);
                    MemorySegment codes = layer.data(EngramTensorNames.EMBEDDING_WEIGHT);
                    MemorySegment scales = layer.data(EngramTensorNames.EMBEDDING_SCALE);
                    try (Fp8HostTable t = CheckpointHostTable.copyFp8(layer, memory, 3,
                            (done, total) -> reports.add(new long[] {done, total}))) {
                        assertEquals(layer.layout().rows(), t.rows(), what);
                        assertEquals(headDim, t.headDim(), what);
                        assertEquals(block, t.block(), what);
                        assertEquals(-1, t.codes().mismatch(codes), what + ": codes");
                        assertEquals(-1, t.scales().mismatch(scales), what + ": scales");
                        long total = codes.byteSize() + scales.byteSize();
                        assertArrayEquals(new long[] {0, total}, reports.getFirst(), what);
                        assertArrayEquals(new long[] {total, total}, reports.getLast(), what);
                        assertEquals(layer.fp8Table().get(7, 3), t.asFp8Table().get(7, 3), what);
                    }
                }
            }
        }
    }

    /** Sets byte {@code index} of a tensor's bytes in the file to 255. */
    private static void poke255(Path file, TensorInfo t, long index) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) 0xFF}), t.fileOffset() + index);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aNanScaleByteIsRefusedNamingTheTensorRowAndBlock() {
        Path path = checkpoint(4); // 2 blocks a row
        TensorInfo scale;
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            scale = open(c).tensor(EngramTensorNames.EMBEDDING_SCALE);
        }
        poke255(path, scale, 2L * 150 + 1);
        poke255(path, scale, 2L * 31 + 1);
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            CheckpointLayer layer = open(c); // opening checks no scale bytes
            var e = assertThrows(SafetensorsException.class,
                    () -> CheckpointHostTable.copyFp8(layer, HostMemory.plain(), 2, ProgressListener.NONE));
            String m = e.getMessage();
            assertTrue(m.contains(scale.name()) && m.contains(path.getFileName().toString())
                    && m.contains("scale byte 255 (NaN) at row 31, block 1"), m);
            var reference = assertThrows(SafetensorsException.class, layer::table);
            assertEquals(reference.getMessage(), m, "the words of the CPU reference's check");
        }
    }

    @Test
    void aClosedCheckpointIsAClearExceptionBeforeAnyCudaCall() {
        Path path = checkpoint(4);
        CheckpointLayer layer;
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            layer = open(c);
        }
        var copy = assertThrows(IllegalStateException.class,
                () -> CheckpointHostTable.copyFp8(layer, HostMemory.plain(), 2, ProgressListener.NONE));
        assertTrue(copy.getMessage().contains(path.toString()) && copy.getMessage().contains("is closed"), copy.getMessage());
        for (CheckpointHostTable.Placement p : CheckpointHostTable.Placement.values()) {
            var e = assertThrows(IllegalStateException.class,
                    () -> CheckpointHostTable.loadFp8(layer, p, ProgressListener.NONE), p.name());
            assertTrue(e.getMessage().contains("is closed"), e.getMessage());
        }
    }

    @Test
    void eachKindOfTablePointsToItsOwnMethods() {
        try (SafetensorsCheckpoint fp8 = SafetensorsCheckpoint.open(checkpoint(4));
             SafetensorsCheckpoint bf16 = SafetensorsCheckpoint.open(checkpoint(0))) {
            CheckpointLayer f = open(fp8), b = open(bf16);
            for (CheckpointHostTable.Placement p : CheckpointHostTable.Placement.values()) {
                var e = assertThrows(UnsupportedOperationException.class,
                        () -> CheckpointHostTable.load(f, p, DType.BFLOAT16, ProgressListener.NONE));
                assertTrue(e.getMessage().contains("fp8") && e.getMessage().contains("loadFp8"), e.getMessage());
                var g = assertThrows(IllegalArgumentException.class,
                        () -> CheckpointHostTable.loadFp8(b, p, ProgressListener.NONE));
                assertTrue(g.getMessage().contains("BF16") && g.getMessage().contains("CheckpointHostTable.load"),
                        g.getMessage());
            }
            assertThrows(IllegalArgumentException.class,
                    () -> CheckpointHostTable.copyFp8(b, HostMemory.plain(), 1, ProgressListener.NONE));
            assertThrows(IllegalArgumentException.class, () -> CheckpointHostTable.registerFp8(b, ProgressListener.NONE));
            assertThrows(IllegalArgumentException.class,
                    () -> CheckpointHostTable.copyFp8(f, HostMemory.plain(), 0, ProgressListener.NONE));
        }
    }
}
