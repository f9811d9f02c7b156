package dev.engram.nativelib;

import java.util.List;

/**
 * Loads the CUDA runtime ({@code libcudart.so.13}) by soname before libengram, so that a libengram
 * built with CUDA finds it wherever the toolkit lives. Not finding it is not an error here: a
 * libengram built without CUDA does not need it. The result says what was loaded or where it was
 * looked for, for the loader's failure message.
 *
 * <p>Search order ({@link CudaLibraryLocator}): the directory in system property {@value #LIBDIR_PROPERTY}
 * or environment variable {@value #LIBDIR_ENV} (only that directory when set); otherwise
 * {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64}, the {@code java.library.path} directories, and
 * finally the dynamic linker's own search by soname ({@code LD_LIBRARY_PATH}, {@code ld.so.cache}).
 *
 * <p>The library always ends up {@link System#load(String)}ed, which registers it with the calling class
 * loader, so that {@code SymbolLookup.loaderLookup()} (used by the bindings {@code engram_h} and
 * {@code cuda_runtime_h}) finds cudart's symbols.
 */
final class CudaRuntimePreloader {
    /** Soname of the CUDA runtime libengram links against (CMake's shared cudart). */
    static final String SONAME = "libcudart.so.13";
    static final String LIBDIR_PROPERTY = CudaLibraryLocator.LIBDIR_PROPERTY;
    static final String LIBDIR_ENV = CudaLibraryLocator.LIBDIR_ENV;

    private CudaRuntimePreloader() {}

    /** {@return the loaded path, or that {@code libcudart.so.13} was not found and where it was looked for} */
    static CudaLibraryLocator.Result preload() {
        return CudaLibraryLocator.load(SONAME, List.of(), null, null);
    }
}
