package dev.engram.table;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TableCopy}: every element of the table equals the source's (bytes for the same dtype, {@link BFloat16#fromFloat}
 * bit for bit for F32 into BF16, exact widening for BF16 into F32), from unaligned sources, in many chunks on several
 * threads, with progress; bad input refused.
 */
class TableCopyTest {
    private static final long SEED = 20261207;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort S16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Random floats plus the values rounding is easy to get wrong on: ties, NaN payloads, infinities, subnormals. */
    private static float[] values(int n) {
        SplittableRandom r = new SplittableRandom(SEED);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-3, 3);
        float[] special = {Float.intBitsToFloat(0x3F808000), Float.intBitsToFloat(0x3F818000), // ties: to even, up
                Float.intBitsToFloat(0x3F808001), Float.intBitsToFloat(0x7FC00001), Float.intBitsToFloat(0xFF800001),
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, Float.MIN_VALUE, -Float.MIN_NORMAL,
                Float.MAX_VALUE, Float.intBitsToFloat(0x7F7F7FFF)};
        System.arraycopy(special, 0, v, 0, special.length);
        return v;
    }

    /** {@code v} little-endian at byte 1 of a fresh segment: unaligned for both dtypes, as a safetensors offset may be. */
    private static MemorySegment source(Arena arena, float[] v, DType dtype) {
        MemorySegment s = arena.allocate(dtype.bytesFor(v.length) + 1, 16).asSlice(1);
        for (int i = 0; i < v.length; i++) {
            if (dtype == DType.FLOAT32) s.setAtIndex(F32, i, v[i]);
            else s.setAtIndex(S16, i, BFloat16.fromFloat(v[i]));
        }
        return s;
    }

    @Test
    void everyElementEqualsTheSourceForEachPairOfDtypes() {
        long rows = 3001;
        int cols = 12;
        float[] v = values((int) rows * cols);
        for (DType from : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (DType to : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                for (int threads : new int[] {1, 3}) {
                    String what = from + " -> " + to + ", " + threads + " threads";
                    List<long[]> reports = new ArrayList<>();
                    try (Arena arena = Arena.ofShared(); HostTable t = HostTable.allocate(rows, cols, to)) {
                        MemorySegment src = source(arena, v, from);
                        // 4 KiB chunks: dozens of chunks shared by the threads, several progress reports possible
                        TableCopy.copy(src, from, t, threads, (done, total) -> reports.add(new long[] {done, total}), 4096);
                        for (int i = 0; i < v.length; i++) {
                            long row = i / cols;
                            int col = i % cols;
                            if (to == DType.BFLOAT16) {
                                short expected = from == DType.FLOAT32 ? BFloat16.fromFloat(v[i]) : src.getAtIndex(S16, i);
                                short actual = t.row(row).getAtIndex(ValueLayout.JAVA_SHORT, col);
                                if (expected != actual) {
                                    throw new AssertionError(what + ": element " + i + " (" + v[i] + ") is 0x"
                                            + Integer.toHexString(actual & 0xFFFF) + ", expected 0x"
                                            + Integer.toHexString(expected & 0xFFFF));
                                }
                            } else {
                                float expected = from == DType.FLOAT32 ? v[i] : BFloat16.toFloat(src.getAtIndex(S16, i));
                                int actual = Float.floatToRawIntBits(t.row(row).getAtIndex(ValueLayout.JAVA_FLOAT, col));
                                assertEquals(Float.floatToRawIntBits(expected), actual, what + ": element " + i);
                            }
                        }
                    }
                    long total = rows * to.bytesFor(cols);
                    assertArrayEquals(new long[] {0, total}, reports.getFirst(), what + ": first report");
                    assertArrayEquals(new long[] {total, total}, reports.getLast(), what + ": last report");
                    for (int k = 1; k < reports.size(); k++) {
                        assertTrue(reports.get(k)[0] >= reports.get(k - 1)[0], what + ": progress never goes back");
                    }
                }
            }
        }
    }

    @Test
    void roundingIsBFloat16FromFloatBitForBit() {
        // Every tie and NaN payload pattern of the low half: a table of 1 row per high half value.
        int n = 1 << 16;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = Float.intBitsToFloat(0x3F80_0000 | (i & 0xFFFF) | (i % 7 == 0 ? 0x7F80_0000 : 0));
        try (Arena arena = Arena.ofShared(); HostTable t = HostTable.allocate(n / 16, 16, DType.BFLOAT16)) {
            TableCopy.copy(source(arena, v, DType.FLOAT32), DType.FLOAT32, t, 2, ProgressListener.NONE);
            for (int i = 0; i < n; i++) {
                assertEquals(BFloat16.fromFloat(v[i]), t.segment().getAtIndex(ValueLayout.JAVA_SHORT, i), "element " + i);
            }
        }
    }

    @Test
    void badInputIsRefusedBeforeAnythingIsWritten() {
        try (Arena arena = Arena.ofConfined(); HostTable t = HostTable.allocate(10, 4, DType.FLOAT32)) {
            MemorySegment src = arena.allocate(160);
            var size = assertThrows(IllegalArgumentException.class,
                    () -> TableCopy.copy(src.asSlice(0, 156), DType.FLOAT32, t, 1, ProgressListener.NONE));
            assertTrue(size.getMessage().contains("156 bytes") && size.getMessage().contains("160"), size.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> TableCopy.copy(src, DType.BFLOAT16, t, 1, ProgressListener.NONE), "160 bytes are 80 bf16, not 40");
            assertThrows(IllegalArgumentException.class, () -> TableCopy.copy(src, DType.INT64, t, 1, ProgressListener.NONE));
            assertThrows(IllegalArgumentException.class, () -> TableCopy.copy(src, DType.FLOAT32, t, 0, ProgressListener.NONE));
        }
    }

    @Test
    void aClosedSourceOrTableIsAnExceptionNotACrash() {
        MemorySegment src;
        try (Arena arena = Arena.ofShared()) {
            src = arena.allocate(160);
        }
        try (HostTable t = HostTable.allocate(10, 4, DType.FLOAT32)) {
            MemorySegment closedSource = src;
            assertThrows(IllegalStateException.class,
                    () -> TableCopy.copy(closedSource, DType.FLOAT32, t, 2, ProgressListener.NONE));
        }
        HostTable closed = HostTable.allocate(10, 4, DType.FLOAT32);
        closed.close();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = arena.allocate(160);
            assertThrows(IllegalStateException.class, () -> TableCopy.copy(s, DType.FLOAT32, closed, 1, ProgressListener.NONE));
        }
    }
}
