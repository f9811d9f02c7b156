package dev.engram.cuda;

import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CUDA graph capture and replay ({@link CudaGraph}) with a cuBLAS GEMM given a workspace of its own: a replay reads the
 * inputs its buffers hold at launch time, and what CUDA forbids during capture fails as a {@link CudaException} that
 * leaves the stream usable.
 */
@RequiresGpu
class CudaGraphGpuTest {
    private static final long SEED = 20261204L;
    private long liveBefore;

    @BeforeEach
    void recordLiveBytes() {
        CudaDevice.get(0).makeCurrent();
        liveBefore = DeviceBuffer.liveBytes();
    }

    @AfterEach
    void deviceMemoryIsReturned() {
        assertEquals(liveBefore, DeviceBuffer.liveBytes(), "live device bytes after the test");
    }

    @Test
    void aCapturedCopyAndGemmReplayOnNewInputs() {
        int rows = 5, in = 7, out = 3;
        Random r = new Random(SEED);
        float[] w = randomFloats(r, out * in);
        try (CudaStream stream = CudaStream.create(); Cublas cublas = Cublas.create();
             DeviceBuffer workspace = DeviceBuffer.allocate(1L << 20, DType.INT32);
             DeviceBuffer staged = DeviceBuffer.allocate((long) rows * in, DType.FLOAT32);
             DeviceBuffer x = DeviceBuffer.allocate((long) rows * in, DType.FLOAT32);
             DeviceBuffer dw = DeviceBuffer.allocate((long) out * in, DType.FLOAT32);
             DeviceBuffer y = DeviceBuffer.allocate((long) rows * out, DType.FLOAT32)) {
            dw.copyFrom(w);
            cublas.setWorkspace(workspace);
            cublas.setStream(stream);
            assertSame(workspace, cublas.workspace(), "setStream keeps the workspace");
            assertFalse(stream.isCapturing());
            boolean[] capturing = new boolean[1];
            try (CudaGraph graph = CudaGraph.capture(stream, () -> {
                capturing[0] = stream.isCapturing();
                x.copyFromAsync(staged, stream);
                cublas.linear(x, dw, y, rows, in, out);
            })) {
                assertTrue(capturing[0], "the stream reports capturing inside the capture");
                assertFalse(stream.isCapturing());
                for (int replay = 0; replay < 3; replay++) {
                    float[] xs = randomFloats(r, rows * in);
                    staged.copyFrom(xs);
                    float[] poison = new float[rows * out];
                    Arrays.fill(poison, Float.NaN);
                    y.copyFrom(poison);
                    graph.launch(stream);
                    stream.synchronize();
                    float[] got = new float[rows * out];
                    y.copyTo(got);
                    double[] want = GemmReference.linear(xs, w, rows, in, out);
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(want[i], got[i], 1e-5 * (1 + Math.abs(want[i])), "replay " + replay + ", y[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void whatCaptureForbidsFailsAndLeavesTheStreamUsable() {
        try (CudaStream stream = CudaStream.create(); DeviceBuffer a = DeviceBuffer.allocate(16, DType.FLOAT32);
             DeviceBuffer b = DeviceBuffer.allocate(16, DType.FLOAT32)) {
            assertThrows(IllegalArgumentException.class, () -> CudaGraph.capture(CudaStream.legacyDefault(), () -> { }));
            CudaException sync = assertThrows(CudaException.class, () -> CudaGraph.capture(stream, () -> {
                a.copyFromAsync(b, stream);
                stream.synchronize(); // forbidden while capturing
            }));
            assertTrue(sync.getMessage().contains("Capture"), sync.getMessage());
            assertFalse(stream.isCapturing(), "the failed capture was ended");
            IllegalStateException thrown = assertThrows(IllegalStateException.class,
                    () -> CudaGraph.capture(stream, () -> { throw new IllegalStateException("from the work"); }));
            assertEquals("from the work", thrown.getMessage());
            assertFalse(stream.isCapturing());
            try (CudaGraph ok = CudaGraph.capture(stream, () -> a.copyFromAsync(b, stream))) {
                ok.launch(stream);
                stream.synchronize();
                ok.close();
                assertThrows(IllegalStateException.class, () -> ok.launch(stream));
            }
        }
    }

    private static float[] randomFloats(Random r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = r.nextFloat() * 2 - 1;
        return f;
    }
}
