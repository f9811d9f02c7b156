package dev.engram.cuda;

/**
 * cuBLAS's status codes ({@code cublasStatus_t}), by name and number. {@link #of(int)} maps a status; one this
 * enum does not list maps to {@link #UNRECOGNIZED}, and {@link CublasException#status()} keeps the number.
 * CublasBindingTest checks the numbers against cublas_api.h where cuBLAS's headers are installed.
 */
public enum CublasStatus {
    /** {@code CUBLAS_STATUS_SUCCESS} (0). */
    SUCCESS(0),
    /** {@code CUBLAS_STATUS_NOT_INITIALIZED} (1). */
    NOT_INITIALIZED(1),
    /** {@code CUBLAS_STATUS_ALLOC_FAILED} (3). */
    ALLOC_FAILED(3),
    /** {@code CUBLAS_STATUS_INVALID_VALUE} (7). */
    INVALID_VALUE(7),
    /** {@code CUBLAS_STATUS_ARCH_MISMATCH} (8). */
    ARCH_MISMATCH(8),
    /** {@code CUBLAS_STATUS_MAPPING_ERROR} (11). */
    MAPPING_ERROR(11),
    /** {@code CUBLAS_STATUS_EXECUTION_FAILED} (13). */
    EXECUTION_FAILED(13),
    /** {@code CUBLAS_STATUS_INTERNAL_ERROR} (14). */
    INTERNAL_ERROR(14),
    /** {@code CUBLAS_STATUS_NOT_SUPPORTED} (15). */
    NOT_SUPPORTED(15),
    /** {@code CUBLAS_STATUS_LICENSE_ERROR} (16). */
    LICENSE_ERROR(16),
    /** A status this enum does not list (number -1 here; the exception keeps the real one). */
    UNRECOGNIZED(-1);

    private final int number;

    CublasStatus(int number) {
        this.number = number;
    }

    /** {@return the {@code cublasStatus_t} value, -1 for {@link #UNRECOGNIZED}} */
    public int number() {
        return number;
    }

    /** {@return the enumerator's name in cublas_api.h, e.g. {@code "CUBLAS_STATUS_INVALID_VALUE"}} */
    public String cublasName() {
        return this == UNRECOGNIZED ? "unrecognized" : "CUBLAS_STATUS_" + name();
    }

    /**
     * {@return the constant for a {@code cublasStatus_t} value, {@link #UNRECOGNIZED} for one not listed here}
     * @param status a {@code cublasStatus_t} value
     */
    public static CublasStatus of(int status) {
        for (CublasStatus s : values()) {
            if (s.number == status && s != UNRECOGNIZED) return s;
        }
        return UNRECOGNIZED;
    }
}
