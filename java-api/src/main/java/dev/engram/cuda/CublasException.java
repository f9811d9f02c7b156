package dev.engram.cuda;

import dev.engram.EngramException;

/**
 * A cuBLAS call returned an error. Carries the call's name, the numeric {@code cublasStatus_t}, and
 * cuBLAS's own name and description of it ({@code cublasGetStatusName}/{@code cublasGetStatusString}),
 * e.g. {@code "cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE (7): an invalid value was used as an argument"}.
 *
 * <p>Thrown only by {@link Cublas#check(String, int)}, the one place every cuBLAS return code goes through.
 */
public final class CublasException extends EngramException {
    private static final long serialVersionUID = 1L;

    /** The cuBLAS function that failed. */
    private final String call;
    /** Its cublasStatus_t return value. */
    private final int status;
    /** cublasGetStatusName(status). */
    private final String statusName;
    /** cublasGetStatusString(status). */
    private final String statusString;

    /**
     * Creates the exception for a failed call; the message is built from the four values.
     *
     * @param call         the cuBLAS function that failed, e.g. {@code "cublasGemmEx"}
     * @param status       its {@code cublasStatus_t} return value
     * @param statusName   {@code cublasGetStatusName(status)}, e.g. {@code "CUBLAS_STATUS_INVALID_VALUE"}
     * @param statusString {@code cublasGetStatusString(status)}, e.g. {@code "an invalid value was used as an argument"}
     */
    public CublasException(String call, int status, String statusName, String statusString) {
        super(call + " failed: " + statusName + " (" + status + "): " + statusString);
        this.call = call;
        this.status = status;
        this.statusName = statusName;
        this.statusString = statusString;
    }

    /** {@return the cuBLAS function that failed, e.g. {@code "cublasGemmEx"}} */
    public String call() {
        return call;
    }

    /** {@return the status as an enum constant ({@link CublasStatus#UNRECOGNIZED} for one it does not list)} */
    public CublasStatus error() {
        return CublasStatus.of(status);
    }

    /** {@return the numeric {@code cublasStatus_t}} */
    public int status() {
        return status;
    }

    /** {@return the status's enumerator name, e.g. {@code "CUBLAS_STATUS_INVALID_VALUE"}} */
    public String statusName() {
        return statusName;
    }

    /** {@return cuBLAS's description of the status} */
    public String statusString() {
        return statusString;
    }
}
