package dev.engram.cuda;

/**
 * A CUDA runtime call returned an error. Carries the call's name, the numeric {@code cudaError_t}, and
 * the runtime's own name and description of it ({@code cudaGetErrorName}/{@code cudaGetErrorString}),
 * e.g. {@code "cudaMalloc failed: cudaErrorMemoryAllocation (2): out of memory"}.
 *
 * <p>Thrown only by {@link Cuda#check(String, int)}, the one place every cudart return code goes through.
 */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int code;
    private final String errorName;
    private final String errorString;

    /**
     * @param call        the CUDA runtime function that failed, e.g. {@code "cudaMalloc"}
     * @param code        its {@code cudaError_t} return value
     * @param errorName   {@code cudaGetErrorName(code)}, e.g. {@code "cudaErrorMemoryAllocation"}
     * @param errorString {@code cudaGetErrorString(code)}, e.g. {@code "out of memory"}
     */
    public CudaException(String call, int code, String errorName, String errorString) {
        super(call + " failed: " + errorName + " (" + code + "): " + errorString);
        this.call = call;
        this.code = code;
        this.errorName = errorName;
        this.errorString = errorString;
    }

    /** {@return the CUDA runtime function that failed, e.g. {@code "cudaMalloc"}} */
    public String call() {
        return call;
    }

    /** {@return the numeric {@code cudaError_t}} */
    public int code() {
        return code;
    }

    /** {@return the error's enumerator name, e.g. {@code "cudaErrorMemoryAllocation"}} */
    public String errorName() {
        return errorName;
    }

    /** {@return the runtime's description of the error, e.g. {@code "out of memory"}} */
    public String errorString() {
        return errorString;
    }
}
