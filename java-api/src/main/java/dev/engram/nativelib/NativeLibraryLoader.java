package dev.engram.nativelib;

import dev.engram.NativeLibraryException;
import dev.engram.bindings.engram_h;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Loads libengram into this JVM, once, and reports the outcome as a value.
 *
 * <p>Where libengram comes from, first match wins:
 * <ol>
 *   <li>the file named by system property {@value #LIBRARY_PATH_PROPERTY} or environment variable
 *       {@value #LIBRARY_PATH_ENV} (when set, nothing else is tried);</li>
 *   <li>the classpath resource {@value #RESOURCE} (inside the engram-bindings jar), copied to a
 *       temporary file that is deleted on exit, then {@link System#load(String)}ed;</li>
 *   <li>{@code System.loadLibrary("engram")}, i.e. {@code libengram.so} on {@code java.library.path}.</li>
 * </ol>
 * Before that, the CUDA runtime {@code libcudart.so.13} is preloaded by soname (directory override:
 * system property {@code engram.cuda.libdir} or environment variable {@code ENGRAM_CUDA_LIBDIR}; else
 * {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64}, {@code java.library.path}, the dynamic
 * linker's search). Not finding it is fine for a libengram built without CUDA; if libengram then fails
 * to load, the reason says that cudart was not found and where it was looked for.
 *
 * <p>cuBLAS ({@code libcublas.so.13}) is not needed by libengram and is loaded only on demand, by
 * {@link #requireCublas()} (when the first {@code dev.engram.cuda.Cublas} handle is created): the file in
 * system property {@value #CUBLAS_PATH_PROPERTY} or environment variable {@value #CUBLAS_PATH_ENV} when set,
 * else the same directory search as for cudart.
 *
 * <p>After loading, {@code engram_abi_version()} must equal the bindings' {@code ENGRAM_ABI_VERSION};
 * otherwise the outcome is {@link NativeLibraryStatus.Outcome#LOAD_FAILED} with both numbers.
 *
 * <p>Nothing here throws from a static initializer: {@link #load()} returns a
 * {@link NativeLibraryStatus}; {@link #require()} turns a failure into a {@link NativeLibraryException}.
 * The bindings find libengram's symbols through {@code SymbolLookup.loaderLookup()}, so this class and
 * {@code engram_h} must be loaded by the same class loader (true on the class path and module path).
 */
public final class NativeLibraryLoader {
    /** System property naming the libengram file to load instead of the bundled one. */
    public static final String LIBRARY_PATH_PROPERTY = "engram.library.path";
    /** Environment variable naming the libengram file to load (the property wins when both are set). */
    public static final String LIBRARY_PATH_ENV = "ENGRAM_LIBRARY_PATH";
    /** Classpath resource holding the libengram built by Maven (engram-bindings jar). */
    public static final String RESOURCE = "native/linux-x86_64/libengram.so";

    /** System property naming the {@code libcublas.so.13} file to load (instead of searching for it). */
    public static final String CUBLAS_PATH_PROPERTY = "engram.cublas.path";
    /** Environment variable naming the {@code libcublas.so.13} file (the property wins when both are set). */
    public static final String CUBLAS_PATH_ENV = "ENGRAM_CUBLAS_PATH";
    /** Soname of cuBLAS, and of cuBLASLt, which libcublas depends on (loaded first from the same directory). */
    static final String CUBLAS_SONAME = "libcublas.so.13";
    static final String CUBLASLT_SONAME = "libcublasLt.so.13";

    private static NativeLibraryStatus status;
    private static CudaLibraryLocator.Result cudaRuntime;
    private static CudaLibraryLocator.Result cublas;

    private NativeLibraryLoader() {}

    /**
     * Loads libengram if this has not been tried yet, and returns the outcome of the first attempt
     * (later calls return the same value; a failed load is not retried).
     *
     * @return whether libengram is loaded, where from, or why not
     */
    public static synchronized NativeLibraryStatus load() {
        if (status == null) {
            status = loadOnce();
        }
        return status;
    }

    /**
     * Loads libengram (see {@link #load()}) and fails if that did not work.
     *
     * @return the successful status, naming what was loaded
     * @throws NativeLibraryException with the loader's reason when libengram is unavailable
     */
    public static NativeLibraryStatus require() {
        NativeLibraryStatus s = load();
        if (!s.loaded()) {
            throw new NativeLibraryException(s.describe());
        }
        return s;
    }

    /**
     * Makes sure the CUDA runtime {@code libcudart.so.13} is loaded and visible to
     * {@code SymbolLookup.loaderLookup()}, which is how {@code dev.engram.bindings.cuda_runtime_h}
     * resolves cudart's symbols. Runs {@link #load()} (cudart is preloaded before libengram; libengram
     * itself need not be found for the CUDA runtime API to work).
     *
     * @return where cudart was loaded from
     * @throws NativeLibraryException when cudart was not found, naming where it was looked for
     */
    public static String requireCudaRuntime() {
        load();
        CudaLibraryLocator.Result cudart;
        synchronized (NativeLibraryLoader.class) {
            cudart = cudaRuntime;
        }
        if (cudart == null || !cudart.loaded()) {
            throw new NativeLibraryException("CUDA runtime unavailable: "
                    + (cudart == null ? "not preloaded" : cudart.description())
                    + "; set -D" + CudaRuntimePreloader.LIBDIR_PROPERTY + " or " + CudaRuntimePreloader.LIBDIR_ENV
                    + " to the directory holding " + CudaRuntimePreloader.SONAME);
        }
        return cudart.description();
    }

    /**
     * Makes sure cuBLAS ({@code libcublas.so.13}) is loaded and visible to {@code SymbolLookup.loaderLookup()},
     * which is how {@code dev.engram.bindings.cublas_h} resolves its symbols. Tried once per JVM (the outcome,
     * success or failure, is kept); independent of libengram, which never links cuBLAS.
     *
     * @return where libcublas was loaded from
     * @throws NativeLibraryException when it was not found or could not be loaded, naming where it was looked for
     */
    public static String requireCublas() {
        CudaLibraryLocator.Result result;
        synchronized (NativeLibraryLoader.class) {
            if (cublas == null) {
                cublas = CudaLibraryLocator.load(CUBLAS_SONAME, List.of(CUBLASLT_SONAME),
                        CUBLAS_PATH_PROPERTY, CUBLAS_PATH_ENV);
            }
            result = cublas;
        }
        if (!result.loaded()) {
            throw new NativeLibraryException("cuBLAS unavailable: " + result.description() + "; set -D"
                    + CUBLAS_PATH_PROPERTY + " (or " + CUBLAS_PATH_ENV + ") to the " + CUBLAS_SONAME + " file, or -D"
                    + CudaLibraryLocator.LIBDIR_PROPERTY + " (or " + CudaLibraryLocator.LIBDIR_ENV
                    + ") to the directory holding it");
        }
        return result.description();
    }

    private static NativeLibraryStatus loadOnce() {
        CudaLibraryLocator.Result cudart = CudaRuntimePreloader.preload();
        cudaRuntime = cudart;
        String cudaNote = cudart.loaded() ? "" : "; note: the CUDA runtime was not found: " + cudart.description()
                + ". If this libengram was built with CUDA, set -D" + CudaRuntimePreloader.LIBDIR_PROPERTY
                + " or " + CudaRuntimePreloader.LIBDIR_ENV + " to the directory holding "
                + CudaRuntimePreloader.SONAME;

        String override = setting(LIBRARY_PATH_PROPERTY, LIBRARY_PATH_ENV);
        if (override != null) {
            String source = (System.getProperty(LIBRARY_PATH_PROPERTY, "").isBlank()
                    ? "environment variable " + LIBRARY_PATH_ENV : "system property " + LIBRARY_PATH_PROPERTY)
                    + "=" + override;
            Path file = Path.of(override).toAbsolutePath();
            if (!Files.isRegularFile(file)) {
                return failed(source, source + " does not name an existing file", cudart);
            }
            return loadFile(file, source, cudart, cudaNote);
        }

        URL resource = findResource();
        if (resource != null) {
            String source = "classpath resource " + RESOURCE + " (" + resource + ")";
            Path extracted;
            try {
                extracted = extract(resource);
            } catch (IOException e) {
                return failed(source, "could not extract " + resource + " to a temporary file: " + e, cudart);
            }
            return loadFile(extracted, source, cudart, cudaNote);
        }

        String source = "System.loadLibrary(\"engram\")";
        try {
            System.loadLibrary("engram");
        } catch (UnsatisfiedLinkError e) {
            String why = "no " + LIBRARY_PATH_PROPERTY + " property or " + LIBRARY_PATH_ENV
                    + " variable, no classpath resource " + RESOURCE + " (is the engram-bindings jar, built by Maven,"
                    + " on the class path?), and " + source + " failed: " + e.getMessage();
            boolean notFound = e.getMessage() != null && e.getMessage().startsWith("no engram in");
            return notFound
                    ? new NativeLibraryStatus(NativeLibraryStatus.Outcome.NOT_FOUND, source, why, cudart.description())
                    : failed(source, why + cudaNote, cudart);
        }
        return verifyAbi(source, "libengram.so from java.library.path", cudart);
    }

    private static NativeLibraryStatus loadFile(Path file, String source, CudaLibraryLocator.Result cudart,
                                                String cudaNote) {
        try {
            System.load(file.toString());
        } catch (UnsatisfiedLinkError e) {
            return failed(source, "System.load(" + file + ") failed: " + e.getMessage() + cudaNote, cudart);
        }
        return verifyAbi(source, file.toString(), cudart);
    }

    private static NativeLibraryStatus verifyAbi(String source, String loadedFrom, CudaLibraryLocator.Result cudart) {
        int expected = engram_h.ENGRAM_ABI_VERSION();
        int actual;
        try {
            actual = engram_h.engram_abi_version();
        } catch (LinkageError e) {
            return failed(source, "loaded " + loadedFrom + " but engram_abi_version could not be linked: " + e
                    + " (is it a libengram? is engram_h loaded by another class loader?)", cudart);
        }
        if (actual != expected) {
            return failed(source, "ABI mismatch: " + loadedFrom + " reports ENGRAM_ABI_VERSION=" + actual
                    + " but the Java bindings (dev.engram.bindings.engram_h) were generated for " + expected
                    + "; rebuild libengram and the bindings from the same engram.h", cudart);
        }
        return new NativeLibraryStatus(NativeLibraryStatus.Outcome.LOADED, source,
                loadedFrom + " (ABI " + actual + ")", cudart.description());
    }

    private static NativeLibraryStatus failed(String source, String why, CudaLibraryLocator.Result cudart) {
        return new NativeLibraryStatus(NativeLibraryStatus.Outcome.LOAD_FAILED, source, why, cudart.description());
    }

    private static URL findResource() {
        ClassLoader own = NativeLibraryLoader.class.getClassLoader();
        URL url = own == null ? null : own.getResource(RESOURCE);
        if (url == null) {
            ClassLoader bindings = engram_h.class.getClassLoader(); // a class literal does not initialize engram_h
            url = bindings == null ? null : bindings.getResource(RESOURCE);
        }
        return url;
    }

    private static Path extract(URL resource) throws IOException {
        Path dir = Files.createTempDirectory("engram-native-");
        dir.toFile().deleteOnExit(); // registered first, so deleted after the file inside it
        Path file = dir.resolve("libengram.so");
        file.toFile().deleteOnExit();
        try (InputStream in = resource.openStream()) {
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        }
        return file;
    }

    /** The value of a system property, else of an environment variable; {@code null} when both are unset or blank. */
    static String setting(String property, String env) {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            value = System.getenv(env);
        }
        return value == null || value.isBlank() ? null : value.trim();
    }
}
