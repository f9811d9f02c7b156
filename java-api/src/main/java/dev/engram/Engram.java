package dev.engram;

import dev.engram.cuda.CudaException;
import dev.engram.nativelib.EngramNative;
import dev.engram.nativelib.NativeLibraryLoader;
import dev.engram.nativelib.NativeLibraryStatus;

import java.util.ArrayList;
import java.util.List;

/**
 * Entry point facts about the Engram library in this JVM: its version and whether the GPU path works.
 */
public final class Engram {
    private static GpuStatus gpuStatus;

    private Engram() {}

    /**
     * {@return the version of the loaded libengram, e.g. {@code "0.1.0"}}
     * @throws dev.engram.NativeLibraryException when libengram cannot be loaded (with the reason)
     */
    public static String version() {
        return EngramNative.version();
    }

    /**
     * Probes, once per JVM, whether the GPU path is usable: libengram loads, was built with CUDA, the
     * CUDA runtime answers and at least one device is visible. Never throws; a machine without a GPU
     * gets {@code available == false} and the reasons, e.g.
     * {@code "no CUDA device: cudaGetDeviceCount failed: cudaErrorNoDevice: no CUDA-capable device is detected"}.
     *
     * @return the cached probe result
     */
    public static synchronized GpuStatus gpuStatus() {
        if (gpuStatus == null) {
            gpuStatus = probe();
        }
        return gpuStatus;
    }

    private static GpuStatus probe() {
        List<String> reasons = new ArrayList<>();
        try {
            NativeLibraryStatus lib = NativeLibraryLoader.load();
            switch (lib.outcome()) {
                case NOT_FOUND -> reasons.add("native library not built: " + lib.message());
                case LOAD_FAILED -> reasons.add("native library could not be loaded: " + lib.message());
                case LOADED -> { }
            }
            if (!lib.loaded()) {
                return new GpuStatus(false, reasons, 0, 0);
            }
            if (!EngramNative.builtWithCuda()) {
                reasons.add("libengram was built without CUDA (nvcc not found at build time)");
                return new GpuStatus(false, reasons, 0, 0);
            }
            int runtime = 0;
            try {
                runtime = EngramNative.cudaRuntimeVersion();
            } catch (CudaException e) {
                reasons.add("CUDA runtime unusable: cudaRuntimeGetVersion failed: " + cudaError(e));
            } catch (EngramNativeException e) {
                reasons.add("CUDA runtime unusable: " + e.lastError());
            }
            int devices = 0;
            try {
                devices = EngramNative.cudaDeviceCount();
                if (devices < 1) {
                    reasons.add("no CUDA device: cudaGetDeviceCount reported " + devices + " devices");
                }
            } catch (CudaException e) {
                reasons.add("no CUDA device: cudaGetDeviceCount failed: " + cudaError(e));
            } catch (EngramNativeException e) {
                reasons.add("no CUDA device: " + e.lastError());
            }
            return new GpuStatus(reasons.isEmpty(), reasons, Math.max(devices, 0), runtime);
        } catch (RuntimeException | LinkageError e) {
            reasons.add("GPU probe failed: " + e);
            return new GpuStatus(false, reasons, 0, 0);
        }
    }

    /** "cudaErrorNoDevice (100): no CUDA-capable device is detected" */
    private static String cudaError(CudaException e) {
        return e.errorName() + " (" + e.code() + "): " + e.errorString();
    }
}
