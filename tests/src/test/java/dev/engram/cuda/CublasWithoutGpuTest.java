package dev.engram.cuda;

import dev.engram.bindings.cublas_h;
import dev.engram.NativeLibraryException;
import dev.engram.testing.ForkedJvm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.engram.cuda.Cublas.Operation.N;
import static dev.engram.cuda.Cublas.Operation.T;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cuBLAS checks that need neither a GPU nor cuBLAS, and behave the same where both exist: loading failures
 * are a {@link NativeLibraryException} naming where libcublas was looked for (in fresh JVMs, since loading
 * is tried once per JVM), the exception's format, and the GEMM argument checks. The checks use zero-element
 * buffers (no CUDA call, NULL address), so every check up to the first one that needs real memory is
 * reachable here; the rest are in CublasGpuTest.
 */
class CublasWithoutGpuTest {
    private static final List<String> SETTINGS_ENV = List.of("ENGRAM_CUBLAS_PATH", "ENGRAM_CUDA_LIBDIR");
    private static final String HINT = "; set -Dengram.cublas.path (or ENGRAM_CUBLAS_PATH) to the libcublas.so.13 file,"
            + " or -Dengram.cuda.libdir (or ENGRAM_CUDA_LIBDIR) to the directory holding it";

    private long liveBefore;

    @BeforeEach
    void recordLiveBytes() {
        liveBefore = DeviceBuffer.liveBytes();
    }

    @AfterEach
    void nothingAllocated() {
        assertEquals(liveBefore, DeviceBuffer.liveBytes(), "live device bytes after the test");
    }

    private static Map<String, String> probe(String... jvmArgs) throws Exception {
        return ForkedJvm.run(CublasProbeMain.class, List.of(Cublas.class, cublas_h.class), SETTINGS_ENV, jvmArgs);
    }

    @Test
    void aMissingCublasPathIsAClearExceptionEveryTime() throws Exception {
        Map<String, String> out = probe("-Dengram.cublas.path=/nonexistent/libcublas.so.13");
        String expected = "NativeLibraryException: cuBLAS unavailable: system property engram.cublas.path="
                + "/nonexistent/libcublas.so.13 does not name an existing file" + HINT;
        assertEquals(expected, out.get("create1"), out::toString);
        assertEquals(expected, out.get("create2"), out::toString); // the outcome of the one attempt is kept
    }

    @Test
    void aLibdirWithoutCublasListsWhereItLooked(@TempDir Path empty) throws Exception {
        Map<String, String> out = probe("-Dengram.cuda.libdir=" + empty);
        assertEquals("NativeLibraryException: cuBLAS unavailable: libcublas.so.13 not found (looked in: " + empty
                + " (engram.cuda.libdir/ENGRAM_CUDA_LIBDIR))" + HINT, out.get("create1"), out::toString);
    }

    @Test
    void createEitherWorksOrSaysWhy() {
        try (Cublas cublas = Cublas.create()) {
            System.out.println("[cublas] handle created here: " + cublas + ", version " + cublas.version());
        } catch (NativeLibraryException e) {
            assertTrue(e.getMessage().startsWith("cuBLAS unavailable: "), e.getMessage());
            assertTrue(e.getMessage().endsWith(HINT), e.getMessage());
            System.out.println("[cublas] no cuBLAS here: " + e.getMessage());
        } catch (CublasException e) {
            assertEquals("cublasCreate_v2", e.call(), e.getMessage()); // cuBLAS present, no usable GPU
            System.out.println("[cublas] cuBLAS but no GPU here: " + e.getMessage());
        }
    }

    @Test
    void exceptionFormatAndSuccessNeedNoCublas() {
        CublasException e = new CublasException("cublasGemmEx", 7, "CUBLAS_STATUS_INVALID_VALUE",
                "an invalid value was used as an argument");
        assertEquals("cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE (7): an invalid value was used as an argument",
                e.getMessage());
        assertEquals("cublasGemmEx", e.call());
        assertEquals(7, e.status());
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.statusName());
        Cublas.check("cublasGemmEx", cublas_h.CUBLAS_STATUS_SUCCESS()); // success: no library needed
        assertEquals(cublas_h.CUBLAS_OP_N(), N.code());
        assertEquals(cublas_h.CUBLAS_OP_T(), T.code());
    }

    // ---- gemmEx checks ----

    private static DeviceBuffer empty(DType dtype) {
        return DeviceBuffer.allocate(0, dtype);
    }

    private static final DeviceBuffer F = empty(DType.FLOAT32);
    private static final DeviceBuffer BF = empty(DType.BFLOAT16);

    private static void assertGemmRejected(String message, Cublas.Operation ta, Cublas.Operation tb, int m, int n, int k,
                                           DeviceArray a, int lda, DeviceArray b, int ldb, DeviceArray c, int ldc) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GemmChecks.gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc));
        assertEquals(message, e.getMessage());
    }

    @Test
    void emptyProductsPassWithoutWork() {
        assertFalse(GemmChecks.gemm(N, N, 0, 0, 0, F, 1, F, 1, F, 1));
        assertFalse(GemmChecks.gemm(N, N, 0, 4, 0, F, 1, F, 1, F, 1));
        assertFalse(GemmChecks.gemm(N, T, 3, 0, 0, BF, 3, BF, 1, F, 3));
        assertFalse(GemmChecks.gemm(T, N, 3, 0, 0, BF, 1, BF, 1, BF, 3));
        assertFalse(GemmChecks.linear(F, F, F, 0, 0, 0));
        assertFalse(GemmChecks.linear(BF, BF, F, 0, 0, 7));
        assertFalse(GemmChecks.linear(BF, BF, BF, 5, 0, 0));
    }

    @Test
    void sizesMustBeNonNegative() {
        assertGemmRejected("gemmEx: m, n and k must be >= 0, got m=-1, n=0, k=0", N, N, -1, 0, 0, F, 1, F, 1, F, 1);
        assertGemmRejected("gemmEx: m, n and k must be >= 0, got m=0, n=0, k=-2", N, N, 0, 0, -2, F, 1, F, 1, F, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmChecks.linear(F, F, F, 0, -1, 0));
        assertEquals("linear: rows, in and out must be >= 0, got rows=0, in=-1, out=0", e.getMessage());
    }

    @Test
    void dtypesMustBeSupportedAndConsistent() {
        try (DeviceBuffer i32 = empty(DType.INT32); DeviceBuffer i64 = empty(DType.INT64)) {
            assertGemmRejected("gemmEx: a must be FLOAT32 or BFLOAT16, got " + i32, N, N, 0, 0, 0, i32, 1, i32, 1, F, 1);
            assertGemmRejected("gemmEx: b must have a's dtype BFLOAT16, got " + F, N, N, 0, 0, 0, BF, 1, F, 1, F, 1);
            assertGemmRejected("gemmEx: c must be FLOAT32 or a's dtype FLOAT32, got " + BF, N, N, 0, 0, 0, F, 1, F, 1, BF, 1);
            assertGemmRejected("gemmEx: c must be FLOAT32 or a's dtype BFLOAT16, got " + i64, N, N, 0, 0, 0, BF, 1, BF, 1, i64, 1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GemmChecks.linear(F, BF, F, 0, 0, 0));
            assertEquals("linear: w must have x's dtype FLOAT32, got " + BF, e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> GemmChecks.linear(i64, i64, F, 0, 0, 0));
            assertEquals("linear: x must be FLOAT32 or BFLOAT16, got " + i64, e.getMessage());
        }
    }

    @Test
    void leadingDimensionsFollowCublasRules() {
        assertGemmRejected("gemmEx: lda must be >= max(1, m) = 3 for transA = N, got lda=2", N, N, 3, 0, 2, F, 2, F, 2, F, 3);
        assertGemmRejected("gemmEx: lda must be >= max(1, k) = 2 for transA = T, got lda=1", T, N, 3, 0, 2, F, 1, F, 2, F, 3);
        assertGemmRejected("gemmEx: lda must be >= max(1, m) = 1 for transA = N, got lda=0", N, N, 0, 0, 0, F, 0, F, 1, F, 1);
        assertGemmRejected("gemmEx: ldb must be >= max(1, k) = 2 for transB = N, got ldb=1", N, N, 0, 0, 2, F, 1, F, 1, F, 1);
        assertGemmRejected("gemmEx: ldb must be >= max(1, n) = 3 for transB = T, got ldb=2", N, T, 0, 3, 0, F, 1, F, 2, F, 1);
        assertGemmRejected("gemmEx: ldc must be >= max(1, m) = 1, got ldc=0", N, N, 0, 0, 0, F, 1, F, 1, F, 0);
        assertGemmRejected("gemmEx: ldc must be >= max(1, m) = 4, got ldc=3", N, N, 4, 0, 0, F, 4, F, 1, F, 3);
    }

    @Test
    void arraysMustHoldTheStoredMatrix() {
        // transA = T: A is stored k x m = 3 x 2 with lda 3, so it needs (2 - 1) * 3 + 3 = 6 elements.
        assertGemmRejected("gemmEx: a holds 0 elements, but its 3 x 2 matrix with lda=3 needs (2 - 1) * 3 + 3 = 6 (" + F + ")",
                T, N, 2, 0, 3, F, 3, F, 3, F, 2);
        assertGemmRejected("gemmEx: b holds 0 elements, but its 2 x 5 matrix with ldb=4 needs (5 - 1) * 4 + 2 = 18 (" + F + ")",
                N, N, 0, 5, 2, F, 1, F, 4, F, 1);
        assertGemmRejected("gemmEx: c holds 0 elements, but its 2 x 2 matrix with ldc=2 needs (2 - 1) * 2 + 2 = 4 (" + F + ")",
                N, N, 2, 2, 0, F, 2, F, 1, F, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmChecks.linear(F, F, F, 2, 3, 0));
        assertEquals("linear: x holds 0 elements, needs rows * in = 2 * 3 = 6 (" + F + ")", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GemmChecks.linear(F, F, F, 0, 3, 4));
        assertEquals("linear: w holds 0 elements, needs out * in = 4 * 3 = 12 (" + F + ")", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GemmChecks.linear(F, F, F, 2, 0, 2));
        assertEquals("linear: y holds 0 elements, needs rows * out = 2 * 2 = 4 (" + F + ")", e.getMessage());
    }

    @Test
    void closedArraysAndNullsComeFirst() {
        DeviceBuffer closed = empty(DType.FLOAT32);
        closed.close();
        assertThrows(IllegalStateException.class, () -> GemmChecks.gemm(N, N, -1, 0, 0, F, 1, F, 1, closed, 1));
        assertThrows(IllegalStateException.class, () -> GemmChecks.linear(closed, F, F, -1, 0, 0));
        assertThrows(NullPointerException.class, () -> GemmChecks.gemm(null, N, 0, 0, 0, F, 1, F, 1, F, 1));
        assertThrows(NullPointerException.class, () -> GemmChecks.gemm(N, N, 0, 0, 0, F, 1, null, 1, F, 1));
        assertThrows(NullPointerException.class, () -> GemmChecks.linear(F, F, null, 0, 0, 0));
    }
}
