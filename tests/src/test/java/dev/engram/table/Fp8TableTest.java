package dev.engram.table;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link Fp8Table}: shape and scale checks with clear messages, reads against the codec, indexing past 2^31. */
class Fp8TableTest {

    private static void assertMessage(String part, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(part), "message was: " + e.getMessage());
    }

    @Test
    void badShapesAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(4 * 8), s = arena.allocate(4 * 2);
            assertMessage("t.scale: block 3 does not divide head dim 8", () -> Fp8Table.of("t.scale", v, s, 4, 8, 3));
            assertMessage("block 0 does not divide head dim 8", () -> Fp8Table.of(v, s, 4, 8, 0));
            assertMessage("block -4 does not divide head dim 8", () -> Fp8Table.of(v, s, 4, 8, -4));
            assertMessage("block 16 does not divide head dim 8", () -> Fp8Table.of(v, s, 4, 8, 16));
            assertMessage("needs rows >= 1 and headDim >= 1, got [0, 8]", () -> Fp8Table.of(v, s, 0, 8, 4));
            assertMessage("needs rows >= 1 and headDim >= 1, got [4, 0]", () -> Fp8Table.of(v, s, 4, 0, 4));
            assertMessage("values have 32 bytes, expected [5, 8] = 40 E4M3 bytes", () -> Fp8Table.of(v, s, 5, 8, 4));
            assertMessage("scales have 8 bytes, expected [4, 8] = 32 E8M0 bytes (head dim 8, block 1)",
                    () -> Fp8Table.of(v, s, 4, 8, 1));
            assertMessage("overflows a 64-bit size", () -> Fp8Table.of(v, s, Long.MAX_VALUE / 4, 8, 8));
            assertThrows(NullPointerException.class, () -> Fp8Table.of(null, s, 4, 8, 4));
            Fp8Table ok = Fp8Table.of(v, s, 4, 8, 4);
            assertEquals(2, ok.blocksPerRow());
            assertEquals(0, ok.maxScaleByte());
            assertMessage("no rows of 3 elements", () -> Fp8Table.quantize(new float[8], 3, 1, arena));
            assertMessage("block 3 does not divide head dim 4", () -> Fp8Table.quantize(new float[8], 4, 3, arena));
            assertMessage("needs rows >= 1", () -> Fp8Table.quantize(new float[0], 4, 4, arena));
        }
    }

    @Test
    void nanScaleByteIsRefusedWithItsRow() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(6 * 8), s = arena.allocate(6 * 4);
            s.fill((byte) 127);
            s.set(ValueLayout.JAVA_BYTE, 3 * 4 + 2, (byte) 255);
            assertMessage("model.safetensors: multi_head_embedding.embedding.scale: scale byte 255 (NaN) at row 3, block 2",
                    () -> Fp8Table.of("model.safetensors: multi_head_embedding.embedding.scale", v, s, 6, 8, 2));
            s.set(ValueLayout.JAVA_BYTE, 3 * 4 + 2, (byte) 254);
            assertEquals(254, Fp8Table.of(v, s, 6, 8, 2).maxScaleByte());
        }
    }

    @Test
    void readsMatchTheCodec() {
        SplittableRandom r = new SplittableRandom(3);
        int rows = 37, headDim = 16, block = 4, blocks = headDim / block;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate((long) rows * headDim), s = arena.allocate((long) rows * blocks);
            for (long i = 0; i < v.byteSize(); i++) v.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256)); // NaN codes too
            for (long i = 0; i < s.byteSize(); i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(255));
            Fp8Table t = Fp8Table.of(v, s, rows, headDim, block);
            double[] row = new double[headDim + 3];
            float[] rowFloat = new float[headDim + 1];
            float[] all = t.toFloats();
            for (int rr = 0; rr < rows; rr++) {
                t.readRow(rr, row, 3);
                t.readRow(rr, rowFloat, 1);
                for (int d = 0; d < headDim; d++) {
                    byte q = v.get(ValueLayout.JAVA_BYTE, (long) rr * headDim + d);
                    byte b = s.get(ValueLayout.JAVA_BYTE, (long) rr * blocks + d / block);
                    String what = "row " + rr + ", column " + d;
                    assertEquals(q, t.valueByte(rr, d), what);
                    assertEquals(b, t.scaleByte(rr, d / block), what);
                    assertEquals(Fp8.dequantize(q, b), row[3 + d], what);
                    assertEquals(Fp8.dequantize(q, b), t.get(rr, d), what);
                    assertEquals(Fp8.dequantizeFloat(q, b), rowFloat[1 + d], what);
                    assertEquals(Fp8.dequantizeFloat(q, b), all[rr * headDim + d], what);
                }
            }
            assertThrows(IndexOutOfBoundsException.class, () -> t.readRow(rows, row, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> t.readRow(0, row, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> t.get(0, headDim));
            assertThrows(IndexOutOfBoundsException.class, () -> t.scaleByte(0, blocks));
        }
    }

    @Test
    void quantizedTableRoundTrips() {
        SplittableRandom r = new SplittableRandom(8);
        int rows = 50, headDim = 32, block = 8;
        float[] src = new float[rows * headDim];
        for (int i = 0; i < src.length; i++) src[i] = (float) Math.scalb(r.nextDouble(-1, 1), r.nextInt(-3, 4) - i / 160);
        try (Arena arena = Arena.ofConfined()) {
            Fp8Table t = Fp8Table.quantize(src, headDim, block, arena);
            assertEquals(rows, t.rows());
            assertEquals(headDim, t.rowElements());
            assertEquals(block, t.block());
            byte[] q = new byte[block];
            for (int rr = 0; rr < rows; rr++) {
                for (int k = 0; k < headDim / block; k++) {
                    byte b = Fp8.quantizeBlock(src, rr * headDim + k * block, block, q, 0);
                    assertEquals(b, t.scaleByte(rr, k));
                    for (int i = 0; i < block; i++) assertEquals(q[i], t.valueByte(rr, k * block + i));
                }
            }
            float[] back = t.toFloats();
            for (int i = 0; i < src.length; i++) {
                double s = Fp8.scale(t.scaleByte(i / headDim, (i % headDim) / block));
                assertTrue(Math.abs(back[i] - src[i]) <= Math.max(Math.abs(src[i]) * 0x1p-4, 0x1p-10 * s), "value " + i);
            }
            float[] bad = src.clone();
            bad[5 * headDim + 17] = Float.POSITIVE_INFINITY;
            assertMessage("row 5, block 2 of the source: value Infinity at index 177",
                    () -> Fp8Table.quantize(bad, headDim, block, arena));
        }
    }

    @Test
    void closedArenaIsAnErrorNotACrash() {
        Fp8Table t;
        try (Arena arena = Arena.ofConfined()) {
            t = Fp8Table.quantize(new float[] {1, 2, 3, 4}, 4, 2, arena);
            assertEquals(3.0, t.get(0, 2));
        }
        assertThrows(IllegalStateException.class, () -> t.get(0, 2));
    }

    @Test
    void rowsBeyondTwoToThe31ElementsAreRead(@TempDir Path dir) throws IOException {
        int headDim = 256;
        long rows = (1L << 23) + 3; // 2^31 + 768 value bytes
        long valueBytes = rows * headDim;
        // Sparse: the zeros take no disk space where the file system has holes; the check keeps one without from
        // being filled.
        long usable = Files.getFileStore(dir).getUsableSpace();
        assumeTrue(usable > valueBytes + (1L << 30), "needs " + (valueBytes >> 20) + " MiB free in " + dir
                + " in case the file system has no sparse files; " + (usable >> 20) + " MiB free");
        Path file = dir.resolve("values.e4m3");
        byte[] last = new byte[headDim];
        for (int d = 0; d < headDim; d++) last[d] = (byte) (d == 0x7F || d == 0xFF ? 0 : d);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(valueBytes - headDim);
            raf.write(last);
        }
        try (Arena arena = Arena.ofConfined();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment values = ch.map(FileChannel.MapMode.READ_ONLY, 0, valueBytes, arena);
            MemorySegment scales = arena.allocate(rows * 2); // block 128: two scales a row, byte 0 except the last row
            scales.set(ValueLayout.JAVA_BYTE, rows * 2 - 2, (byte) 127);
            scales.set(ValueLayout.JAVA_BYTE, rows * 2 - 1, (byte) 130);
            Fp8Table t = Fp8Table.of(values, scales, rows, headDim, 128);
            assertTrue(t.rows() * t.rowElements() > Integer.MAX_VALUE);
            double[] row = new double[headDim];
            t.readRow(rows - 1, row, 0);
            for (int d = 0; d < headDim; d++) {
                double expected = Fp8.e4m3ToFloat(last[d]) * (d < 128 ? 1.0 : 8.0);
                assertEquals(expected, row[d], "column " + d);
                assertEquals(expected, t.get(rows - 1, d), "column " + d);
            }
            t.readRow(rows - 2, row, 0);
            assertArrayEquals(new double[headDim], row);
        }
    }
}
