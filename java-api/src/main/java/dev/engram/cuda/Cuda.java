package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;
import dev.engram.nativelib.NativeLibraryLoader;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The CUDA runtime ({@code libcudart.so.13}) from Java: loading, error checking and version queries.
 *
 * <p>cudart is loaded by the native library loader (its CUDA runtime preload, {@link #ensureLoaded()}) and
 * its symbols are resolved by the {@code cuda_runtime_h} bindings through {@code SymbolLookup.loaderLookup()},
 * as for libengram. Every cudart call of this package returns its {@code cudaError_t} into
 * {@link #check(String, int)}. The CUDA runtime API works on a machine without a GPU (the calls then fail with
 * a {@link CudaException}, e.g. {@code cudaErrorInsufficientDriver} or {@code cudaErrorNoDevice}).
 */
public final class Cuda {
    private static volatile boolean loaded;

    private Cuda() {}

    /**
     * Loads the CUDA runtime if needed.
     *
     * @throws dev.engram.NativeLibraryException when {@code libcudart.so.13} cannot be found
     */
    public static void ensureLoaded() {
        if (!loaded) {
            NativeLibraryLoader.requireCudaRuntime();
            loaded = true;
        }
    }

    /**
     * The one place a CUDA runtime return code is checked.
     *
     * @param call the cudart function that returned {@code code}, e.g. {@code "cudaMalloc"}
     * @param code its {@code cudaError_t}
     * @throws CudaException unless {@code code} is {@code cudaSuccess}, with the error's name and text
     */
    public static void check(String call, int code) {
        if (code == cuda_runtime_h.cudaSuccess()) {
            return;
        }
        // The failed call also left its code in this thread's last-error slot; libengram's launch wrappers return
        // cudaGetLastError() after each launch, so a stale code would fail the next, unrelated launch. It is
        // reported here, so clear it (a sticky error stays sticky whatever this does).
        ensureLoaded();
        cuda_runtime_h.cudaGetLastError();
        throw new CudaException(call, code, errorName(code), errorString(code));
    }

    /**
     * {@return the exception for a CUDA error that libengram reported} (a kernel launch, a device query), so that
     * it arrives as the same {@link CudaException} a cudart call's error does
     * @param call   the libengram function, e.g. {@code "engram_gate"}
     * @param code   {@code engram_last_cuda_error()} right after it failed
     * @param detail {@code engram_last_error()} right after it failed
     */
    public static CudaException reportedByLibengram(String call, int code, String detail) {
        ensureLoaded();
        return new CudaException(call, code, errorName(code), errorString(code), detail);
    }

    /**
     * {@return {@code cudaGetErrorName(code)}, e.g. {@code "cudaErrorMemoryAllocation"}; works without a GPU}
     *
     * @param code a {@code cudaError_t}
     */
    public static String errorName(int code) {
        ensureLoaded();
        return cString(cuda_runtime_h.cudaGetErrorName(code));
    }

    /**
     * {@return {@code cudaGetErrorString(code)}, e.g. {@code "out of memory"}; works without a GPU}
     *
     * @param code a {@code cudaError_t}
     */
    public static String errorString(int code) {
        ensureLoaded();
        return cString(cuda_runtime_h.cudaGetErrorString(code));
    }

    /** {@return the CUDA runtime version, {@code 1000*major + 10*minor}, e.g. {@code 13000}; needs no GPU} */
    public static int runtimeVersion() {
        ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("cudaRuntimeGetVersion", cuda_runtime_h.cudaRuntimeGetVersion(out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** {@return the newest CUDA version the installed driver supports, {@code 0} without a driver} */
    public static int driverVersion() {
        ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("cudaDriverGetVersion", cuda_runtime_h.cudaDriverGetVersion(out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * Blocks until the current device has finished all work ({@code cudaDeviceSynchronize}).
     *
     * @throws CudaException on failure, including errors of earlier asynchronous work
     */
    public static void deviceSynchronize() {
        ensureLoaded();
        check("cudaDeviceSynchronize", cuda_runtime_h.cudaDeviceSynchronize());
    }

    /** {@return and clears the last error of this thread ({@code cudaGetLastError}), as a code} */
    public static int getLastError() {
        ensureLoaded();
        return cuda_runtime_h.cudaGetLastError();
    }

    static String cString(MemorySegment pointer) {
        return pointer.address() == 0 ? "" : pointer.getString(0);
    }
}
