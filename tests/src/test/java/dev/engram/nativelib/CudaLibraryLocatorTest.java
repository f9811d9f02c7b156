package dev.engram.nativelib;

import dev.engram.NativeLibraryException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The search CUDA libraries go through (cudart, cuBLAS), with explicit inputs so that it behaves the same
 * on a machine with and without CUDA: what is reported when nothing is found, when an override names a
 * missing or broken file, and what is loaded when something is found.
 */
class CudaLibraryLocatorTest {
    private static final String MISSING = "libengram-no-such-library.so.13";

    @Test
    void aMissingFileOverrideIsReportedWithItsSource() {
        CudaLibraryLocator.Result r = CudaLibraryLocator.load("libcublas.so.13", List.of(),
                new CudaLibraryLocator.FileOverride("system property engram.cublas.path=/nonexistent/libcublas.so.13",
                        Path.of("/nonexistent/libcublas.so.13")), null, List.of(), true);
        assertFalse(r.loaded());
        assertEquals("system property engram.cublas.path=/nonexistent/libcublas.so.13 does not name an existing file",
                r.description());
    }

    @Test
    void aFileThatIsNoLibraryFailsToLoadWithoutCrashing(@TempDir Path dir) throws IOException {
        Path bogus = Files.writeString(dir.resolve("libcublas.so.13"), "not an ELF file");
        Files.writeString(dir.resolve("libcublasLt.so.13"), "not an ELF file either"); // companion: ignored
        CudaLibraryLocator.Result r = CudaLibraryLocator.load("libcublas.so.13", List.of("libcublasLt.so.13"),
                new CudaLibraryLocator.FileOverride("environment variable ENGRAM_CUBLAS_PATH=" + bogus, bogus),
                null, List.of(), true);
        assertFalse(r.loaded());
        assertTrue(r.description().startsWith("environment variable ENGRAM_CUBLAS_PATH=" + bogus
                + ": System.load failed: "), r.description());
    }

    @Test
    void aDirectoryOverrideIsTheOnlyPlaceLooked(@TempDir Path empty) {
        CudaLibraryLocator.Result r = CudaLibraryLocator.load(MISSING, List.of(), null, empty,
                List.of(Path.of("/usr/local/cuda/lib64")), true);
        assertFalse(r.loaded());
        assertEquals(MISSING + " not found (looked in: " + empty + " (engram.cuda.libdir/ENGRAM_CUDA_LIBDIR))",
                r.description());
    }

    @Test
    void theDefaultSearchListsEveryDirectoryAndTheDynamicLinker(@TempDir Path root) throws IOException {
        Path a = Files.createDirectory(root.resolve("a"));
        Path b = Files.createDirectory(root.resolve("b"));
        CudaLibraryLocator.Result withLinker = CudaLibraryLocator.load(MISSING, List.of(), null, null, List.of(a, b), true);
        assertEquals(MISSING + " not found (looked in: " + a + ", " + b + ", the dynamic linker's search path)",
                withLinker.description());
        CudaLibraryLocator.Result without = CudaLibraryLocator.load(MISSING, List.of(), null, null, List.of(a), false);
        assertEquals(MISSING + " not found (looked in: " + a + ")", without.description());
    }

    @Test
    void aLibraryInADirectoryIsLoadedFromThere() {
        // The very file the loader already uses (loading it again is a no-op), so no second cudart enters the JVM.
        String loaded;
        try {
            loaded = NativeLibraryLoader.requireCudaRuntime();
        } catch (NativeLibraryException e) {
            assumeTrue(false, e.getMessage());
            return;
        }
        Path dir = Path.of(loaded.replace(" (found by the dynamic linker)", "")).getParent();
        assumeTrue(dir != null && Files.isRegularFile(dir.resolve("libcudart.so.13")), "no libcudart.so.13 beside " + loaded);
        CudaLibraryLocator.Result r = CudaLibraryLocator.load("libcudart.so.13", List.of(), null, dir, List.of(), false);
        assertTrue(r.loaded(), r.description());
        assertEquals(dir.resolve("libcudart.so.13").toAbsolutePath().toString(), r.description());
    }

    @Test
    void aLibraryOnlyTheDynamicLinkerFindsIsLoadedFromItsMappedFile() {
        // libc.so.6 is in no directory given here, but the dynamic linker knows it (and it is already mapped).
        CudaLibraryLocator.Result r = CudaLibraryLocator.load("libc.so.6", List.of(), null, null, List.of(), true);
        assertTrue(r.loaded(), r.description());
        assertTrue(r.description().endsWith("libc.so.6 (found by the dynamic linker)"), r.description());
    }
}
