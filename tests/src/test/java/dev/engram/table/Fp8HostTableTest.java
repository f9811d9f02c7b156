package dev.engram.table;

import dev.engram.EngramConfig;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Fp8HostTable} (made from an {@link Fp8Table}, or allocated and filled in place; NaN scales refused with the
 * row named; closing) and {@link CpuRowGather}'s gather of its code rows and scale rows: both against a scalar gather
 * of the same ids, on one and three threads, with libengram's copy and Java's, whole and in chunks; bad ids and bad
 * destinations rejected with nothing written. No GPU needed.
 */
class Fp8HostTableTest {
    private static final int LAYER = 15;
    private static final long VOCAB = 5000;
    /** 2 orders x 2 heads of 64 values (SEMANTICS.md 9's layout with small rows). */
    private static final EngramConfig D64 = new EngramConfig(List.of(5003L, 4001L), 3, 128, 2, List.of(1, 15), 2, 0, 4,
            32, 2, OptionalLong.of(VOCAB), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    private static final CpuRowGather ONE = new CpuRowGather(1);
    private static final CpuRowGather THREE = new CpuRowGather(3);
    private static final CpuRowGather THREE_JAVA = new CpuRowGather(3, false);

    @AfterAll
    static void closePools() {
        ONE.close();
        THREE.close();
        THREE_JAVA.close();
    }

    /** Random codes (every byte) and scale bytes 0..254 for {@code rows x headDim}, as an {@link Fp8Table}. */
    static Fp8Table randomTable(long rows, int headDim, int block, long seed, Arena arena) {
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment codes = arena.allocate(rows * headDim), scales = arena.allocate(rows * (headDim / block));
        for (long i = 0; i < codes.byteSize(); i++) codes.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        for (long i = 0; i < scales.byteSize(); i++) scales.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(255));
        return Fp8Table.of("random", codes, scales, rows, headDim, block);
    }

    @Test
    void aCopyOfAnFp8TableHoldsItsBytesAndReadsAsTheSameTable() {
        try (Arena arena = Arena.ofConfined()) {
            for (int block : new int[] {64, 16, 5, 1}) {
                int headDim = block == 5 ? 25 : 64;
                Fp8Table source = randomTable(37, headDim, block, 7 + block, arena);
                try (Fp8HostTable copy = Fp8HostTable.copyOf(source)) {
                    assertEquals(37, copy.rows());
                    assertEquals(headDim, copy.headDim());
                    assertEquals(block, copy.block());
                    assertEquals(headDim / block, copy.blocksPerRow());
                    assertEquals(headDim, copy.codeRowBytes());
                    assertEquals(headDim / block, copy.scaleRowBytes());
                    assertArrayEquals(source.values().toArray(ValueLayout.JAVA_BYTE), copy.codes().toArray(ValueLayout.JAVA_BYTE));
                    assertArrayEquals(source.scales().toArray(ValueLayout.JAVA_BYTE), copy.scales().toArray(ValueLayout.JAVA_BYTE));
                    assertEquals(0, (copy.scales().address() - copy.codes().address()) % Fp8HostTable.SCALES_ALIGNMENT,
                            "scales start on a 64-byte boundary after the codes");
                    assertTrue(copy.scales().address() >= copy.codes().address() + copy.codes().byteSize());
                    assertEquals(Fp8HostTable.byteSize(37, headDim, block), copy.byteSize());
                    Fp8Table view = copy.asFp8Table();
                    for (long row = 0; row < 37; row += 6) {
                        for (int c = 0; c < headDim; c += 3) {
                            assertEquals(Double.doubleToRawLongBits(source.get(row, c)),
                                    Double.doubleToRawLongBits(view.get(row, c)), "block " + block + " (" + row + ", " + c + ")");
                        }
                    }
                }
            }
        }
    }

    @Test
    void anAllocatedTableHasValidScalesAndANanScaleWrittenInPlaceIsRefusedWithItsRow() {
        try (Fp8HostTable t = Fp8HostTable.allocate(10, 32, 8, HostMemory.plain())) {
            assertEquals(40, t.scales().byteSize());
            for (byte b : t.scales().toArray(ValueLayout.JAVA_BYTE)) assertEquals(0, b, "scales start at byte 0");
            assertEquals(0.0, t.asFp8Table().get(9, 31));
            t.codes().set(ValueLayout.JAVA_BYTE, 7 * 32 + 9, (byte) 0x38); // 1.0
            t.scales().set(ValueLayout.JAVA_BYTE, 7 * 4 + 1, (byte) 129);   // 4
            assertEquals(4.0, t.asFp8Table().get(7, 9));
            t.scales().set(ValueLayout.JAVA_BYTE, 6 * 4 + 3, (byte) 255);
            var e = assertThrows(IllegalArgumentException.class, t::asFp8Table);
            assertTrue(e.getMessage().contains("scale byte 255 (NaN) at row 6, block 3"), e.getMessage());
            assertTrue(e.getMessage().contains("Fp8HostTable[10 x 32"), e.getMessage());
        }
        // An Fp8Table with a NaN scale is refused when it is made, so no copy of one exists.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment codes = arena.allocate(12), scales = arena.allocate(3);
            scales.set(ValueLayout.JAVA_BYTE, 2, (byte) 255);
            var e = assertThrows(IllegalArgumentException.class, () -> Fp8Table.of("t", codes, scales, 3, 4, 4));
            assertTrue(e.getMessage().contains("row 2"), e.getMessage());
        }
    }

    @Test
    void badShapesAreRefusedAndAClosedTableThrows() {
        assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.allocate(0, 32, 8, HostMemory.plain()));
        assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.allocate(4, 0, 1, HostMemory.plain()));
        var block = assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.allocate(4, 32, 12, HostMemory.plain()));
        assertTrue(block.getMessage().contains("block 12 does not divide head dim 32"), block.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.allocate(4, 32, 0, HostMemory.plain()));
        assertThrows(IllegalArgumentException.class, () -> Fp8HostTable.byteSize(Long.MAX_VALUE / 2, 64, 64));
        assertEquals(64 + 2, Fp8HostTable.byteSize(2, 25, 25), "50 code bytes, padded to 64, then 2 scales");

        Fp8HostTable t = Fp8HostTable.allocate(4, 32, 8, HostMemory.plain());
        MemorySegment early = t.codes();
        t.close();
        t.close(); // idempotent
        assertTrue(t.isClosed());
        assertTrue(t.toString().contains("closed"), t.toString());
        assertThrows(IllegalStateException.class, t::codes);
        assertThrows(IllegalStateException.class, t::scales);
        assertThrows(IllegalStateException.class, t::asFp8Table);
        assertThrows(IllegalStateException.class, () -> early.get(ValueLayout.JAVA_BYTE, 0));
    }

    // ---------------------------------------------------------------- the CPU gather of code and scale rows

    /** The code rows and scale rows of {@code hash}'s ids, gathered one by one. */
    private static byte[][] expected(Fp8HostTable t, LayerHashing layer, long[] hash) {
        int heads = layer.heads();
        long[] offsets = layer.offsets();
        byte[] codes = new byte[Math.toIntExact(hash.length * t.codeRowBytes())];
        byte[] scales = new byte[Math.toIntExact(hash.length * t.scaleRowBytes())];
        for (int i = 0; i < hash.length; i++) {
            long row = offsets[i % heads] + hash[i];
            MemorySegment.copy(t.codes(), row * t.codeRowBytes(), MemorySegment.ofArray(codes), i * t.codeRowBytes(),
                    t.codeRowBytes());
            MemorySegment.copy(t.scales(), row * t.scaleRowBytes(), MemorySegment.ofArray(scales), i * t.scaleRowBytes(),
                    t.scaleRowBytes());
        }
        return new byte[][] {codes, scales};
    }

    @Test
    void codeAndScaleRowsEqualAScalarGatherOfTheSameIds() {
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(D64);
        LayerHashing layer = mapping.layer(LAYER);
        try (Arena arena = Arena.ofShared()) {
            for (int block : new int[] {64, 16, 1}) {
                Fp8Table source = randomTable(layer.totalRows(), 64, block, 100 + block, arena);
                try (Fp8HostTable t = Fp8HostTable.copyOf(source)) {
                    for (int[] shape : new int[][] {{1, 1}, {2, 37}, {4, 700}}) { // the last one is split over threads
                        int b = shape[0], s = shape[1];
                        long[] raw = new SplittableRandom(b * 31L + s).longs((long) b * s, 0, VOCAB).toArray();
                        long[] hash = mapping.hash(raw, b, s, LAYER);
                        byte[][] want = expected(t, layer, hash);
                        for (CpuRowGather g : new CpuRowGather[] {ONE, THREE, THREE_JAVA}) {
                            String what = "block " + block + " " + b + "x" + s + " threads " + g.threads()
                                    + (g.copiesNatively() ? " native" : " java");
                            long tokens = (long) b * s;
                            assertEquals(want[0].length, CpuRowGather.codeBytes(t, layer, tokens));
                            assertEquals(want[1].length, CpuRowGather.scaleBytes(t, layer, tokens));
                            // native destinations (libengram's copy where loaded) and heap ones (Java's copy)
                            MemorySegment codes = arena.allocate(want[0].length), scales = arena.allocate(want[1].length);
                            g.gather(t, layer, hash, codes, scales);
                            assertArrayEquals(want[0], codes.toArray(ValueLayout.JAVA_BYTE), what + ": codes");
                            assertArrayEquals(want[1], scales.toArray(ValueLayout.JAVA_BYTE), what + ": scales");
                            byte[] hc = new byte[want[0].length], hs = new byte[want[1].length];
                            g.gather(t, layer, hash, MemorySegment.ofArray(hc), MemorySegment.ofArray(hs));
                            assertArrayEquals(want[0], hc, what + ": codes (heap)");
                            assertArrayEquals(want[1], hs, what + ": scales (heap)");
                        }
                        // In chunks through the start of one staging pair, as the host-table layer does.
                        byte[] codes = new byte[want[0].length], scales = new byte[want[1].length];
                        int chunk = 3, heads = layer.heads();
                        for (int first = 0; first < b * s; first += chunk) {
                            int count = Math.min(chunk, b * s - first);
                            byte[] c = new byte[(int) (count * heads * t.codeRowBytes())];
                            byte[] sc = new byte[(int) (count * heads * t.scaleRowBytes())];
                            THREE.gather(t, layer, hash, first, count, MemorySegment.ofArray(c), MemorySegment.ofArray(sc));
                            System.arraycopy(c, 0, codes, (int) (first * heads * t.codeRowBytes()), c.length);
                            System.arraycopy(sc, 0, scales, (int) (first * heads * t.scaleRowBytes()), sc.length);
                        }
                        assertArrayEquals(want[0], codes, "chunked codes, block " + block);
                        assertArrayEquals(want[1], scales, "chunked scales, block " + block);
                    }
                }
            }
        }
    }

    @Test
    void badIdsAndDestinationsAreRejectedWithNothingWritten() {
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(D64);
        LayerHashing layer = mapping.layer(LAYER);
        int heads = layer.heads();
        try (Arena arena = Arena.ofShared()) {
            Fp8Table source = randomTable(layer.totalRows(), 64, 16, 5, arena);
            try (Fp8HostTable t = Fp8HostTable.copyOf(source)) {
                long[] hash = mapping.hash(new long[] {1, 2, 3, 4}, 1, 4, LAYER);
                byte[] codes = new byte[4 * heads * 64], scales = new byte[4 * heads * 4];
                MemorySegment c = MemorySegment.ofArray(codes), s = MemorySegment.ofArray(scales);
                Arrays.fill(codes, (byte) 0x5A);
                Arrays.fill(scales, (byte) 0x5A);

                long[] bad = hash.clone();
                bad[2 * heads + 1] = layer.moduli()[1];
                var e = assertThrows(IllegalArgumentException.class, () -> THREE.gather(t, layer, bad, c, s));
                assertTrue(e.getMessage().contains("token 2, head 1"), e.getMessage());
                long[] negative = hash.clone();
                negative[0] = -1;
                assertThrows(IllegalArgumentException.class, () -> ONE.gather(t, layer, negative, c, s));
                var small = assertThrows(IllegalArgumentException.class,
                        () -> THREE.gather(t, layer, hash, c, s.asSlice(0, scales.length - 1)));
                assertTrue(small.getMessage().contains("scalesDst holds"), small.getMessage());
                assertThrows(IllegalArgumentException.class, () -> THREE.gather(t, layer, hash, c.asSlice(1), s));
                var overlap = assertThrows(IllegalArgumentException.class, () -> THREE.gather(t, layer, hash, c, c));
                assertTrue(overlap.getMessage().contains("overlap"), overlap.getMessage());
                assertThrows(IllegalArgumentException.class, () -> THREE.gather(t, layer, hash, c.asReadOnly(), s));
                assertThrows(IllegalArgumentException.class, () -> THREE.gather(t, layer, hash, 3, 2, c, s),
                        "tokens beyond the ids");
                assertThrows(IllegalArgumentException.class, () -> THREE.gather(t, layer, Arrays.copyOf(hash, 5), c, s));
                try (Fp8HostTable other = Fp8HostTable.allocate(layer.totalRows() - 1, 64, 16, HostMemory.plain())) {
                    var rows = assertThrows(IllegalArgumentException.class, () -> THREE.gather(other, layer, hash, c, s));
                    assertTrue(rows.getMessage().contains("rows"), rows.getMessage());
                }
                for (byte b : codes) assertEquals(0x5A, b, "a rejected gather wrote codes");
                for (byte b : scales) assertEquals(0x5A, b, "a rejected gather wrote scales");
            }
            Fp8HostTable closed = Fp8HostTable.copyOf(source);
            closed.close();
            long[] hash = mapping.hash(new long[] {1}, 1, 1, LAYER);
            assertThrows(IllegalStateException.class,
                    () -> ONE.gather(closed, layer, hash, MemorySegment.ofArray(new byte[heads * 64]),
                            MemorySegment.ofArray(new byte[heads * 4])));
        }
    }
}
