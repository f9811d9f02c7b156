package dev.engram.nativelib;

import dev.engram.bindings.engram_h;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * libengram is built by Maven (CMake) before the tests run, so it must load here; a failure to load
 * fails this test with the loader's reason instead of skipping anything.
 */
class NativeLibraryTest {

    @BeforeAll
    static void printStatus() {
        System.out.println("[native] " + NativeLibraryLoader.load().describe());
    }

    @Test
    void libraryLoads() {
        NativeLibraryStatus status = NativeLibraryLoader.load();
        assertTrue(status.loaded(), () -> "libengram must load in the test build: " + status.describe());
        assertSame(status, NativeLibraryLoader.load(), "load() is done once and its outcome cached");
        assertSame(status, NativeLibraryLoader.require());
    }

    @Test
    void versionIsTheProjectVersion() {
        assertEquals("0.1.0", EngramNative.version());
    }

    @Test
    void abiVersionMatchesTheBindings() {
        assertEquals(engram_h.ENGRAM_ABI_VERSION(), EngramNative.abiVersion());
        assertEquals(6, engram_h.ENGRAM_ABI_VERSION(), "engram.h's ENGRAM_ABI_VERSION as bound in Java");
    }

    @Test
    void builtWithCudaAsTheBuildSaysIt() {
        BuildExpectations.Expectation expected = BuildExpectations.cudaBuilt();
        System.out.println("[native] expecting built_with_cuda=" + expected.value() + " because " + expected.evidence());
        assertEquals(expected.value(), EngramNative.builtWithCuda(),
                () -> "engram_built_with_cuda() disagrees with the build: expected " + expected.value()
                        + " because " + expected.evidence());
    }

    @Test
    void statusNamesComeFromTheLibrary() {
        NativeLibraryLoader.require();
        assertEquals("ENGRAM_STATUS_SUCCESS", engram_h.engram_status_string(engram_h.ENGRAM_STATUS_SUCCESS()).getString(0));
        assertEquals("ENGRAM_STATUS_INVALID_ARGUMENT",
                engram_h.engram_status_string(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT()).getString(0));
        assertEquals("ENGRAM_STATUS_CUDA_ERROR", engram_h.engram_status_string(engram_h.ENGRAM_STATUS_CUDA_ERROR()).getString(0));
        assertEquals("ENGRAM_STATUS_NOT_BUILT_WITH_CUDA",
                engram_h.engram_status_string(engram_h.ENGRAM_STATUS_NOT_BUILT_WITH_CUDA()).getString(0));
        assertEquals("ENGRAM_STATUS_INTERNAL_ERROR",
                engram_h.engram_status_string(engram_h.ENGRAM_STATUS_INTERNAL_ERROR()).getString(0));
        assertEquals("ENGRAM_STATUS_UNKNOWN", engram_h.engram_status_string(12345).getString(0));
    }
}
