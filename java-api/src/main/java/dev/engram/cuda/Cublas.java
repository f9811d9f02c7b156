package dev.engram.cuda;

import dev.engram.bindings.cublas_h;
import dev.engram.nativelib.NativeLibraryLoader;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A cuBLAS handle ({@code cublasHandle_t}) and the GEMMs the Engram layer needs, called through the
 * {@code cublas_h} bindings: libengram never links cuBLAS. {@code libcublas.so.13} is loaded on the first
 * {@link #create()} (property {@code engram.cublas.path} or {@code engram.cuda.libdir}, else the CUDA library
 * search), never in a static initializer; when it is missing, that call throws a
 * {@link dev.engram.NativeLibraryException} naming where it was looked for.
 *
 * <p>cuBLAS is column-major: {@link #gemmEx} takes cuBLAS's own arguments. {@link #linear} is the row-major
 * {@code y = x * w^T} of torch's {@code Linear} (no bias), which is how the layer's projections are called.
 * Both compute in fp32 ({@code CUBLAS_COMPUTE_32F}: no TF32 or other reduced-precision inputs, so fp32
 * results match a double-precision reference to fp32 rounding) with {@code CUBLAS_GEMM_DEFAULT}; alpha and
 * beta are fp32 host scalars (cuBLAS's default host pointer mode). Calls are queued on the handle's stream
 * ({@link #setStream}) and return without synchronizing.
 *
 * <p>Every argument is checked in Java before any native call ({@link IllegalArgumentException}); use of a
 * closed handle, array or bound stream is an {@link IllegalStateException}; a cuBLAS error status is a
 * {@link CublasException} from {@link #check(String, int)}. A handle is not thread-safe: use one per thread
 * (or synchronize), as cuBLAS advises. Close it; nothing is released by the garbage collector.
 */
public final class Cublas implements AutoCloseable {
    /** Whether cuBLAS uses a matrix as stored or its transpose ({@code cublasOperation_t}). */
    public enum Operation {
        /** As stored ({@code CUBLAS_OP_N}). */
        N,
        /** Transposed ({@code CUBLAS_OP_T}). */
        T;

        int code() {
            return this == N ? cublas_h.CUBLAS_OP_N() : cublas_h.CUBLAS_OP_T();
        }
    }

    /** alpha = 1 and beta = 0 of {@link #linear}, in native memory once: no allocation per GEMM. */
    private static final MemorySegment ONE_ZERO = Arena.global().allocateFrom(ValueLayout.JAVA_FLOAT, 1f, 0f);

    private final MemorySegment handle;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile CudaStream stream = CudaStream.legacyDefault();
    private volatile DeviceArray workspace; // re-applied after every setStream, which resets it

    private Cublas(MemorySegment handle) {
        this.handle = handle;
    }

    /**
     * Creates a handle on the current device ({@code cublasCreate_v2}) in cuBLAS's default math mode
     * ({@code CUBLAS_DEFAULT_MATH}, set explicitly), bound to the legacy default stream.
     *
     * @return the new handle
     * @throws dev.engram.NativeLibraryException when {@code libcublas.so.13} cannot be found or loaded
     *         (naming where it was looked for)
     * @throws CublasException when cuBLAS cannot create a handle (e.g. no GPU: {@code CUBLAS_STATUS_NOT_INITIALIZED})
     */
    public static Cublas create() {
        NativeLibraryLoader.requireCublas();
        MemorySegment h;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check("cublasCreate_v2", cublas_h.cublasCreate_v2(out));
            h = out.get(ValueLayout.ADDRESS, 0);
        }
        Cublas cublas = new Cublas(h);
        try {
            check("cublasSetMathMode", cublas_h.cublasSetMathMode(h, cublas_h.CUBLAS_DEFAULT_MATH()));
        } catch (RuntimeException e) {
            cublas_h.cublasDestroy_v2(h); // the handle is unusable; its destroy status adds nothing
            throw e;
        }
        return cublas;
    }

    /**
     * The one place a cuBLAS status is checked.
     *
     * @param call   the cuBLAS function that returned {@code status}, e.g. {@code "cublasGemmEx"}
     * @param status its {@code cublasStatus_t}
     * @throws CublasException unless {@code status} is {@code CUBLAS_STATUS_SUCCESS}, with the status's name and text
     */
    public static void check(String call, int status) {
        if (status == cublas_h.CUBLAS_STATUS_SUCCESS()) {
            return;
        }
        NativeLibraryLoader.requireCublas(); // loaded already when a cuBLAS call produced the status
        throw new CublasException(call, status, Cuda.cString(cublas_h.cublasGetStatusName(status)),
                Cuda.cString(cublas_h.cublasGetStatusString(status)));
    }

    /**
     * Queues this handle's later calls on {@code stream} ({@code cublasSetStream_v2}). The stream must stay
     * open while it is bound: calls on a handle whose stream was closed throw {@link IllegalStateException}.
     *
     * @param stream the stream, e.g. {@link CudaStream#legacyDefault()}
     * @throws IllegalStateException when this handle or the stream is closed
     */
    public void setStream(CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        MemorySegment h = handle();
        check("cublasSetStream_v2", cublas_h.cublasSetStream_v2(h, stream.handle()));
        this.stream = stream;
        DeviceArray ws = workspace;
        if (ws != null) applyWorkspace(h, ws); // cublasSetStream resets the workspace to cuBLAS's own pool
    }

    /**
     * Gives cuBLAS a workspace of the caller's ({@code cublasSetWorkspace_v2}) instead of its internal pool, kept across
     * {@link #setStream} (which would reset it). Needed before a GEMM is captured into a CUDA graph ({@link CudaGraph}):
     * cuBLAS then allocates nothing during the capture. NVIDIA recommends 32 MiB on Hopper and 4 MiB before it. The
     * array must stay open while the handle uses it; {@code null} returns to cuBLAS's own pool.
     *
     * @param workspace device memory, 256-byte aligned (any {@link DeviceBuffer} is), or {@code null}
     * @throws IllegalArgumentException when the workspace is not 256-byte aligned
     * @throws IllegalStateException    when this handle or the array is closed
     * @throws CublasException          when cuBLAS rejects it
     */
    public void setWorkspace(DeviceArray workspace) {
        MemorySegment h = handle();
        if (workspace == null) {
            check("cublasSetWorkspace_v2", cublas_h.cublasSetWorkspace_v2(h, MemorySegment.NULL, 0L));
            this.workspace = null;
            return;
        }
        if (workspace.address().address() % 256 != 0) {
            throw new IllegalArgumentException("cuBLAS workspace must be 256-byte aligned, got 0x"
                    + Long.toHexString(workspace.address().address()));
        }
        applyWorkspace(h, workspace);
        this.workspace = workspace;
    }

    /** {@return the workspace given by {@link #setWorkspace}, or {@code null} for cuBLAS's own pool} */
    public DeviceArray workspace() {
        return workspace;
    }

    private static void applyWorkspace(MemorySegment h, DeviceArray ws) {
        check("cublasSetWorkspace_v2", cublas_h.cublasSetWorkspace_v2(h, ws.address(), ws.byteSize()));
    }

    /** {@return the stream this handle's calls are queued on} */
    public CudaStream stream() {
        return stream;
    }

    /**
     * {@return the cuBLAS version, as {@code cublasGetVersion_v2} reports it (the headers of cuBLAS 12 and 13
     * define {@code CUBLAS_VERSION} as {@code major * 10000 + minor * 100 + patch})}
     * @throws IllegalStateException when this handle is closed
     */
    public int version() {
        MemorySegment h = handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("cublasGetVersion_v2", cublas_h.cublasGetVersion_v2(h, out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** The handle's {@code cublasMath_t} ({@code cublasGetMathMode}); tests check that no TF32 is enabled. */
    int mathMode() {
        MemorySegment h = handle();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("cublasGetMathMode", cublas_h.cublasGetMathMode(h, out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * Queues {@code C = alpha * op(A) * op(B) + beta * C} ({@code cublasGemmEx}), column-major as in cuBLAS:
     * {@code op(A)} is {@code m x k}, {@code op(B)} is {@code k x n}, {@code C} is {@code m x n}. A is stored
     * {@code lda x (transA == N ? k : m)} with {@code lda >= max(1, transA == N ? m : k)}, B is stored
     * {@code ldb x (transB == N ? n : k)} with {@code ldb >= max(1, transB == N ? k : n)}, C is stored
     * {@code ldc x n} with {@code ldc >= max(1, m)}; each array must hold at least {@code (cols - 1) * ld + rows}
     * elements. Types: A and B both FLOAT32 or both BFLOAT16; C FLOAT32 or A's type. Accumulation is fp32
     * ({@code CUBLAS_COMPUTE_32F}); a BFLOAT16 C is rounded from fp32 once cuBLAS is done.
     *
     * <p>{@code m == 0} or {@code n == 0}: nothing to do, no native call. {@code k == 0} with a non-empty C is
     * rejected: BLAS defines it as {@code C = beta * C}, but that case is not passed to cuBLAS here (zero-size
     * A and B have no device address; PyTorch, too, handles it without cuBLAS). C must not overlap A or B.
     *
     * @param transA whether A is used as stored or transposed
     * @param transB whether B is used as stored or transposed
     * @param m      rows of op(A) and C, {@code >= 0}
     * @param n      columns of op(B) and C, {@code >= 0}
     * @param k      columns of op(A), rows of op(B), {@code >= 0}
     * @param alpha  scale of the product
     * @param a      A's device memory
     * @param lda    leading dimension of A
     * @param b      B's device memory
     * @param ldb    leading dimension of B
     * @param beta   scale of C's old contents ({@code 0}: C is only written, so it may hold anything, even NaN)
     * @param c      C's device memory
     * @param ldc    leading dimension of C
     * @throws IllegalArgumentException for a negative size, a too-small leading dimension or array, an
     *         unsupported or mismatched dtype, {@code k == 0} with a non-empty C, or C overlapping A or B
     * @throws IllegalStateException    when this handle, an array or the bound stream is closed
     * @throws CublasException          when cuBLAS rejects the call
     */
    public void gemmEx(Operation transA, Operation transB, int m, int n, int k, float alpha,
                       DeviceArray a, int lda, DeviceArray b, int ldb, float beta, DeviceArray c, int ldc) {
        MemorySegment h = handle();
        if (!GemmChecks.gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)) {
            return;
        }
        stream.handle(); // a closed bound stream is an IllegalStateException, not a cuBLAS call on a dead stream
        int abType = cudaDataType(a.dtype());
        int cType = cudaDataType(c.dtype());
        try (Arena arena = Arena.ofConfined()) {
            // Host pointer mode: cuBLAS reads alpha and beta before cublasGemmEx returns.
            MemorySegment alphaHost = arena.allocateFrom(ValueLayout.JAVA_FLOAT, alpha);
            MemorySegment betaHost = arena.allocateFrom(ValueLayout.JAVA_FLOAT, beta);
            check("cublasGemmEx", cublas_h.cublasGemmEx(h, transA.code(), transB.code(), m, n, k,
                    alphaHost, a.address(), abType, lda, b.address(), abType, ldb,
                    betaHost, c.address(), cType, ldc,
                    cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT()));
        }
    }

    /**
     * Queues {@code y = x * w^T}, row-major: {@code y[r, o] = sum_i x[r, i] * w[o, i]} for {@code x[rows, in]},
     * {@code w[out, in]} (torch's {@code Linear} weight as stored) and {@code y[rows, out]}; torch's
     * {@code Linear} without bias. In cuBLAS's column-major terms this is
     * {@code gemmEx(T, N, m = out, n = rows, k = in, A = w, lda = in, B = x, ldb = in, C = y, ldc = out)}, alpha 1,
     * beta 0 (y's old contents are ignored). Types and fp32 accumulation as in {@link #gemmEx}.
     *
     * @param x    {@code [rows, in]}, FLOAT32 or BFLOAT16, at least {@code rows * in} elements
     * @param w    {@code [out, in]}, x's dtype, at least {@code out * in} elements
     * @param y    {@code [rows, out]}, FLOAT32 or x's dtype, at least {@code rows * out} elements; must not overlap x or w
     * @param rows rows of x and y, {@code >= 0}
     * @param in   input features, {@code >= 1} unless y is empty
     * @param out  output features, {@code >= 0}
     * @throws IllegalArgumentException for a negative size, a too-small array, an unsupported or mismatched dtype,
     *         {@code in == 0} with a non-empty y, or y overlapping x or w
     * @throws IllegalStateException    when this handle, an array or the bound stream is closed
     * @throws CublasException          when cuBLAS rejects the call
     */
    public void linear(DeviceArray x, DeviceArray w, DeviceArray y, int rows, int in, int out) {
        handle();
        if (!GemmChecks.linear(x, w, y, rows, in, out)) {
            return;
        }
        MemorySegment h = handle();
        stream.handle(); // a closed bound stream is an IllegalStateException, not a cuBLAS call on a dead stream
        int type = cudaDataType(x.dtype());
        check("cublasGemmEx", cublas_h.cublasGemmEx(h, Operation.T.code(), Operation.N.code(), out, rows, in,
                ONE_ZERO, w.address(), type, in, x.address(), type, in,
                ONE_ZERO.asSlice(4), y.address(), cudaDataType(y.dtype()), out,
                cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT()));
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Destroys the handle ({@code cublasDestroy_v2}, which waits for the device's pending work); later calls
     * do nothing.
     *
     * @throws CublasException when cuBLAS reports an error (the handle counts as closed anyway)
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            check("cublasDestroy_v2", cublas_h.cublasDestroy_v2(handle));
        }
    }

    /** The native handle, for calls through {@code cublas_h}; throws {@link IllegalStateException} after close. */
    MemorySegment handle() {
        if (closed.get()) {
            throw new IllegalStateException(this + " is closed");
        }
        return handle;
    }

    private static int cudaDataType(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> cublas_h.CUDA_R_32F();
            case BFLOAT16 -> cublas_h.CUDA_R_16BF();
            default -> throw new IllegalArgumentException("no cuBLAS data type for " + dtype);
        };
    }

    @Override
    public String toString() {
        return "Cublas[0x" + Long.toHexString(handle.address()) + (closed.get() ? ", closed]" : "]");
    }
}
