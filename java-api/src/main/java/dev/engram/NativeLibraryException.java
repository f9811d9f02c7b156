package dev.engram;

/**
 * A native library (libengram, libcudart or libcublas) could not be found, loaded or verified (for example
 * libengram of another ABI version).
 *
 * <p>Thrown by the first call that needs libengram, libcudart or libcublas when it is unavailable; its message
 * is the reason the loader recorded. Code that wants to know without catching uses {@link Engram#gpuStatus()}.
 */
public final class NativeLibraryException extends EngramException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with the loader's reason.
     *
     * @param message why the library is unavailable, as recorded by the loader
     */
    public NativeLibraryException(String message) {
        super(message);
    }
}
