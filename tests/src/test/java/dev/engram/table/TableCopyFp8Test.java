package dev.engram.table;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fp8 copies into host memory: {@link TableCopy#copyFp8} (codes and scales byte for byte in chunks of whole rows,
 * unaligned sources, progress in code + scale bytes, a NaN scale byte named by its first row and block on any thread
 * count), {@link Fp8HostTable#copyOf(Fp8Table, HostMemory, int, ProgressListener)} on top of it (a source confined
 * to this thread copied on it), and
 * {@link Fp8HostTable#of} (codes and scales in two allocations handed over: checked, owned, closed together). No GPU.
 */
class TableCopyFp8Test {
    /** Random codes (every byte) and scale bytes 0..254, each at offset 1 of its segment (unaligned). */
    private static MemorySegment[] source(long rows, int headDim, int block, long seed, Arena arena) {
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment codes = arena.allocate(rows * headDim + 1).asSlice(1);
        MemorySegment scales = arena.allocate(rows * (headDim / block) + 1).asSlice(1);
        for (long i = 0; i < codes.byteSize(); i++) codes.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        for (long i = 0; i < scales.byteSize(); i++) scales.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(255));
        return new MemorySegment[] {codes, scales};
    }

    @Test
    void codesAndScalesAreCopiedByteForByteInChunksWithProgress() {
        try (Arena arena = Arena.ofShared()) {
            for (int block : new int[] {32, 8, 1}) {
                long rows = 301;
                MemorySegment[] src = source(rows, 32, block, 5 + block, arena);
                long total = rows * (32 + 32 / block);
                for (int threads : new int[] {1, 3}) {
                    try (Fp8HostTable t = Fp8HostTable.allocate(rows, 32, block, HostMemory.plain())) {
                        t.codes().fill((byte) 0x5A); // every byte must be written
                        List<long[]> reports = new ArrayList<>();
                        TableCopy.copyFp8(src[0], src[1], t, threads, (d, n) -> reports.add(new long[] {d, n}),
                                7 * (32 + 32 / block)); // 7 rows a chunk: 43 chunks
                        String what = "block " + block + ", " + threads + " threads";
                        assertEquals(-1, t.codes().mismatch(src[0]), what + ": codes");
                        assertEquals(-1, t.scales().mismatch(src[1]), what + ": scales");
                        assertArrayEquals(new long[] {0, total}, reports.getFirst(), what);
                        assertArrayEquals(new long[] {total, total}, reports.getLast(), what);
                        for (int i = 1; i < reports.size(); i++) {
                            assertTrue(reports.get(i)[0] >= reports.get(i - 1)[0], what + ": progress never decreases");
                        }
                    }
                }
            }
        }
    }

    @Test
    void aNanScaleByteIsNamedByTheFirstRowAndBlockOnAnyThreadCount() {
        try (Arena arena = Arena.ofShared()) {
            long rows = 500;
            int headDim = 16, block = 4, blocks = headDim / block;
            MemorySegment[] src = source(rows, headDim, block, 11, arena);
            src[1].set(ValueLayout.JAVA_BYTE, 401L * blocks + 3, (byte) 0xFF);
            src[1].set(ValueLayout.JAVA_BYTE, 123L * blocks + 2, (byte) 0xFF); // the first
            for (int threads : new int[] {1, 2, 4}) {
                for (int rep = 0; rep < 5; rep++) {
                    try (Fp8HostTable t = Fp8HostTable.allocate(rows, headDim, block, HostMemory.plain())) {
                        var e = assertThrows(IllegalArgumentException.class,
                                () -> TableCopy.copyFp8(src[0], src[1], t, threads, ProgressListener.NONE, 5 * 20L));
                        assertEquals("scale byte 255 (NaN) at row 123, block 2", e.getMessage(), threads + " threads");
                        assertEquals(-1, t.codes().mismatch(src[0]), "the whole table is still written");
                    }
                }
            }
            // The same words as the CPU reference's check of the same bytes
            var reference = assertThrows(IllegalArgumentException.class,
                    () -> Fp8Table.of("t", src[0], src[1], rows, headDim, block));
            assertEquals("t: scale byte 255 (NaN) at row 123, block 2", reference.getMessage());
        }
    }

    @Test
    void firstByte255FindsTheFirstAtEveryPositionAndLength() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment base = arena.allocate(64);
            for (int len = 0; len <= 40; len++) {
                for (int off = 0; off < 3; off++) {
                    MemorySegment s = base.asSlice(off, len);
                    s.fill((byte) 0xFE);
                    assertEquals(-1, TableCopy.firstByte255(s), "none, length " + len);
                    for (int at = len - 1; at >= 0; at--) { // adds 255s from the end: the first is the newest
                        s.set(ValueLayout.JAVA_BYTE, at, (byte) 0xFF);
                        assertEquals(at, TableCopy.firstByte255(s), "length " + len + ", offset " + off);
                    }
                }
            }
        }
    }

    @Test
    void badInputIsRefused() {
        try (Arena arena = Arena.ofConfined(); Fp8HostTable t = Fp8HostTable.allocate(10, 8, 4, HostMemory.plain())) {
            MemorySegment codes = arena.allocate(80), scales = arena.allocate(20);
            assertThrows(IllegalArgumentException.class,
                    () -> TableCopy.copyFp8(codes.asSlice(1), scales, t, 1, ProgressListener.NONE));
            assertThrows(IllegalArgumentException.class,
                    () -> TableCopy.copyFp8(codes, scales.asSlice(1), t, 1, ProgressListener.NONE));
            assertThrows(IllegalArgumentException.class, () -> TableCopy.copyFp8(codes, scales, t, 0, ProgressListener.NONE));
            t.close();
            assertThrows(IllegalStateException.class, () -> TableCopy.copyFp8(codes, scales, t, 1, ProgressListener.NONE));
        }
    }

    @Test
    void copyOfRunsTheParallelCopy() {
        List<long[]> reports = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment[] src = source(1000, 64, 16, 3, arena);
            Fp8Table source = Fp8Table.of(src[0], src[1], 1000, 64, 16);
            try (Fp8HostTable copy = Fp8HostTable.copyOf(source, HostMemory.plain(), 2,
                    (d, n) -> reports.add(new long[] {d, n}))) {
                assertEquals(-1, copy.codes().mismatch(src[0]));
                assertEquals(-1, copy.scales().mismatch(src[1]));
                assertArrayEquals(new long[] {1000 * 68, 1000 * 68}, reports.getLast());
            }
            assertThrows(IllegalArgumentException.class,
                    () -> Fp8HostTable.copyOf(source, HostMemory.plain(), 0, ProgressListener.NONE));
        }
        try (Arena confined = Arena.ofConfined()) { // only this thread may read it: copied here, progress still reported
            MemorySegment[] src = source(1000, 64, 16, 4, confined);
            reports.clear();
            try (Fp8HostTable copy = Fp8HostTable.copyOf(Fp8Table.of(src[0], src[1], 1000, 64, 16), HostMemory.plain(),
                    4, (d, n) -> reports.add(new long[] {d, n}))) {
                assertEquals(-1, copy.codes().mismatch(src[0]));
                assertEquals(-1, copy.scales().mismatch(src[1]));
                assertArrayEquals(new long[] {0, 1000 * 68}, reports.getFirst());
                assertArrayEquals(new long[] {1000 * 68, 1000 * 68}, reports.getLast());
            }
        }
    }

    /** Two allocations that say when they were closed. */
    private static HostAllocation[] two(long codeBytes, long scaleBytes, boolean[] closed) {
        Arena a = Arena.ofShared(), b = Arena.ofShared();
        return new HostAllocation[] {
                new HostAllocation(a.allocate(codeBytes), () -> { a.close(); closed[0] = true; }),
                new HostAllocation(b.allocate(scaleBytes), () -> { b.close(); closed[1] = true; })};
    }

    @Test
    void ofTakesTwoAllocationsChecksTheScalesAndClosesBoth() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment[] src = source(40, 16, 8, 9, arena);
            boolean[] closed = new boolean[2];
            HostAllocation[] a = two(40 * 16, 40 * 2, closed);
            a[0].segment().copyFrom(src[0]);
            a[1].segment().copyFrom(src[1]);
            Fp8HostTable t = Fp8HostTable.of(40, 16, 8, a[0], a[1]);
            assertEquals(a[0].segment().address(), t.codes().address());
            assertEquals(a[1].segment().address(), t.scales().address());
            assertEquals(40 * 16 + 40 * 2, t.byteSize(), "codes + scales, no padding");
            assertEquals(-1, t.asFp8Table().values().mismatch(src[0]));
            t.close();
            assertArrayEquals(new boolean[] {true, true}, closed, "closing the table closes both");
            assertThrows(IllegalStateException.class, t::scales);

            // A NaN scale: refused with its row and block, both allocations closed
            boolean[] closed2 = new boolean[2];
            HostAllocation[] b = two(40 * 16, 40 * 2, closed2);
            b[1].segment().set(ValueLayout.JAVA_BYTE, 2L * 17 + 1, (byte) 0xFF);
            var e = assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.of(40, 16, 8, b[0], b[1]));
            assertTrue(e.getMessage().endsWith("scale byte 255 (NaN) at row 17, block 1"), e.getMessage());
            assertArrayEquals(new boolean[] {true, true}, closed2);

            // Too small, or the same allocation twice: refused, closed
            boolean[] closed3 = new boolean[2];
            HostAllocation[] c = two(40 * 16, 40 * 2 - 1, closed3);
            assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.of(40, 16, 8, c[0], c[1]));
            assertArrayEquals(new boolean[] {true, true}, closed3);
            boolean[] closed4 = new boolean[2];
            HostAllocation[] d = two(40 * 16, 40 * 2, closed4);
            assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.of(40, 16, 8, d[0], d[0]));
            assertTrue(closed4[0]);
            d[1].close();
            boolean[] closed5 = new boolean[2];
            HostAllocation[] f = two(40 * 16, 40 * 2, closed5);
            assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.of(40, 16, 7, f[0], f[1]), "block");
            assertArrayEquals(new boolean[] {true, true}, closed5);
            assertSame(IllegalStateException.class, assertThrows(RuntimeException.class,
                    () -> Fp8HostTable.of(40, 16, 8, a[0], a[1])).getClass(), "closed allocations");
        }
    }
}
