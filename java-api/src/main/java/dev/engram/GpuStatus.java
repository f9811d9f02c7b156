package dev.engram;

import java.util.List;

/**
 * Whether the GPU path can be used in this JVM, and if not, why.
 *
 * @param available          {@code true} when libengram is loaded, built with CUDA, and at least one
 *                           CUDA device is visible
 * @param reasons            why the GPU path is unavailable, most fundamental first (empty when available)
 * @param deviceCount        visible CUDA devices, {@code 0} when unknown or none
 * @param cudaRuntimeVersion the CUDA runtime version libengram runs against (e.g. {@code 13000}),
 *                           {@code 0} when unknown
 */
public record GpuStatus(boolean available, List<String> reasons, int deviceCount, int cudaRuntimeVersion) {

    /** Copies {@code reasons}; a status is available exactly when it has no reasons and a device. */
    public GpuStatus {
        reasons = List.copyOf(reasons);
        if (available && (!reasons.isEmpty() || deviceCount < 1)) {
            throw new IllegalArgumentException("an available GPU status needs a device and no reasons: " + reasons);
        }
    }

    /** {@return one line, e.g. {@code "GPU available: 1 CUDA device(s), CUDA runtime 13.0"} or the reasons} */
    public String describe() {
        String runtime = cudaRuntimeVersion > 0
                ? "CUDA runtime " + cudaRuntimeVersion / 1000 + "." + (cudaRuntimeVersion % 1000) / 10
                : "CUDA runtime unknown";
        return available
                ? "GPU available: " + deviceCount + " CUDA device(s), " + runtime
                : "GPU unavailable (" + runtime + "): " + String.join("; ", reasons);
    }
}
