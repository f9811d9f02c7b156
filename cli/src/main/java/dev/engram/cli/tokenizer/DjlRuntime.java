package dev.engram.cli.tokenizer;

/**
 * Keeps DJL's Hugging Face tokenizers binding offline. Its jar bundles {@code libtokenizers.so} for
 * linux-x86_64 (and linux-aarch64, macOS arm64, Windows x86_64); on first use DJL copies it into its cache
 * directory ({@code $DJL_CACHE_DIR} or {@code $ENGINE_CACHE_DIR}, default {@code ~/.djl.ai/tokenizers/}, the
 * temporary directory when the home directory is not writable) and loads it from there. Two things could still
 * reach the network: on a machine with CUDA, DJL picks a CUDA build of the library that is not in the jar and
 * downloads it, and every new tokenizer "calls home" (usage tracking) when it runs on EC2. Offline mode makes
 * DJL take the CPU library from the jar and skips the tracking; opting out of tracking skips it too.
 *
 * <p>DJL also counts GPUs while it loads, by loading the system's {@code libcudart} into this process through JNA
 * (global symbols): the CUDA runtime this library loads could then resolve to that other copy. Its fork mode asks a
 * child process instead, so this JVM keeps the one CUDA runtime it chose.
 */
final class DjlRuntime {
    /** The class whose presence means the binding is on the class path. */
    static final String TOKENIZER_CLASS = "ai.djl.huggingface.tokenizers.HuggingFaceTokenizer";

    private DjlRuntime() {}

    /**
     * Sets {@code ai.djl.offline=true}, {@code OPT_OUT_TRACKING=true} and {@code ai.djl.util.cuda.fork=true} as
     * system properties unless the caller set them. Must run before the first DJL tokenizer class is used: DJL reads them when it loads the library.
     * The environment variables {@code DJL_OFFLINE} and {@code OPT_OUT_TRACKING}, when set, win over these.
     */
    static void goOffline() {
        setIfUnset("ai.djl.offline", "true");
        setIfUnset("OPT_OUT_TRACKING", "true");
        setIfUnset("ai.djl.util.cuda.fork", "true"); // no second libcudart in this process
    }

    /** {@return whether DJL's tokenizers binding is on the class path} */
    static boolean onClassPath() {
        try {
            Class.forName(TOKENIZER_CLASS, false, DjlRuntime.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static void setIfUnset(String key, String value) {
        if (System.getProperty(key) == null) System.setProperty(key, value);
    }
}
