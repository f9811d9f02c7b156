package dev.engram.gpu;

import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ParameterTensor#withUploadProgress}: the upload reports {@code (0, total)} first and {@code (total, total)}
 * last, in between only after 100 ms (here: after a listener that sleeps), never decreasing, for a native tensor
 * copied as is and a converted one; the data arrives unchanged. Device tensors take no listener.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class UploadProgressGpuTest {
    @Test
    void reportsFirstLastAndThrottledInBetween() {
        CudaDevice.get(0).makeCurrent();
        int n = 1001;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = i * 0.5f;
        try (Arena arena = Arena.ofConfined(); CudaStream s = CudaStream.create();
             DeviceBuffer same = DeviceBuffer.allocate(n, DType.FLOAT32);
             DeviceBuffer converted = DeviceBuffer.allocate(n, DType.BFLOAT16)) {
            for (DeviceBuffer dst : List.of(same, converted)) {
                List<long[]> calls = new ArrayList<>();
                ParameterTensor t = ParameterTensor.ofHost(arena.allocateFrom(ValueLayout.JAVA_FLOAT, values), DType.FLOAT32)
                        .withUploadProgress((done, total) -> {
                            calls.add(new long[] {done, total});
                            if (calls.size() == 1) sleep(150); // so that the next chunk's report is due
                        });
                try (ParameterUpload up = new ParameterUpload(s, 64)) { // 63 chunks
                    up.copy(t, dst);
                }
                s.synchronize();
                String what = dst.dtype() + ": " + calls.stream().map(c -> c[0] + "/" + c[1]).toList();
                assertArrayEquals(new long[] {0, 4L * n}, calls.getFirst(), what);
                assertArrayEquals(new long[] {4L * n, 4L * n}, calls.getLast(), what);
                assertTrue(calls.size() >= 3 && calls.size() < 63, what + ": throttled, with one in between");
                for (int i = 1; i < calls.size(); i++) {
                    assertTrue(calls.get(i)[0] > calls.get(i - 1)[0], what + ": increasing");
                    assertEquals(4L * n, calls.get(i)[1], what);
                }
            }
            float[] back = new float[n];
            same.copyTo(back);
            assertArrayEquals(values, back);
            try (DeviceBuffer d = DeviceBuffer.allocate(4, DType.FLOAT32)) {
                assertThrows(IllegalArgumentException.class,
                        () -> ParameterTensor.ofDevice(d).withUploadProgress((a, b) -> { }));
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
