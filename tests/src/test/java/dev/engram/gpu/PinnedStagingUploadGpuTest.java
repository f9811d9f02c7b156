package dev.engram.gpu;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.internal.Segments;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ParameterUpload}'s pinned ring ({@link PinnedStagingRing}): large host tensors go through three pinned
 * chunks filled by several threads while earlier chunks are copied. Here the ring is forced for tensors of a few
 * MiB (the threshold at 0, 1 MiB chunks: parts of at least 1 MiB are filled in parallel, so 2 MiB chunks with 3
 * threads fill in 2 parts) and the destinations are poisoned first; every byte must arrive, in the same dtype and
 * converted (F32 to BF16 rounded as {@link BFloat16#fromFloat}, BF16 to F32 widened), from native and heap memory,
 * for fp8 codes and scales too, with the progress reports of the pageable path. A confined arena's segment is
 * filled on the calling thread alone (other threads may not read it). A chunk refilled before its copy ran would
 * show up under the simulator's lazy and random schedules.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class PinnedStagingUploadGpuTest {
    private static final long CHUNK = 2L << 20;

    @Test
    void sameDtypeFromNativeAndHeapMemoryArrivesWhole() {
        CudaDevice.get(0).makeCurrent();
        int n = 1_700_001; // 6.5 MiB of floats: 4 chunks, the last partial
        float[] values = randomFloats(n, 1);
        try (Arena shared = Arena.ofShared(); Arena confined = Arena.ofConfined(); CudaStream s = CudaStream.create();
             DeviceBuffer dst = DeviceBuffer.allocate(n, DType.FLOAT32)) {
            MemorySegment[] sources = {shared.allocateFrom(ValueLayout.JAVA_FLOAT, values),
                    confined.allocateFrom(ValueLayout.JAVA_FLOAT, values), MemorySegment.ofArray(values)};
            boolean[] parallel = {true, false, true};
            for (int k = 0; k < sources.length; k++) {
                MemorySegment host = sources[k];
                assertEquals(parallel[k], Segments.accessibleByOtherThreads(host), "source " + k);
                poison(dst, s);
                List<long[]> calls = new ArrayList<>();
                ParameterTensor t = ParameterTensor.ofHost(host, DType.FLOAT32)
                        .withUploadProgress((done, total) -> calls.add(new long[] {done, total}));
                try (ParameterUpload up = new ParameterUpload(s, CHUNK, 0, 3)) {
                    up.copy(t, dst);
                }
                s.synchronize();
                float[] back = new float[n];
                dst.copyTo(back);
                assertArrayEquals(values, back, "source " + k + " (shared, confined, heap)");
                assertArrayEquals(new long[] {0, 4L * n}, calls.getFirst());
                assertArrayEquals(new long[] {4L * n, 4L * n}, calls.getLast());
            }
        }
    }

    @Test
    void conversionsInBothDirectionsAreExact() {
        CudaDevice.get(0).makeCurrent();
        int n = 1_300_003;
        float[] values = randomFloats(n, 2);
        short[] bf16 = new short[n];
        float[] widened = new float[n];
        short[] rounded = new short[n];
        for (int i = 0; i < n; i++) {
            bf16[i] = BFloat16.fromFloat(values[n - 1 - i]);
            widened[i] = BFloat16.toFloat(bf16[i]);
            rounded[i] = BFloat16.fromFloat(values[i]);
        }
        try (Arena arena = Arena.ofShared(); CudaStream s = CudaStream.create();
             DeviceBuffer toBf16 = DeviceBuffer.allocate(n, DType.BFLOAT16);
             DeviceBuffer toF32 = DeviceBuffer.allocate(n, DType.FLOAT32)) {
            poison(toBf16, s);
            poison(toF32, s);
            try (ParameterUpload up = new ParameterUpload(s, CHUNK, 0, 3)) {
                up.copy(ParameterTensor.ofHost(arena.allocateFrom(ValueLayout.JAVA_FLOAT, values), DType.FLOAT32), toBf16);
                up.copy(ParameterTensor.ofHost(arena.allocateFrom(ValueLayout.JAVA_SHORT, bf16), DType.BFLOAT16), toF32);
            }
            s.synchronize();
            short[] backBf16 = new short[n];
            toBf16.copyTo(backBf16);
            assertArrayEquals(rounded, backBf16, "F32 -> BF16, nearest even");
            float[] backF32 = new float[n];
            toF32.copyTo(backF32);
            assertArrayEquals(widened, backF32, "BF16 -> F32");
        }
    }

    @Test
    void fp8CodesAndScalesArriveUnchanged() {
        CudaDevice.get(0).makeCurrent();
        int rows = 70_001, headDim = 64, block = 32; // 4.3 MiB of codes (3 chunks), 137 KiB of scales (one part)
        byte[] codes = new byte[rows * headDim];
        byte[] scales = new byte[rows * (headDim / block)];
        Random r = new Random(3);
        r.nextBytes(codes);
        for (int i = 0; i < scales.length; i++) scales[i] = (byte) (100 + r.nextInt(50)); // no NaN scale (255)
        try (Arena arena = Arena.ofShared(); CudaStream s = CudaStream.create();
             DeviceBuffer c = DeviceBuffer.allocate(codes.length, DType.FP8_E4M3);
             DeviceBuffer sc = DeviceBuffer.allocate(scales.length, DType.FP8_E8M0)) {
            poison(c, s);
            poison(sc, s);
            ParameterTensor t = ParameterTensor.ofFp8Host(arena.allocateFrom(ValueLayout.JAVA_BYTE, codes),
                    arena.allocateFrom(ValueLayout.JAVA_BYTE, scales), block);
            try (ParameterUpload up = new ParameterUpload(s, CHUNK, 0, 3)) {
                up.copyFp8(t, c, sc);
            }
            s.synchronize();
            assertArrayEquals(codes, bytes(c), "codes");
            assertArrayEquals(scales, bytes(sc), "scales");
        }
    }

    @Test
    void badFillThreadCountsAreRefused() {
        CudaDevice.get(0).makeCurrent();
        try (CudaStream s = CudaStream.create()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ParameterUpload(s, CHUNK, 0, 0));
            assertTrue(e.getMessage().contains("fill threads"), e.getMessage());
        }
        assertTrue(ParameterUpload.FILL_THREADS >= 1 && ParameterUpload.FILL_THREADS <= 8,
                "1 to 8 fill threads by default, got " + ParameterUpload.FILL_THREADS);
    }

    private static float[] randomFloats(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * 3);
        return v;
    }

    private static void poison(DeviceBuffer d, CudaStream s) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment junk = a.allocate(d.byteSize());
            junk.fill((byte) 0x7f);
            d.copyFromAsync(junk, s);
            s.synchronize();
        }
    }

    private static byte[] bytes(DeviceBuffer d) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(d.byteSize());
            d.copyTo(host);
            return host.toArray(ValueLayout.JAVA_BYTE);
        }
    }
}
