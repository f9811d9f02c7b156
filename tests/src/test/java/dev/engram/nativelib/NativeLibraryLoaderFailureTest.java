package dev.engram.nativelib;

import dev.engram.Engram;
import dev.engram.bindings.engram_h;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

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
    private static Map<String, String> runProbe(String... jvmArgs) throws IOException, InterruptedException, URISyntaxException {
        Set<String> classPath = new LinkedHashSet<>();
        for (Class<?> c : List.of(LoaderProbeMain.class, NativeLibraryLoader.class, engram_h.class, Engram.class)) {
            classPath.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--enable-native-access=ALL-UNNAMED");
        command.addAll(List.of(jvmArgs));
        command.add("-cp");
        command.add(String.join(File.pathSeparator, classPath));
        command.add(LoaderProbeMain.class.getName());
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove(NativeLibraryLoader.LIBRARY_PATH_ENV);
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe JVM did not finish");
        assertEquals(0, p.exitValue(), () -> "probe JVM failed (" + command + "):\n" + text);
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : text.split("\\R")) {
            int eq = line.indexOf('=');
            if (eq > 0) values.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return values;
    }
}
