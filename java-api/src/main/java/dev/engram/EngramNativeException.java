package dev.engram;

/**
 * A libengram entry point returned a status other than {@code ENGRAM_STATUS_SUCCESS} and other than
 * {@code ENGRAM_STATUS_CUDA_ERROR} (a CUDA error is a {@link dev.engram.cuda.CudaException}, whoever reports it).
 *
 * <p>Carries the C function's name, the status code, its name from {@code engram_status_string}
 * and the thread's {@code engram_last_error} text, e.g.
 * {@code engram_ngram_hash_host failed: ENGRAM_STATUS_INVALID_ARGUMENT: engram_ngram_hash_host: every modulus must be > 0}.
 * Created only by libengram's status check.
 */
public final class EngramNativeException extends EngramException {
    private static final long serialVersionUID = 1L;

    /** The C function that failed. */
    private final String call;
    /** Its engram_status_t return value. */
    private final int status;
    /** engram_status_string(status). */
    private final String statusName;
    /** engram_last_error() right after the call. */
    private final String lastError;

    /**
     * Creates the exception; the message is built from all four values.
     *
     * @param call       the C function that failed
     * @param status     its {@code engram_status_t}
     * @param statusName {@code engram_status_string(status)}
     * @param lastError  {@code engram_last_error()} right after the call
     */
    public EngramNativeException(String call, int status, String statusName, String lastError) {
        super(call + " failed: " + statusName + ": " + (lastError.isEmpty() ? "(no error text)" : lastError));
        this.call = call;
        this.status = status;
        this.statusName = statusName;
        this.lastError = lastError;
    }

    /** {@return the C function that failed, e.g. {@code "engram_cuda_device_count"}} */
    public String call() {
        return call;
    }

    /** {@return the status as an enum constant} */
    public EngramStatus error() {
        return EngramStatus.of(status);
    }

    /** {@return the {@code engram_status_t} value the function returned} */
    public int status() {
        return status;
    }

    /** {@return the status name from {@code engram_status_string}, e.g. {@code "ENGRAM_STATUS_CUDA_ERROR"}} */
    public String statusName() {
        return statusName;
    }

    /** {@return the calling thread's {@code engram_last_error} text right after the failure ({@code ""} if none)} */
    public String lastError() {
        return lastError;
    }
}
