package dev.engram.cuda;

import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device memory, streams, events and pinned memory on a real GPU (skipped with the reason without one). */
@RequiresGpu
class CudaGpuTest {
    private static final long SEED = 20260101L;
    private long liveBefore;

    @BeforeEach
    void recordLiveBytes() {
        System.out.println("[cuda gpu] seed " + SEED);
        CudaDevice.get(0).makeCurrent();
        liveBefore = DeviceBuffer.liveBytes();
    }

    @AfterEach
    void deviceMemoryIsReturned() {
        assertEquals(liveBefore, DeviceBuffer.liveBytes(), "live device bytes after the test");
    }

    @Test
    void deviceAttributesAreSane() {
        CudaDevice d = CudaDevice.get(0);
        System.out.println("[cuda gpu] SMs " + d.multiProcessorCount() + ", cc " + d.computeCapabilityMajor() + "."
                + d.computeCapabilityMinor() + ", " + d.memoryInfo() + ", driver " + Cuda.driverVersion());
        assertTrue(d.multiProcessorCount() > 0);
        assertTrue(d.computeCapability() >= 80, "compute capability >= 8.0 expected, got " + d.computeCapability());
        CudaDevice.MemoryInfo mem = d.memoryInfo();
        assertTrue(mem.totalBytes() > 0 && mem.freeBytes() <= mem.totalBytes(), mem::toString);
        assertThrows(IllegalArgumentException.class, () -> CudaDevice.get(CudaDevice.count()));
        assertEquals(0, CudaDevice.current().ordinal());
    }

    @Test
    void float32AndInt64RoundTripIntoPoisonedDestinations() {
        Random r = new Random(SEED);
        float[] f = new float[1000];
        for (int i = 0; i < f.length; i++) f[i] = r.nextFloat() * 2 - 1;
        long[] l = r.longs(777).toArray();
        try (DeviceBuffer df = DeviceBuffer.allocate(f.length, DType.FLOAT32);
             DeviceBuffer dl = DeviceBuffer.allocate(l.length, DType.INT64)) {
            assertEquals(liveBefore + 4000 + 8 * 777, DeviceBuffer.liveBytes());
            df.copyFrom(f);
            dl.copyFrom(l);
            float[] fo = new float[f.length];
            Arrays.fill(fo, Float.NaN);
            long[] lo = new long[l.length];
            Arrays.fill(lo, 0xDEADBEEFL);
            df.copyTo(fo);
            dl.copyTo(lo);
            assertArrayEquals(f, fo);
            assertArrayEquals(l, lo);
        }
    }

    @Test
    void asyncCopiesOnAStreamWithEventTiming() {
        int n = 1 << 22;
        try (CudaStream stream = CudaStream.create();
             CudaEvent start = CudaEvent.create(); CudaEvent end = CudaEvent.create();
             PinnedHostBuffer in = PinnedHostBuffer.allocate(n, DType.INT32);
             PinnedHostBuffer out = PinnedHostBuffer.allocate(n, DType.INT32);
             DeviceBuffer d = DeviceBuffer.allocate(n, DType.INT32)) {
            for (int i = 0; i < n; i++) in.segment().setAtIndex(ValueLayout.JAVA_INT, i, i * 31);
            out.segment().fill((byte) 0x7f);
            start.record(stream);
            d.copyFromAsync(in.segment(), stream);
            d.copyToAsync(out.segment(), stream);
            end.record(stream);
            stream.synchronize();
            end.synchronize();
            float ms = CudaEvent.elapsedMillis(start, end);
            System.out.println("[cuda gpu] 2 x " + (4L * n) + " bytes async in " + ms + " ms");
            assertTrue(ms > 0, "elapsed " + ms);
            assertEquals(-1, in.segment().mismatch(out.segment()));
            try (CudaStream other = CudaStream.create()) {
                other.waitEvent(end);
                d.zeroAsync(other);
                d.copyToAsync(out.segment(), other);
                other.synchronize();
                assertEquals(0, out.segment().getAtIndex(ValueLayout.JAVA_INT, n - 1));
            }
        }
    }

    /**
     * DeviceArray's contract that the synchronous copies are fences for work on non-blocking streams, with no other
     * synchronization on purpose: copyFrom returns with the data on the device (a pageable cudaMemcpy alone may
     * return before its DMA lands), so a stream may read it at once; copyTo waits for queued writes to its source
     * (a bare cudaMemcpy on the legacy stream would not).
     */
    @Test
    void synchronousCopiesAreFencesForNonBlockingStreams() {
        int n = 1 << 16;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = i * 0.25f;
        try (CudaStream stream = CudaStream.create();
             DeviceBuffer a = DeviceBuffer.allocate(n, DType.FLOAT32);
             DeviceBuffer b = DeviceBuffer.allocate(n, DType.FLOAT32)) {
            a.copyFrom(values);
            b.copyFromAsync(a, stream);
            float[] back = new float[n];
            b.copyTo(back);
            assertArrayEquals(values, back);
            b.zeroAsync(stream);
            b.copyTo(back);
            assertArrayEquals(new float[n], back);
        }
    }

    @Test
    void sliceCopiesTouchOnlyTheirRange() {
        long[] all = new long[100];
        Arrays.setAll(all, i -> i);
        try (DeviceBuffer d = DeviceBuffer.allocate(100, DType.INT64)) {
            d.copyFrom(all);
            DeviceSlice s = d.slice(10, 5);
            s.copyFrom(new long[] {-1, -2, -3, -4, -5});
            long[] part = new long[7];
            d.slice(9, 7).copyTo(part);
            assertArrayEquals(new long[] {9, -1, -2, -3, -4, -5, 15}, part);
            assertThrows(IllegalArgumentException.class, () -> d.slice(96, 5));
        }
    }

    @Test
    void useAfterCloseAndIdempotentClose() {
        DeviceBuffer d = DeviceBuffer.allocate(16, DType.FLOAT32);
        DeviceSlice s = d.slice(4, 4);
        d.close();
        d.close();
        assertThrows(IllegalStateException.class, () -> d.copyTo(new float[16]));
        assertThrows(IllegalStateException.class, () -> s.copyFrom(new float[4]));
        CudaStream stream = CudaStream.create();
        stream.close();
        stream.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, stream::synchronize);
        assertTrue(e.getMessage().contains("CudaStream"), e.getMessage());
        CudaEvent ev = CudaEvent.create();
        ev.close();
        ev.close();
        assertThrows(IllegalStateException.class, ev::synchronize);
    }

    @Test
    void pinnedBufferRoundTripAndAccessAfterClose() {
        PinnedHostBuffer p = PinnedHostBuffer.allocate(64, DType.FLOAT32);
        MemorySegment seg = p.segment();
        for (int i = 0; i < 64; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, i * 0.5f);
        try (DeviceBuffer d = DeviceBuffer.allocate(64, DType.FLOAT32)) {
            d.copyFrom(seg);
            float[] back = new float[64];
            d.copyTo(back);
            for (int i = 0; i < 64; i++) assertEquals(i * 0.5f, back[i]);
        }
        p.close();
        p.close();
        assertThrows(IllegalStateException.class, () -> seg.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
        assertThrows(IllegalStateException.class, p::segment);
    }
}
