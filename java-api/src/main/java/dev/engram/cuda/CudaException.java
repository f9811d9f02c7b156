package dev.engram.cuda;

import dev.engram.EngramException;

/**
 * A CUDA runtime error, whether a cudart call returned it (e.g. {@code cudaMalloc}) or a libengram kernel
 * launch reported it: the same type either way. Carries the call's name, the {@link CudaError} and its number,
 * the runtime's own name and description ({@code cudaGetErrorName}/{@code cudaGetErrorString}), e.g.
 * {@code "cudaMalloc failed: cudaErrorMemoryAllocation (2): out of memory"}, and for a launch libengram's
 * text of what it was doing.
 */
public final class CudaException extends EngramException {
    private static final long serialVersionUID = 1L;

    /** The function that failed. */
    private final String call;
    /** Its {@code cudaError_t}. */
    private final int code;
    /** cudaGetErrorName(code). */
    private final String errorName;
    /** cudaGetErrorString(code). */
    private final String errorString;

    /**
     * Creates the exception for a failed call; the message is built from the four values.
     *
     * @param call        the function that failed, e.g. {@code "cudaMalloc"} or {@code "engram_gate"}
     * @param code        the {@code cudaError_t}
     * @param errorName   {@code cudaGetErrorName(code)}, e.g. {@code "cudaErrorMemoryAllocation"}
     * @param errorString {@code cudaGetErrorString(code)}, e.g. {@code "out of memory"}
     */
    public CudaException(String call, int code, String errorName, String errorString) {
        this(call, code, errorName, errorString, "");
    }

    /**
     * Creates the exception for a failed call with extra context appended to the message in brackets.
     *
     * @param call        the function that failed
     * @param code        the {@code cudaError_t}
     * @param errorName   {@code cudaGetErrorName(code)}
     * @param errorString {@code cudaGetErrorString(code)}
     * @param detail      more context (libengram's last-error text), or {@code ""}
     */
    public CudaException(String call, int code, String errorName, String errorString, String detail) {
        super(call + " failed: " + errorName + " (" + code + "): " + errorString + (detail.isEmpty() ? "" : " [" + detail + "]"));
        this.call = call;
        this.code = code;
        this.errorName = errorName;
        this.errorString = errorString;
    }

    /** {@return the function that failed, e.g. {@code "cudaMalloc"} or {@code "engram_hashed_gather"}} */
    public String call() {
        return call;
    }

    /** {@return the error as an enum constant ({@link CudaError#UNRECOGNIZED} for a code it does not list)} */
    public CudaError error() {
        return CudaError.of(code);
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
