package dev.engram.nativelib;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads the CUDA runtime ({@code libcudart.so.13}) by soname before libengram, so that a libengram
 * built with CUDA finds it wherever the toolkit lives. Not finding it is not an error here: a
 * libengram built without CUDA does not need it. The result says what was loaded or where it was
 * looked for, for the loader's failure message.
 *
 * <p>Search order: the directory in system property {@value #LIBDIR_PROPERTY} or environment variable
 * {@value #LIBDIR_ENV} (only that directory when set); otherwise {@code $CUDA_HOME/lib64},
 * {@code /usr/local/cuda/lib64}, the {@code java.library.path} directories, and finally the dynamic
 * linker's own search by soname ({@code LD_LIBRARY_PATH}, {@code ld.so.cache}).
 *
 * <p>The library always ends up {@link System#load(String)}ed, which registers it with the calling class
 * loader, so that {@code SymbolLookup.loaderLookup()} (used by the bindings {@code engram_h} and
 * {@code cuda_runtime_h}) finds cudart's symbols. When only the dynamic linker's search finds it, the
 * file it mapped is read back from {@code /proc/self/maps} and {@code System.load}ed (dlopen of an
 * already-loaded object only adds a reference).
 */
final class CudaRuntimePreloader {
    /** Soname of the CUDA runtime libengram links against (CMake's shared cudart). */
    static final String SONAME = "libcudart.so.13";
    static final String LIBDIR_PROPERTY = "engram.cuda.libdir";
    static final String LIBDIR_ENV = "ENGRAM_CUDA_LIBDIR";

    /**
     * @param loaded      whether a CUDA runtime is now loaded in this process
     * @param description the loaded path, or {@code "libcudart.so.13 not found (looked in: ...)"}
     */
    record Result(boolean loaded, String description) {}

    private CudaRuntimePreloader() {}

    @SuppressWarnings("restricted") // SymbolLookup.libraryLookup: dlopen by soname, the point of this class
    static Result preload() {
        List<String> looked = new ArrayList<>();
        String override = NativeLibraryLoader.setting(LIBDIR_PROPERTY, LIBDIR_ENV);
        List<Path> dirs = new ArrayList<>();
        if (override != null) {
            dirs.add(Path.of(override));
        } else {
            String cudaHome = System.getenv("CUDA_HOME");
            if (cudaHome != null && !cudaHome.isBlank()) dirs.add(Path.of(cudaHome, "lib64"));
            dirs.add(Path.of("/usr/local/cuda/lib64"));
            for (String dir : System.getProperty("java.library.path", "").split(java.io.File.pathSeparator)) {
                if (!dir.isBlank()) dirs.add(Path.of(dir));
            }
        }
        for (Path dir : dirs) {
            Path candidate = dir.resolve(SONAME).toAbsolutePath();
            if (!Files.isRegularFile(candidate)) {
                looked.add(dir.toString());
                continue;
            }
            try {
                System.load(candidate.toString());
                return new Result(true, candidate.toString());
            } catch (UnsatisfiedLinkError e) {
                looked.add(candidate + " (found, but System.load failed: " + e.getMessage() + ")");
            }
        }
        if (override == null) {
            try {
                // dlopen by soname: LD_LIBRARY_PATH, the ld.so cache, the default directories.
                SymbolLookup.libraryLookup(SONAME, Arena.global());
                Path mapped = mappedFile();
                if (mapped != null) {
                    System.load(mapped.toString()); // registers it for SymbolLookup.loaderLookup()
                    return new Result(true, mapped + " (found by the dynamic linker)");
                }
                looked.add("the dynamic linker's search path (dlopen of " + SONAME
                        + " worked, but its file was not found in /proc/self/maps to System.load it)");
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                looked.add("the dynamic linker's search path");
            }
        } else {
            looked.set(0, looked.get(0) + " (" + LIBDIR_PROPERTY + "/" + LIBDIR_ENV + ")");
        }
        return new Result(false, SONAME + " not found (looked in: " + String.join(", ", looked) + ")");
    }

    /** The file of the loaded {@code libcudart.so.13*} as the process maps it, or {@code null}. */
    private static Path mappedFile() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash < 0) continue;
                Path file = Path.of(line.substring(slash).trim());
                Path name = file.getFileName();
                if (name != null && name.toString().startsWith(SONAME) && Files.isRegularFile(file)) {
                    return file;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
        return null;
    }
}
