package dev.engram;

/**
 * libengram's status codes ({@code engram_status_t}, the {@code ENGRAM_STATUS_*} constants of engram.h).
 * BindingSignatureTest checks the numbers against the header.
 */
public enum EngramStatus {
    /** {@code ENGRAM_STATUS_SUCCESS} (0). */
    SUCCESS(0),
    /** {@code ENGRAM_STATUS_INVALID_ARGUMENT} (1): an argument the Java checks did not catch. */
    INVALID_ARGUMENT(1),
    /** {@code ENGRAM_STATUS_CUDA_ERROR} (2): reported as a {@link dev.engram.cuda.CudaException}. */
    CUDA_ERROR(2),
    /** {@code ENGRAM_STATUS_NOT_BUILT_WITH_CUDA} (3): the library was compiled without nvcc. */
    NOT_BUILT_WITH_CUDA(3),
    /** {@code ENGRAM_STATUS_INTERNAL_ERROR} (4). */
    INTERNAL_ERROR(4),
    /** A status this enum does not list (number -1 here; the exception keeps the real one). */
    UNRECOGNIZED(-1);

    private final int number;

    EngramStatus(int number) {
        this.number = number;
    }

    /** {@return the {@code engram_status_t} value, -1 for {@link #UNRECOGNIZED}} */
    public int number() {
        return number;
    }

    /**
     * {@return the constant for an {@code engram_status_t} value, {@link #UNRECOGNIZED} for one not listed here}
     * @param status an {@code engram_status_t} value
     */
    public static EngramStatus of(int status) {
        for (EngramStatus s : values()) {
            if (s.number == status && s != UNRECOGNIZED) return s;
        }
        return UNRECOGNIZED;
    }
}
