package dev.engram.testing;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
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
 * Runs a {@code main} class in a fresh JVM (for what happens once per JVM, such as loading a native library)
 * and returns the {@code key=value} lines it printed.
 */
public final class ForkedJvm {
    private ForkedJvm() {}

    /**
     * @param main       the class to run; its code source and those of {@code classes} form the class path
     * @param classes    classes whose jars or directories the forked JVM needs besides {@code main}'s
     * @param removedEnv environment variables to unset in the forked JVM (so that only {@code jvmArgs} decide)
     * @param jvmArgs    extra JVM arguments, e.g. {@code -Dname=value}
     * @return the printed {@code key=value} lines, in order
     */
    public static Map<String, String> run(Class<?> main, List<Class<?>> classes, List<String> removedEnv,
                                          String... jvmArgs) throws Exception {
        Set<String> classPath = new LinkedHashSet<>();
        classPath.add(location(main));
        for (Class<?> c : classes) classPath.add(location(c));
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--enable-native-access=ALL-UNNAMED");
        command.addAll(List.of(jvmArgs));
        command.add("-cp");
        command.add(String.join(File.pathSeparator, classPath));
        command.add(main.getName());
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        removedEnv.forEach(pb.environment()::remove);
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "forked JVM did not finish");
        assertEquals(0, p.exitValue(), () -> "forked JVM failed (" + command + "):\n" + text);
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : text.split("\\R")) {
            int eq = line.indexOf('=');
            if (eq > 0) values.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return values;
    }

    private static String location(Class<?> c) throws URISyntaxException {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }
}
