package dev.engram;

/**
 * The root of every exception this library throws for a failure outside the caller's arguments: CUDA
 * ({@link dev.engram.cuda.CudaException}), cuBLAS ({@link dev.engram.cuda.CublasException}), libengram
 * ({@link EngramNativeException}), loading the native libraries ({@link NativeLibraryException}) and reading
 * safetensors checkpoints ({@link dev.engram.io.SafetensorsException}).
 * Unchecked, like the JDK's own runtime failures. Bad arguments are {@link IllegalArgumentException} and
 * use of closed objects {@link IllegalStateException}, thrown before any native call.
 */
public abstract class EngramException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message and no cause.
     *
     * @param message what failed and why
     */
    protected EngramException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message what failed and why
     * @param cause   the underlying failure
     */
    protected EngramException(String message, Throwable cause) {
        super(message, cause);
    }
}
