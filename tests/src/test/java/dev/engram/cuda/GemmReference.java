package dev.engram.cuda;

import java.util.stream.IntStream;

/** Plain double-precision GEMM and Linear on the CPU: the yardstick for {@link Cublas} in CublasGpuTest. */
final class GemmReference {
    private GemmReference() {}

    /**
     * cuBLAS's column-major {@code C = alpha * op(A) * op(B) + beta * C0}, returned compact: element
     * {@code (i, j)} at {@code i + j * m}. {@code c0} (stored with {@code ldc}) is only read when {@code beta != 0}.
     */
    static double[] gemm(Cublas.Operation ta, Cublas.Operation tb, int m, int n, int k, double alpha,
                         float[] a, int lda, float[] b, int ldb, double beta, float[] c0, int ldc) {
        double[] out = new double[m * n];
        IntStream.range(0, n).parallel().forEach(j -> {
            for (int i = 0; i < m; i++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    double av = ta == Cublas.Operation.N ? a[i + p * lda] : a[p + i * lda];
                    double bv = tb == Cublas.Operation.N ? b[p + j * ldb] : b[j + p * ldb];
                    sum += av * bv;
                }
                out[i + j * m] = alpha * sum + (beta == 0 ? 0 : beta * c0[i + j * ldc]);
            }
        });
        return out;
    }

    /** torch's {@code Linear} without bias: {@code y[r, o] = sum_i x[r, in] * w[o, i]}, row-major. */
    static double[] linear(float[] x, float[] w, int rows, int in, int out) {
        double[] y = new double[rows * out];
        IntStream.range(0, rows).parallel().forEach(r -> {
            for (int o = 0; o < out; o++) {
                double sum = 0;
                for (int i = 0; i < in; i++) {
                    sum += (double) x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = sum;
            }
        });
        return y;
    }

    /** The compact {@code m x n} part of a column-major matrix stored with leading dimension {@code ld}. */
    static double[] compact(float[] stored, int m, int n, int ld) {
        double[] out = new double[m * n];
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) out[i + j * m] = stored[i + j * ld];
        }
        return out;
    }

    /** {@code values} widened to double. */
    static double[] widen(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) out[i] = values[i];
        return out;
    }
}
