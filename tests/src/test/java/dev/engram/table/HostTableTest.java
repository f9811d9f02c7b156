package dev.engram.table;

import dev.engram.cuda.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** HostTable shapes, size arithmetic, lifecycle, and the allocators' contracts. */
class HostTableTest {

    private static boolean linux() {
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16"})
    void shapeAndZeroContents(DType dtype) {
        try (HostTable t = HostTable.allocate(1000, 24, dtype)) {
            assertEquals(1000, t.rows());
            assertEquals(24, t.rowElements());
            assertEquals(dtype, t.dtype());
            assertEquals(24L * dtype.byteSize(), t.rowBytes());
            assertEquals(1000L * 24 * dtype.byteSize(), t.byteSize());
            assertEquals(t.byteSize(), t.segment().byteSize());
            assertEquals(0, t.segment().address() % HostMemory.PAGE_BYTES, "page-aligned");
            assertEquals(-1, t.segment().mismatch(MemorySegment.ofArray(new byte[(int) t.byteSize()])), "zero-filled");
            assertEquals(t.rowBytes(), t.row(999).byteSize());
            assertEquals(999 * t.rowBytes(), t.row(999).address() - t.segment().address());
        }
    }

    @Test
    void getFloatReadsBothDtypes() {
        try (HostTable f = HostTable.allocate(3, 4, DType.FLOAT32); HostTable b = HostTable.allocate(3, 4, DType.BFLOAT16)) {
            f.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 2 * 4 + 3, -1.5f);
            b.segment().setAtIndex(ValueLayout.JAVA_SHORT, 2 * 4 + 3, (short) 0xBFC0); // bf16 -1.5
            assertEquals(-1.5f, f.getFloat(2, 3));
            assertEquals(-1.5f, b.getFloat(2, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> f.getFloat(3, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> f.getFloat(0, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> f.row(-1));
        }
    }

    @Test
    void largeAllocationsAreHugePageAligned() {
        try (HostTable t = HostTable.allocate(16384, 64, DType.BFLOAT16)) { // exactly 2 MiB
            assertEquals(0, t.segment().address() % HostMemory.HUGE_PAGE_BYTES);
        }
    }

    @Test
    void sizeArithmeticAndOverflow() {
        // The reference default layer: 10.3M rows x 64 bf16 columns; and a 189 GiB-class table.
        assertEquals(10_338_734L * 128, HostTable.byteSize(10_338_734L, 64, DType.BFLOAT16));
        assertEquals((1L << 40) * 256, HostTable.byteSize(1L << 40, 64, DType.FLOAT32));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HostTable.byteSize(Long.MAX_VALUE / 100, 64, DType.FLOAT32));
        assertTrue(e.getMessage().contains("overflows"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> HostTable.byteSize(Long.MAX_VALUE, Integer.MAX_VALUE, DType.BFLOAT16));
        assertThrows(IllegalArgumentException.class, () -> HostTable.allocate(Long.MAX_VALUE / 100, 64, DType.FLOAT32));
    }

    @Test
    void badShapesAndDtypes() {
        assertThrows(IllegalArgumentException.class, () -> HostTable.byteSize(0, 64, DType.FLOAT32));
        assertThrows(IllegalArgumentException.class, () -> HostTable.byteSize(10, 0, DType.FLOAT32));
        assertThrows(IllegalArgumentException.class, () -> HostTable.byteSize(-1, 64, DType.FLOAT32));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HostTable.allocate(10, 64, DType.INT64));
        assertTrue(e.getMessage().contains("FLOAT32 or BFLOAT16"), e.getMessage());
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() {
        HostTable t = HostTable.allocate(10, 8, DType.FLOAT32);
        MemorySegment early = t.segment();
        early.setAtIndex(ValueLayout.JAVA_FLOAT, 0, 1f);
        t.close();
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::segment);
        assertThrows(IllegalStateException.class, () -> t.row(0));
        assertThrows(IllegalStateException.class, () -> t.getFloat(0, 0));
        // A segment taken before close is dead too: no read of freed memory.
        assertThrows(IllegalStateException.class, () -> early.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
        assertEquals(10, t.rows()); // shape stays readable
        assertTrue(t.toString().contains("closed"));
    }

    @Test
    void allocatorReleaseRunsOnceAndShortAllocationsAreRejected() {
        AtomicInteger releases = new AtomicInteger();
        HostMemory counting = bytes -> {
            Arena a = Arena.ofShared();
            return new HostAllocation(a.allocate(bytes, 64), () -> {
                releases.incrementAndGet();
                a.close();
            });
        };
        HostTable t = HostTable.allocate(4, 4, DType.FLOAT32, counting);
        t.close();
        t.close();
        assertEquals(1, releases.get());

        HostMemory shortChanging = bytes -> {
            Arena a = Arena.ofShared();
            return new HostAllocation(a.allocate(bytes - 1), () -> {
                releases.incrementAndGet();
                a.close();
            });
        };
        assertThrows(IllegalArgumentException.class, () -> HostTable.allocate(4, 4, DType.FLOAT32, shortChanging));
        assertEquals(2, releases.get(), "the short allocation was given back");
    }

    @Test
    void allocationsMustBeNative() {
        assertThrows(IllegalArgumentException.class,
                () -> new HostAllocation(MemorySegment.ofArray(new byte[16]), () -> { }));
        assertThrows(IllegalArgumentException.class, () -> HostMemory.plain().allocate(0));
    }

    @ParameterizedTest(name = "hugePages={0}")
    @ValueSource(booleans = {false, true})
    void anonymousMappingWorksAndUnmaps(boolean hugePages) {
        assumeTrue(linux(), "anonymous mappings are Linux-only");
        HostTable t = HostTable.allocate(40_000, 64, DType.BFLOAT16, HostMemory.anonymousMapping(hugePages));
        MemorySegment s = t.segment();
        assertEquals(0, s.address() % (hugePages ? HostMemory.HUGE_PAGE_BYTES : HostMemory.PAGE_BYTES));
        assertEquals(0, s.get(ValueLayout.JAVA_BYTE, s.byteSize() - 1), "fresh pages read as zero");
        s.setAtIndex(ValueLayout.JAVA_SHORT, 12345, (short) 0x3F80);
        assertEquals(1f, t.getFloat(12345 / 64, 12345 % 64));
        t.close();
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0));
        assertFalse(t.toString().isEmpty());
    }

    @Test
    void tablesLargerThan2GiBAreAddressable() {
        // A mapping is lazy: only the two touched pages cost memory, so this runs on any CI machine.
        assumeTrue(linux(), "anonymous mappings are Linux-only");
        long rows = (1L << 31) / 128 + 3; // just over 2 GiB of 128-byte rows
        try (HostTable t = HostTable.allocate(rows, 64, DType.BFLOAT16, HostMemory.anonymousMapping(false))) {
            assertTrue(t.byteSize() > Integer.MAX_VALUE);
            t.row(rows - 1).setAtIndex(ValueLayout.JAVA_SHORT, 63, (short) 0x4000); // bf16 2.0
            assertEquals(2f, t.getFloat(rows - 1, 63));
            assertEquals(0f, t.getFloat(0, 0));
        }
    }
}
