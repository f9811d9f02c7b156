package dev.engram;

import dev.engram.nativelib.EngramNative;
import dev.engram.cuda.CudaException;
import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Engram#gpuStatus()} agrees with an independent probe of the device count: available with a
 * GPU, unavailable with the CUDA error as the reason without one (this development machine has no
 * GPU and no driver).
 */
class GpuStatusTest {

    @Test
    void probeNeverThrowsAndIsCached() {
        GpuStatus status = assertDoesNotThrow(Engram::gpuStatus);
        System.out.println("[gpu] " + status.describe());
        assertSame(status, Engram.gpuStatus());
        assertFalse(status.describe().isBlank());
    }

    @Test
    void statusMatchesTheDeviceCountProbe() {
        GpuStatus status = Engram.gpuStatus();
        assertTrue(NativeLibraryLoader.load().loaded(), NativeLibraryLoader.load()::describe);
        if (!EngramNative.builtWithCuda()) {
            assertFalse(status.available());
            assertEquals(List.of("libengram was built without CUDA (nvcc not found at build time)"), status.reasons());
            return;
        }
        int devices;
        try {
            devices = EngramNative.cudaDeviceCount();
        } catch (CudaException e) {
            // No GPU or no driver: a CudaException like any CUDA call's, and the status says so in CUDA's words.
            assertEquals("engram_cuda_device_count", e.call());
            assertTrue(e.errorName().startsWith("cudaError"), e.errorName());
            assertEquals(e.code(), e.error().number(), "a cudaError_t this runtime reports is in CudaError: " + e);
            assertTrue(e.getMessage().contains("[cudaGetDeviceCount failed: " + e.errorName()), e.getMessage());
            assertFalse(status.available(), status::describe);
            assertEquals(0, status.deviceCount());
            assertTrue(status.reasons().contains("no CUDA device: cudaGetDeviceCount failed: " + e.errorName() + " ("
                    + e.code() + "): " + e.errorString()), status::describe);
            assertTrue(status.describe().startsWith("GPU unavailable"), status::describe);
            return;
        }
        if (devices == 0) {
            assertFalse(status.available(), status::describe);
            assertTrue(status.reasons().stream().anyMatch(r -> r.startsWith("no CUDA device")), status::describe);
            return;
        }
        assertTrue(status.available(), status::describe);
        assertEquals(devices, status.deviceCount());
        assertEquals(List.of(), status.reasons());
        assertTrue(status.cudaRuntimeVersion() >= 13000, status::describe);
    }

    @Test
    void cudaRuntimeVersionNeedsNoGpu() {
        if (!EngramNative.builtWithCuda()) {
            EngramNativeException e = assertThrows(EngramNativeException.class, EngramNative::cudaRuntimeVersion);
            assertEquals("ENGRAM_STATUS_NOT_BUILT_WITH_CUDA", e.statusName());
            return;
        }
        int version = EngramNative.cudaRuntimeVersion();
        assertTrue(version >= 13000 && version < 14000, "libengram links libcudart.so.13, got runtime " + version);
        assertEquals(version, Engram.gpuStatus().cudaRuntimeVersion());
    }

    @Test
    void anAvailableStatusNeedsADeviceAndNoReasons() {
        assertThrows(IllegalArgumentException.class, () -> new GpuStatus(true, List.of("x"), 1, 13000));
        assertThrows(IllegalArgumentException.class, () -> new GpuStatus(true, List.of(), 0, 13000));
        assertEquals("GPU available: 2 CUDA device(s), CUDA runtime 13.0", new GpuStatus(true, List.of(), 2, 13000).describe());
        assertEquals("GPU unavailable (CUDA runtime unknown): a; b", new GpuStatus(false, List.of("a", "b"), 0, 0).describe());
    }
}
