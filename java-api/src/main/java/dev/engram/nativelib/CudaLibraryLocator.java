package dev.engram.nativelib;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds a CUDA library by soname (e.g. {@code libcudart.so.13}, {@code libcublas.so.13}) and
 * {@link System#load(String)}s it, so that {@code SymbolLookup.loaderLookup()} in the bindings sees its
 * symbols. Never throws for a missing or unloadable library: the {@link Result} says what was loaded, or
 * where it was looked for.
 *
 * <p>Search order, first match wins:
 * <ol>
 *   <li>only for libraries that have one, a file override (a system property or environment variable naming
 *       the library file itself); when set, nothing else is tried;</li>
 *   <li>the directory in system property {@value #LIBDIR_PROPERTY} or environment variable {@value #LIBDIR_ENV};
 *       when set, only that directory is tried;</li>
 *   <li>otherwise {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64}, the {@code java.library.path}
 *       directories, and finally the dynamic linker's own search by soname ({@code LD_LIBRARY_PATH},
 *       {@code ld.so.cache}). A library only the dynamic linker finds is read back from
 *       {@code /proc/self/maps} and {@code System.load}ed (dlopen of a loaded object only adds a reference).</li>
 * </ol>
 * Companion libraries (e.g. {@code libcublasLt.so.13} for cuBLAS) found in the same directory as the library
 * are loaded first, so that the library's own dependency on them is met wherever the toolkit lives.
 */
final class CudaLibraryLocator {
    /** Directory holding the CUDA libraries; shared by every CUDA library this project loads. */
    static final String LIBDIR_PROPERTY = "engram.cuda.libdir";
    static final String LIBDIR_ENV = "ENGRAM_CUDA_LIBDIR";

    /**
     * @param loaded      whether the library is now loaded in this process
     * @param description the loaded path, or why not, e.g. {@code "libcudart.so.13 not found (looked in: ...)"}
     */
    record Result(boolean loaded, String description) {}

    /**
     * A file that overrides the search.
     *
     * @param source how it was given, e.g. {@code "system property engram.cublas.path=/x/libcublas.so.13"}
     * @param file   the file to load
     */
    record FileOverride(String source, Path file) {}

    private CudaLibraryLocator() {}

    /**
     * Loads {@code soname} with the settings of this JVM: the file override named by {@code fileProperty} /
     * {@code fileEnv} (both {@code null} when the library has none), {@value #LIBDIR_PROPERTY} /
     * {@value #LIBDIR_ENV}, and the default directories.
     */
    static Result load(String soname, List<String> companions, String fileProperty, String fileEnv) {
        FileOverride file = null;
        if (fileProperty != null) {
            String value = NativeLibraryLoader.setting(fileProperty, fileEnv);
            if (value != null) {
                String source = (System.getProperty(fileProperty, "").isBlank()
                        ? "environment variable " + fileEnv : "system property " + fileProperty) + "=" + value;
                file = new FileOverride(source, Path.of(value));
            }
        }
        String dir = NativeLibraryLoader.setting(LIBDIR_PROPERTY, LIBDIR_ENV);
        return load(soname, companions, file, dir == null ? null : Path.of(dir), defaultDirectories(), true);
    }

    /**
     * The search itself, with every input explicit (tests call this directly).
     *
     * @param file          a file override, or {@code null}
     * @param dirOverride   the {@value #LIBDIR_PROPERTY} directory, or {@code null}
     * @param defaultDirs   directories tried when there is no override
     * @param dynamicLinker whether to try the dynamic linker's search last (only without a directory override)
     */
    @SuppressWarnings("restricted") // SymbolLookup.libraryLookup: dlopen by soname, the point of this class
    static Result load(String soname, List<String> companions, FileOverride file, Path dirOverride,
                       List<Path> defaultDirs, boolean dynamicLinker) {
        if (file != null) {
            Path f = file.file().toAbsolutePath();
            if (!Files.isRegularFile(f)) {
                return new Result(false, file.source() + " does not name an existing file");
            }
            loadCompanions(f.getParent(), companions);
            try {
                System.load(f.toString());
                return new Result(true, f.toString());
            } catch (UnsatisfiedLinkError e) {
                return new Result(false, file.source() + ": System.load failed: " + e.getMessage());
            }
        }
        List<String> looked = new ArrayList<>();
        List<Path> dirs = dirOverride != null ? List.of(dirOverride) : defaultDirs;
        for (Path dir : dirs) {
            Path candidate = dir.resolve(soname).toAbsolutePath();
            if (!Files.isRegularFile(candidate)) {
                looked.add(dir.toString());
                continue;
            }
            loadCompanions(candidate.getParent(), companions);
            try {
                System.load(candidate.toString());
                return new Result(true, candidate.toString());
            } catch (UnsatisfiedLinkError e) {
                looked.add(candidate + " (found, but System.load failed: " + e.getMessage() + ")");
            }
        }
        if (dirOverride != null) {
            looked.set(0, looked.get(0) + " (" + LIBDIR_PROPERTY + "/" + LIBDIR_ENV + ")");
        } else if (dynamicLinker) {
            try {
                // dlopen by soname: LD_LIBRARY_PATH, the ld.so cache, the default directories.
                SymbolLookup.libraryLookup(soname, Arena.global());
                Path mapped = mappedFile(soname);
                if (mapped != null) {
                    System.load(mapped.toString()); // registers it for SymbolLookup.loaderLookup()
                    return new Result(true, mapped + " (found by the dynamic linker)");
                }
                looked.add("the dynamic linker's search path (dlopen of " + soname
                        + " worked, but its file was not found in /proc/self/maps to System.load it)");
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                looked.add("the dynamic linker's search path");
            }
        }
        return new Result(false, soname + " not found (looked in: " + String.join(", ", looked) + ")");
    }

    /** {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64}, then the {@code java.library.path} directories. */
    static List<Path> defaultDirectories() {
        List<Path> dirs = new ArrayList<>();
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null && !cudaHome.isBlank()) dirs.add(Path.of(cudaHome, "lib64"));
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        for (String dir : System.getProperty("java.library.path", "").split(java.io.File.pathSeparator)) {
            if (!dir.isBlank()) dirs.add(Path.of(dir));
        }
        return dirs;
    }

    /**
     * Best effort: a companion in {@code dir} is loaded so the library's dependency on it resolves; one that
     * is absent or fails is left to the dynamic linker, and the library's own load reports the problem.
     */
    private static void loadCompanions(Path dir, List<String> companions) {
        if (dir == null) return;
        for (String companion : companions) {
            Path c = dir.resolve(companion);
            if (Files.isRegularFile(c)) {
                try {
                    System.load(c.toString());
                } catch (UnsatisfiedLinkError ignored) {
                    // reported by the main library's load, which needs it
                }
            }
        }
    }

    /** The file of the loaded {@code soname*} as the process maps it, or {@code null}. */
    private static Path mappedFile(String soname) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash < 0) continue;
                Path file = Path.of(line.substring(slash).trim());
                Path name = file.getFileName();
                if (name != null && name.toString().startsWith(soname) && Files.isRegularFile(file)) {
                    return file;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
        return null;
    }
}
