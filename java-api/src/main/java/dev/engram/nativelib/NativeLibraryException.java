package dev.engram.nativelib;

/**
 * libengram could not be found, loaded or verified (for example an ABI mismatch).
 *
 * <p>Thrown by {@link NativeLibraryLoader#require()} and by the {@link EngramNative} calls that
 * need the library; its message is the {@link NativeLibraryStatus#message() reason} the loader
 * recorded. Code that wants to know without catching uses {@link NativeLibraryLoader#load()}.
 */
public final class NativeLibraryException extends RuntimeException {
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
