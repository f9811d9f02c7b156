package dev.engram.nativelib;

/**
 * The outcome of loading libengram: a value, never an exception (see {@link NativeLibraryLoader#load()}).
 *
 * @param outcome     loaded, not found anywhere, or found but not loadable / not compatible
 * @param source      where libengram came from or was last looked for, e.g.
 *                    {@code "classpath resource native/linux-x86_64/libengram.so"}
 * @param message     on success what was loaded (paths); on failure the reason, naming what was tried
 * @param cudaRuntime what happened to the CUDA runtime preload ({@code libcudart.so.13}): the path
 *                    that was loaded, or that it was not found and where it was looked for
 */
public record NativeLibraryStatus(Outcome outcome, String source, String message, String cudaRuntime) {

    /** How loading ended. */
    public enum Outcome {
        /** libengram is loaded and its ABI version matches the bindings. */
        LOADED,
        /** No libengram anywhere: no override, no classpath resource, not on {@code java.library.path}. */
        NOT_FOUND,
        /** A libengram was found but could not be loaded, or its ABI version differs from the bindings'. */
        LOAD_FAILED
    }

    /** {@return whether libengram is loaded and usable} */
    public boolean loaded() {
        return outcome == Outcome.LOADED;
    }

    /** {@return a one-line summary, e.g. for logs and test output} */
    public String describe() {
        return switch (outcome) {
            case LOADED -> "libengram loaded: " + message + "; CUDA runtime: " + cudaRuntime;
            case NOT_FOUND -> "libengram not built/found: " + message;
            case LOAD_FAILED -> "libengram could not be loaded: " + message;
        };
    }
}
