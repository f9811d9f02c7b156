package dev.engram.cuda;

import java.util.Objects;

/**
 * Every argument check of {@link Cublas#gemmEx} and {@link Cublas#linear}, in Java, before any native call:
 * a bad argument is an {@link IllegalArgumentException} naming it, never a cuBLAS error or a wild read.
 * Separate from {@link Cublas} so that the checks run (and are tested) without cuBLAS or a GPU.
 */
final class GemmChecks {
    private GemmChecks() {}

    /**
     * Checks a column-major {@code C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C} as cuBLAS
     * defines it. A is stored {@code lda x (transA == N ? k : m)}, B {@code ldb x (transB == N ? n : k)},
     * C {@code ldc x n}; an array must hold at least {@code (cols - 1) * ld + rows} elements.
     *
     * @return {@code false} when there is nothing to compute ({@code m == 0} or {@code n == 0})
     */
    static boolean gemm(Cublas.Operation transA, Cublas.Operation transB, int m, int n, int k,
                        DeviceArray a, int lda, DeviceArray b, int ldb, DeviceArray c, int ldc) {
        Objects.requireNonNull(transA, "transA");
        Objects.requireNonNull(transB, "transB");
        requireOpen(a, b, c);
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("gemmEx: m, n and k must be >= 0, got m=" + m + ", n=" + n + ", k=" + k);
        }
        requireDtypes("gemmEx", a, "a", b, "b", c, "c");
        boolean an = transA == Cublas.Operation.N;
        boolean bn = transB == Cublas.Operation.N;
        long needA = requireMatrix("a", a, an ? m : k, an ? k : m, lda, "lda", an ? "m" : "k", transA, "transA");
        long needB = requireMatrix("b", b, bn ? k : n, bn ? n : k, ldb, "ldb", bn ? "k" : "n", transB, "transB");
        long needC = requireMatrix("c", c, m, n, ldc, "ldc", "m", null, null);
        if (m == 0 || n == 0) {
            return false;
        }
        if (k == 0) {
            throw new IllegalArgumentException("gemmEx: k = 0 (an empty sum, C = beta * C) is not supported for a non-empty C"
                    + " (m=" + m + ", n=" + n + "): scale C separately");
        }
        requireDisjoint("gemmEx", c, needC, "c", a, needA, "a");
        requireDisjoint("gemmEx", c, needC, "c", b, needB, "b");
        return true;
    }

    /**
     * Checks {@code y[rows, out] = x[rows, in] * w[out, in]^T} (row-major, torch's {@code Linear} weight layout).
     *
     * @return {@code false} when there is nothing to compute ({@code rows == 0} or {@code out == 0})
     */
    static boolean linear(DeviceArray x, DeviceArray w, DeviceArray y, int rows, int in, int out) {
        requireOpen(x, w, y);
        if (rows < 0 || in < 0 || out < 0) {
            throw new IllegalArgumentException("linear: rows, in and out must be >= 0, got rows=" + rows + ", in=" + in
                    + ", out=" + out);
        }
        requireDtypes("linear", x, "x", w, "w", y, "y");
        long needX = requireCount("x", x, rows, in, "rows * in");
        long needW = requireCount("w", w, out, in, "out * in");
        long needY = requireCount("y", y, rows, out, "rows * out");
        if (rows == 0 || out == 0) {
            return false;
        }
        if (in == 0) {
            throw new IllegalArgumentException("linear: in = 0 (an empty sum) is not supported for a non-empty y"
                    + " (rows=" + rows + ", out=" + out + ")");
        }
        requireDisjoint("linear", y, needY, "y", x, needX, "x");
        requireDisjoint("linear", y, needY, "y", w, needW, "w");
        return true;
    }

    private static void requireOpen(DeviceArray p, DeviceArray q, DeviceArray r) {
        Objects.requireNonNull(p);
        Objects.requireNonNull(q);
        Objects.requireNonNull(r);
        // Liveness first: a closed buffer is an IllegalStateException whatever else is wrong.
        p.address();
        q.address();
        r.address();
    }

    /**
     * The types cublasGemmEx supports with CUBLAS_COMPUTE_32F that this API uses: A and B both FLOAT32 or both
     * BFLOAT16; C FLOAT32 or A's type (32F/32F/32F, 16BF/16BF/16BF, 16BF/16BF/32F).
     */
    private static void requireDtypes(String op, DeviceArray a, String aName, DeviceArray b, String bName,
                                      DeviceArray c, String cName) {
        if (a.dtype() != DType.FLOAT32 && a.dtype() != DType.BFLOAT16) {
            throw new IllegalArgumentException(op + ": " + aName + " must be FLOAT32 or BFLOAT16, got " + a);
        }
        if (b.dtype() != a.dtype()) {
            throw new IllegalArgumentException(op + ": " + bName + " must have " + aName + "'s dtype " + a.dtype()
                    + ", got " + b);
        }
        if (c.dtype() != DType.FLOAT32 && c.dtype() != a.dtype()) {
            throw new IllegalArgumentException(op + ": " + cName + " must be FLOAT32 or " + aName + "'s dtype "
                    + a.dtype() + ", got " + c);
        }
    }

    /** Checks {@code ld >= max(1, rows)} and the element count of a stored rows x cols matrix; returns that count. */
    private static long requireMatrix(String name, DeviceArray array, int rows, int cols, int ld, String ldName,
                                      String rowsName, Cublas.Operation op, String opName) {
        if (ld < Math.max(1, rows)) {
            throw new IllegalArgumentException("gemmEx: " + ldName + " must be >= max(1, " + rowsName + ") = "
                    + Math.max(1, rows) + (op == null ? "" : " for " + opName + " = " + op) + ", got " + ldName + "=" + ld);
        }
        long need = rows == 0 || cols == 0 ? 0 : (long) (cols - 1) * ld + rows;
        if (array.elementCount() < need) {
            throw new IllegalArgumentException("gemmEx: " + name + " holds " + array.elementCount() + " elements, but its "
                    + rows + " x " + cols + " matrix with " + ldName + "=" + ld + " needs (" + cols + " - 1) * " + ld
                    + " + " + rows + " = " + need + " (" + array + ")");
        }
        return need;
    }

    private static long requireCount(String name, DeviceArray array, int rows, int cols, String formula) {
        long need = (long) rows * cols;
        if (array.elementCount() < need) {
            throw new IllegalArgumentException("linear: " + name + " holds " + array.elementCount() + " elements, needs "
                    + formula + " = " + rows + " * " + cols + " = " + need + " (" + array + ")");
        }
        return need;
    }

    /** cuBLAS does not compute in place: the output's elements must not share memory with an input's. */
    private static void requireDisjoint(String op, DeviceArray out, long outElements, String outName,
                                        DeviceArray in, long inElements, String inName) {
        long o0 = out.addressValue(), o1 = o0 + outElements * out.dtype().byteSize();
        long i0 = in.addressValue(), i1 = i0 + inElements * in.dtype().byteSize();
        if (o0 < i1 && i0 < o1) {
            throw new IllegalArgumentException(op + ": " + outName + " overlaps " + inName
                    + " (cuBLAS does not compute in place): " + out + ", " + in);
        }
    }
}
