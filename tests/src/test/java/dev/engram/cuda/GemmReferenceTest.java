package dev.engram.cuda;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.engram.cuda.Cublas.Operation.N;
import static dev.engram.cuda.Cublas.Operation.T;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The CPU yardstick of CublasGpuTest, checked without a GPU: a hand-computed product under every transpose
 * combination, and that Cublas.linear's column-major mapping, gemm(T, N, m = out, n = rows, k = in, A = w,
 * lda = in, B = x, ldb = in, ldc = out), is the row-major y = x * w^T of torch's Linear.
 */
class GemmReferenceTest {
    // A = [[1, 2, 3], [4, 5, 6]] (2 x 3), B = [[7, 8], [9, 10], [11, 12]] (3 x 2), A * B = [[58, 64], [139, 154]].
    private static final double[] AB = {58, 139, 64, 154}; // column-major

    @Test
    void everyTransposeCombinationGivesTheSameProduct() {
        float[] a = {1, 4, 2, 5, 3, 6};            // A as stored, 2 x 3, lda 2
        float[] aT = {1, 2, 3, 4, 5, 6};           // A^T as stored, 3 x 2, lda 3
        float[] b = {7, 9, 11, 8, 10, 12};         // B as stored, 3 x 2, ldb 3
        float[] bT = {7, 8, 9, 10, 11, 12};        // B^T as stored, 2 x 3, ldb 2
        assertArrayEquals(AB, GemmReference.gemm(N, N, 2, 2, 3, 1, a, 2, b, 3, 0, null, 2));
        assertArrayEquals(AB, GemmReference.gemm(T, N, 2, 2, 3, 1, aT, 3, b, 3, 0, null, 2));
        assertArrayEquals(AB, GemmReference.gemm(N, T, 2, 2, 3, 1, a, 2, bT, 2, 0, null, 2));
        assertArrayEquals(AB, GemmReference.gemm(T, T, 2, 2, 3, 1, aT, 3, bT, 2, 0, null, 2));
        float[] c0 = {1, 2, Float.NaN, 3, 4, Float.NaN}; // ldc 3: the third row is padding, never read
        assertArrayEquals(new double[] {2 * 58 - 1, 2 * 139 - 2, 2 * 64 - 3, 2 * 154 - 4},
                GemmReference.gemm(N, N, 2, 2, 3, 2, a, 2, b, 3, -1, c0, 3));
    }

    @Test
    void linearIsTheTransposedColumnMajorGemm() {
        Random r = new Random(7);
        int rows = 5, in = 4, out = 3;
        float[] x = new float[rows * in];
        float[] w = new float[out * in];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
        for (int i = 0; i < w.length; i++) w[i] = r.nextFloat();
        assertArrayEquals(GemmReference.linear(x, w, rows, in, out),
                GemmReference.gemm(T, N, out, rows, in, 1, w, in, x, in, 0, null, out), 1e-12);
    }
}
