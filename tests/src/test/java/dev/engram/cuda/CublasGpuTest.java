package dev.engram.cuda;

import dev.engram.bindings.cublas_h;
import dev.engram.testing.Compare;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.engram.cuda.Cublas.Operation.N;
import static dev.engram.cuda.Cublas.Operation.T;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Cublas} on a real GPU against a double-precision CPU product ({@link GemmReference}), on fresh random
 * inputs in [-1, 1) with fixed, printed seeds. Skipped with the reason without a GPU.
 *
 * <p>Error measure: norm-wise, {@code max|gpu - ref| / max|ref|} ({@link Compare}), because single elements of
 * a dot product can cancel to near zero, where an element-wise relative error means nothing. Tolerances:
 * <ul>
 *   <li>fp32 in, fp32 out: 1e-5. {@code CUBLAS_COMPUTE_32F} in the default math mode rounds nothing below
 *       fp32; summing k <= 1024 products of size ~1 in fp32 errs by about sqrt(k) * 2^-24 * |partial sums|,
 *       ~1e-4 absolute at worst here, against outputs up to ~50: about 1e-6.</li>
 *   <li>bf16 in (rounded to bf16 on the CPU first, so the reference multiplies the very same values), fp32
 *       out: 1e-4. The products are exact in fp32; the looser bound allows for tensor-core fp32 accumulation,
 *       which is not guaranteed to round to nearest.</li>
 *   <li>bf16 out: 1e-2. Rounding the output to bf16 alone errs by up to 2^-9 (0.2%) of each element.</li>
 * </ul>
 * Outputs are filled with NaN before every call: with beta = 0 cuBLAS must not read C, and rows between m and
 * ldc (padding) must come back untouched.
 */
@RequiresGpu
class CublasGpuTest {
    private static final long SEED = 20260315L;
    private static final double FP32_TOL = 1e-5;
    private static final double BF16_IN_TOL = 1e-4;
    private static final double BF16_OUT_TOL = 1e-2;
    private static final List<int[]> SHAPES = List.of(new int[] {1, 1, 1}, new int[] {3, 5, 7}, new int[] {129, 65, 33});
    private static final List<Cublas.Operation[]> OPS = List.of(
            new Cublas.Operation[] {N, N}, new Cublas.Operation[] {T, N}, new Cublas.Operation[] {N, T},
            new Cublas.Operation[] {T, T});

    private long liveBefore;
    private Cublas cublas;
    private long nextSeed = SEED;

    @BeforeEach
    void setUp() {
        CudaDevice.get(0).makeCurrent();
        liveBefore = DeviceBuffer.liveBytes();
        cublas = Cublas.create();
    }

    @AfterEach
    void tearDown() {
        if (cublas != null) cublas.close();
        assertEquals(liveBefore, DeviceBuffer.liveBytes(), "live device bytes after the test");
    }

    @Test
    void handleReportsVersionAndPlainFp32MathMode() {
        int version = cublas.version();
        System.out.println("[cublas gpu] " + cublas + ", cublasGetVersion " + version);
        assertTrue(version / 10000 == 13 || version / 1000 == 13, "cuBLAS 13 expected, cublasGetVersion says " + version);
        assertEquals(cublas_h.CUBLAS_DEFAULT_MATH(), cublas.mathMode(), "no TF32 or other reduced-precision math");
        assertSame(CudaStream.legacyDefault(), cublas.stream());
    }

    @Test
    void gemmExFp32MatchesTheDoubleReference() {
        for (int[] s : SHAPES) {
            for (Cublas.Operation[] op : OPS) {
                for (int pad : new int[] {0, 3}) {
                    runGemm(op[0], op[1], s[0], s[1], s[2], pad, DType.FLOAT32, DType.FLOAT32, 1f, 0f, FP32_TOL);
                }
            }
        }
    }

    @Test
    void gemmExBf16InputsWithFp32AndBf16Outputs() {
        for (int[] s : SHAPES) {
            for (Cublas.Operation[] op : OPS.subList(0, 3)) {
                for (int pad : new int[] {0, 3}) {
                    runGemm(op[0], op[1], s[0], s[1], s[2], pad, DType.BFLOAT16, DType.FLOAT32, 1f, 0f, BF16_IN_TOL);
                    runGemm(op[0], op[1], s[0], s[1], s[2], pad, DType.BFLOAT16, DType.BFLOAT16, 1f, 0f, BF16_OUT_TOL);
                }
            }
        }
    }

    @Test
    void gemmExAccumulatesIntoCWithBeta() {
        for (Cublas.Operation[] op : OPS.subList(1, 3)) {
            runGemm(op[0], op[1], 129, 65, 33, 2, DType.FLOAT32, DType.FLOAT32, -1.25f, 0.75f, FP32_TOL);
            runGemm(op[0], op[1], 129, 65, 33, 2, DType.BFLOAT16, DType.FLOAT32, -1.25f, 0.75f, BF16_IN_TOL);
            runGemm(op[0], op[1], 129, 65, 33, 2, DType.BFLOAT16, DType.BFLOAT16, -1.25f, 0.75f, BF16_OUT_TOL);
        }
    }

    @Test
    void linearMatchesTorchLinearIncludingTheEngramProjectionShape() {
        // rows x in x out; the last is one Engram layer's projection: 1024 tokens, E = 1024, (G + 1) * H = 5 * 1024.
        for (int[] s : List.of(new int[] {1, 1, 1}, new int[] {3, 7, 5}, new int[] {65, 33, 129}, new int[] {1024, 1024, 5 * 1024})) {
            runLinear(s[0], s[1], s[2], DType.FLOAT32, DType.FLOAT32, FP32_TOL, cublas);
            runLinear(s[0], s[1], s[2], DType.BFLOAT16, DType.FLOAT32, BF16_IN_TOL, cublas);
            runLinear(s[0], s[1], s[2], DType.BFLOAT16, DType.BFLOAT16, BF16_OUT_TOL, cublas);
        }
    }

    @Test
    void linearRunsOnTheBoundStream() {
        try (CudaStream stream = CudaStream.create()) {
            cublas.setStream(stream);
            assertSame(stream, cublas.stream());
            runLinear(65, 33, 129, DType.BFLOAT16, DType.FLOAT32, BF16_IN_TOL, cublas);
            cublas.setStream(CudaStream.legacyDefault()); // before the stream is destroyed
        }
    }

    @Test
    void aClosedBoundStreamIsAnIllegalStateException() {
        try (DeviceBuffer x = DeviceBuffer.allocate(6, DType.FLOAT32); DeviceBuffer w = DeviceBuffer.allocate(6, DType.FLOAT32);
             DeviceBuffer y = DeviceBuffer.allocate(4, DType.FLOAT32)) {
            CudaStream stream = CudaStream.create();
            cublas.setStream(stream);
            stream.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> cublas.linear(x, w, y, 2, 3, 2));
            assertTrue(e.getMessage().contains("CudaStream"), e.getMessage());
            cublas.setStream(CudaStream.legacyDefault());
            cublas.linear(x, w, y, 2, 3, 2); // usable again
            Cuda.deviceSynchronize();
        }
    }

    @Test
    void argumentErrorsThatNeedRealMemory() {
        try (DeviceBuffer a = DeviceBuffer.allocate(0, DType.FLOAT32); DeviceBuffer c = DeviceBuffer.allocate(4, DType.FLOAT32);
             DeviceBuffer x = DeviceBuffer.allocate(12, DType.FLOAT32)) {
            IllegalArgumentException k0 = assertThrows(IllegalArgumentException.class,
                    () -> cublas.gemmEx(N, N, 2, 2, 0, 1f, a, 2, a, 1, 0f, c, 2));
            assertEquals("gemmEx: k = 0 (an empty sum, C = beta * C) is not supported for a non-empty C (m=2, n=2):"
                    + " scale C separately", k0.getMessage());
            IllegalArgumentException in0 = assertThrows(IllegalArgumentException.class,
                    () -> cublas.linear(a, a, c, 2, 0, 2));
            assertTrue(in0.getMessage().startsWith("linear: in = 0"), in0.getMessage());
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                    () -> cublas.linear(x.slice(0, 6), x.slice(6, 6), x.slice(4, 4), 2, 3, 2));
            assertTrue(overlap.getMessage().startsWith("linear: y overlaps x"), overlap.getMessage());
            DeviceBuffer closed = DeviceBuffer.allocate(4, DType.FLOAT32);
            closed.close();
            assertThrows(IllegalStateException.class, () -> cublas.linear(x.slice(0, 4), x.slice(4, 4), closed, 2, 2, 2));
        }
    }

    @Test
    void aCublasErrorIsACublasExceptionNamingTheCall() {
        // The Java API never passes m < 0; the raw binding does, and cuBLAS documents CUBLAS_STATUS_INVALID_VALUE for it.
        try (DeviceBuffer m = DeviceBuffer.allocate(4, DType.FLOAT32); Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
            int f32 = cublas_h.CUDA_R_32F();
            int status = cublas_h.cublasGemmEx(cublas.handle(), cublas_h.CUBLAS_OP_N(), cublas_h.CUBLAS_OP_N(), -1, 1, 1,
                    one, m.address(), f32, 1, m.address(), f32, 1, one, m.address(), f32, 1,
                    cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT());
            CublasException e = assertThrows(CublasException.class, () -> Cublas.check("cublasGemmEx", status));
            System.out.println("[cublas gpu] " + e.getMessage());
            assertEquals("cublasGemmEx", e.call());
            assertEquals(cublas_h.CUBLAS_STATUS_INVALID_VALUE(), e.status());
            assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.statusName());
            assertFalse(e.statusString().isBlank());
            assertTrue(e.getMessage().startsWith("cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE (7): "), e.getMessage());
        }
    }

    @Test
    void aClosedHandleIsAnIllegalStateExceptionAndCloseIsIdempotent() {
        Cublas other = Cublas.create();
        other.close();
        other.close();
        assertTrue(other.isClosed());
        try (DeviceBuffer x = DeviceBuffer.allocate(4, DType.FLOAT32)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, other::version);
            assertTrue(e.getMessage().contains("Cublas") && e.getMessage().contains("closed"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> other.setStream(CudaStream.legacyDefault()));
            assertThrows(IllegalStateException.class, () -> other.linear(x.slice(0, 1), x.slice(1, 1), x.slice(2, 1), 1, 1, 1));
            assertThrows(IllegalStateException.class,
                    () -> other.gemmEx(N, N, 1, 1, 1, 1f, x.slice(0, 1), 1, x.slice(1, 1), 1, 0f, x.slice(2, 1), 1));
        }
    }

    // ---- helpers ----

    /** One gemmEx on fresh inputs, against GemmReference.gemm; checks C's padding rows stay NaN. */
    private void runGemm(Cublas.Operation ta, Cublas.Operation tb, int m, int n, int k, int pad, DType in, DType out,
                         float alpha, float beta, double tol) {
        long seed = nextSeed++;
        String label = "gemmEx " + ta + tb + " " + m + "x" + n + "x" + k + " pad " + pad + " " + in + "->" + out
                + " alpha " + alpha + " beta " + beta + " seed " + seed;
        int lda = Math.max(1, ta == N ? m : k) + pad, ldb = Math.max(1, tb == N ? k : n) + pad, ldc = Math.max(1, m) + pad;
        Random r = new Random(seed);
        float[] a = random(r, lda * (ta == N ? k : m), in);
        float[] b = random(r, ldb * (tb == N ? n : k), in);
        float[] c0 = random(r, ldc * n, out);
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < ldc; i++) {
                if (i >= m || beta == 0) c0[i + j * ldc] = Float.NaN;
            }
        }
        double[] expected = GemmReference.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc);
        try (DeviceBuffer da = upload(a, in); DeviceBuffer db = upload(b, in); DeviceBuffer dc = upload(c0, out)) {
            cublas.gemmEx(ta, tb, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc);
            float[] got = download(dc);
            Compare.assertAllClose(GemmReference.compact(got, m, n, ldc), expected, tol, label);
            for (int j = 0; j < n; j++) {
                for (int i = m; i < ldc; i++) {
                    assertTrue(Float.isNaN(got[i + j * ldc]), label + ": padding C[" + i + ", " + j + "] was written");
                }
            }
        }
        System.out.println("[cublas gpu] ok: " + label);
    }

    /** One linear on fresh inputs, against GemmReference.linear; y is NaN before the call. */
    private void runLinear(int rows, int in, int out, DType inType, DType outType, double tol, Cublas handle) {
        long seed = nextSeed++;
        String label = "linear " + rows + "x" + in + " -> " + out + " " + inType + "->" + outType + " seed " + seed;
        Random r = new Random(seed);
        float[] x = random(r, rows * in, inType);
        float[] w = random(r, out * in, inType);
        float[] poison = new float[rows * out];
        Arrays.fill(poison, Float.NaN);
        double[] expected = GemmReference.linear(x, w, rows, in, out);
        try (DeviceBuffer dx = upload(x, inType); DeviceBuffer dw = upload(w, inType); DeviceBuffer dy = upload(poison, outType)) {
            Cuda.deviceSynchronize(); // pageable uploads are ordered with the legacy stream only, not a non-blocking one
            handle.linear(dx, dw, dy, rows, in, out);
            handle.stream().synchronize();
            double[] got = GemmReference.widen(download(dy));
            Compare.assertAllClose(got, expected, tol, label);
        }
        System.out.println("[cublas gpu] ok: " + label);
    }

    /** Uniform [-1, 1), rounded to bf16 when {@code dtype} is BFLOAT16 (so the reference sees the device's values). */
    private static float[] random(Random r, int count, DType dtype) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = r.nextFloat() * 2 - 1;
        return dtype == DType.BFLOAT16 ? BFloat16.roundTrip(v) : v;
    }

    private static DeviceBuffer upload(float[] values, DType dtype) {
        DeviceBuffer d = DeviceBuffer.allocate(values.length, dtype);
        if (dtype == DType.BFLOAT16) d.copyFrom(BFloat16.fromFloats(values));
        else d.copyFrom(values);
        return d;
    }

    private static float[] download(DeviceBuffer d) {
        if (d.dtype() == DType.BFLOAT16) {
            short[] bits = new short[(int) d.elementCount()];
            d.copyTo(bits);
            return BFloat16.toFloats(bits);
        }
        float[] v = new float[(int) d.elementCount()];
        d.copyTo(v);
        return v;
    }
}
