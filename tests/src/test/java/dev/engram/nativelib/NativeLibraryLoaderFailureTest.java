package dev.engram.nativelib;

import dev.engram.NativeLibraryException;
import dev.engram.Engram;
import dev.engram.bindings.engram_h;
import dev.engram.testing.ForkedJvm;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loading failures are values: in a fresh JVM whose libengram override names a missing file,
 * nothing throws from a static initializer, the GPU probe reports the reason, and only
 * {@code require()} throws.
 */
class NativeLibraryLoaderFailureTest {

    @Test
    void aMissingOverrideIsReportedNotThrown() throws Exception {
        Map<String, String> out = runProbe("-D" + NativeLibraryLoader.LIBRARY_PATH_PROPERTY + "=/nonexistent/libengram.so");
        assertEquals("LOAD_FAILED", out.get("outcome"), out::toString);
        assertEquals("system property engram.library.path=/nonexistent/libengram.so does not name an existing file",
                out.get("message"), out::toString);
        assertEquals("false", out.get("gpu.available"), out::toString);
        assertEquals("native library could not be loaded: system property engram.library.path=/nonexistent/libengram.so"
                + " does not name an existing file", out.get("gpu.reasons"), out::toString);
        assertTrue(out.get("require").startsWith("NativeLibraryException: libengram could not be loaded"), out::toString);
        assertEquals("NativeLibraryException", out.get("version"), out::toString);
    }

    @Test
    void theSameProbeLoadsNormally() throws Exception {
        Map<String, String> out = runProbe();
        assertEquals("LOADED", out.get("outcome"), out::toString);
        assertEquals("ok", out.get("require"), out::toString);
        assertEquals("0.1.0", out.get("version"), out::toString);
    }

    /** Starts {@code java LoaderProbeMain} on the classes under test and parses its key=value lines. */
    private static Map<String, String> runProbe(String... jvmArgs) throws Exception {
        return ForkedJvm.run(LoaderProbeMain.class, List.of(NativeLibraryLoader.class, engram_h.class, Engram.class),
                List.of(NativeLibraryLoader.LIBRARY_PATH_ENV), jvmArgs);
    }
}
