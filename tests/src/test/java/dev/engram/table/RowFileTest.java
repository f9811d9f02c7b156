package dev.engram.table;

import dev.engram.cuda.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Row files: byte-exact round trips, size checks, progress reports, thread-count independence. */
class RowFileTest {
    private static final long SEED = 20261123;

    @TempDir
    Path dir;

    private static HostTable randomTable(long rows, int cols, DType dtype) {
        HostTable t = HostTable.allocate(rows, cols, dtype);
        RandomRows.fill(t, SEED, 1.0, 2);
        return t;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16"})
    void roundTripIsByteExactForAnyThreadCount(DType dtype) throws IOException {
        long rows = 5003;
        int cols = 24;
        Path file = dir.resolve("table.bin");
        try (HostTable original = randomTable(rows, cols, dtype)) {
            RowFile.write(original, file);
            assertArrayEquals(original.segment().toArray(ValueLayout.JAVA_BYTE), Files.readAllBytes(file));
            for (int threads : new int[] {1, 3, 8}) {
                // 4 KiB chunks: ~60 chunks, so threads really share the copy.
                try (HostTable loaded = HostTable.allocate(rows, cols, dtype)) {
                    RowFile.readInto(file, loaded, threads, ProgressListener.NONE, 4096);
                    assertEquals(-1, loaded.segment().mismatch(original.segment()), threads + " threads");
                }
            }
            try (HostTable loaded = RowFile.load(file, rows, cols, dtype, HostMemory.plain(), 2, ProgressListener.NONE)) {
                assertEquals(-1, loaded.segment().mismatch(original.segment()));
            }
        }
    }

    @Test
    void fileIsLittleEndianRows() throws IOException {
        Path file = dir.resolve("one.bin");
        try (HostTable t = HostTable.allocate(2, 2, DType.FLOAT32)) {
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 3, 1.0f); // row 1, column 1
            RowFile.write(t, file);
        }
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(16, bytes.length);
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3F}, java.util.Arrays.copyOfRange(bytes, 12, 16));
    }

    @Test
    void wrongFileSizeNamesBothSizes() throws IOException {
        Path file = dir.resolve("short.bin");
        Files.write(file, new byte[100 * 16 - 2]);
        try (HostTable t = HostTable.allocate(100, 8, DType.BFLOAT16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RowFile.readInto(file, t, 2, ProgressListener.NONE));
            assertTrue(e.getMessage().contains("holds 1598 bytes, expected 1600 bytes"), e.getMessage());
            assertTrue(e.getMessage().contains("100 rows x 8 BFLOAT16"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RowFile.load(file, 50, 8, DType.FLOAT32, HostMemory.plain(), 1, ProgressListener.NONE));
        assertTrue(e.getMessage().contains("expected 1600 bytes"), e.getMessage());
    }

    @Test
    void missingFileIsAnIoError() {
        Path missing = dir.resolve("nope.bin");
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> RowFile.load(missing, 1, 1, DType.FLOAT32, HostMemory.plain(), 1, ProgressListener.NONE));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    @Test
    void progressIsMonotonicFromZeroToTotal() {
        Path file = dir.resolve("p.bin");
        try (HostTable original = randomTable(20_000, 64, DType.FLOAT32)) {
            RowFile.write(original, file);
            List<long[]> calls = new ArrayList<>();
            Thread caller = Thread.currentThread();
            try (HostTable t = HostTable.allocate(20_000, 64, DType.FLOAT32)) {
                RowFile.readInto(file, t, 3, (done, total) -> {
                    assertSame(caller, Thread.currentThread(), "reported on the calling thread");
                    calls.add(new long[] {done, total});
                }, 64 * 1024);
            }
            long total = original.byteSize();
            assertTrue(calls.size() >= 2, "at least the first and the last report");
            assertArrayEquals(new long[] {0, total}, calls.getFirst());
            assertArrayEquals(new long[] {total, total}, calls.getLast());
            for (int i = 1; i < calls.size(); i++) {
                assertEquals(total, calls.get(i)[1]);
                assertTrue(calls.get(i)[0] >= calls.get(i - 1)[0], "monotonic at report " + i);
            }
        }
    }

    @Test
    void aThrowingListenerStopsTheLoad() {
        Path file = dir.resolve("x.bin");
        try (HostTable original = randomTable(100, 8, DType.FLOAT32); HostTable t = HostTable.allocate(100, 8, DType.FLOAT32)) {
            RowFile.write(original, file);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> RowFile.readInto(file, t, 2,
                    (done, total) -> { throw new IllegalStateException("stop"); }));
            assertEquals("stop", e.getMessage());
        }
    }

    @Test
    void badThreadCountIsRejected() {
        try (HostTable t = HostTable.allocate(1, 1, DType.FLOAT32)) {
            assertThrows(IllegalArgumentException.class, () -> RowFile.readInto(dir.resolve("z"), t, 0, ProgressListener.NONE));
        }
    }

    @Test
    void writingAClosedTableThrows() {
        HostTable t = HostTable.allocate(1, 1, DType.FLOAT32);
        t.close();
        assertThrows(IllegalStateException.class, () -> RowFile.write(t, dir.resolve("c.bin")));
    }
}
