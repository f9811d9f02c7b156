package dev.engram.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/engram}, the launcher, run as a process: the CLI's one-line errors and exit codes come through
 * with no stack trace, and the launcher's own problems (no jar, old Java) are one clear line. Needs the
 * launcher's path ({@code engram.launcher}, set by tests/pom.xml) and, for the runs of the CLI itself, the
 * jar that {@code mvn package} builds in cli/target (the reactor builds it before this module's tests).
 */
class LauncherTest {
    private static final String PROPERTY = "engram.launcher";

    @TempDir
    Path tmp;

    @Test
    void aBadOptionIsTheCliErrorLineAndExitCodeTwo() throws Exception {
        Result r = run(builtLauncher(), Map.of(), "hash", "--bogus");
        assertEquals(Main.USAGE_ERROR, r.code(), r::describe);
        assertEquals("", r.out(), "stdout");
        assertEquals("error: unknown option --bogus for 'hash' (see 'hash --help')", r.err().strip(), "stderr");
    }

    @Test
    void helpListsTheCommands() throws Exception {
        Result r = run(builtLauncher(), Map.of(), "--help");
        assertEquals(Main.OK, r.code(), r::describe);
        for (String command : List.of("demo", "hash", "forward")) {
            assertTrue(r.out().contains("  " + command + " "), () -> "expected " + command + " in " + r.out());
        }
    }

    @Test
    void withoutTheJarItSaysHowToBuildIt() throws Exception {
        Path copy = copyLauncher(tmp.resolve("checkout"));
        Result r = run(copy, Map.of(), "hash", "--help");
        assertEquals(1, r.code(), r::describe);
        assertOneLine(r, "engram: no CLI jar in", "run mvn -q -B package -DskipTests first");
    }

    @Test
    void anOldJavaIsRefusedWithoutRunningIt() throws Exception {
        Path copy = copyLauncher(tmp.resolve("checkout"));
        Path jdk = tmp.resolve("jdk-17");
        Files.createDirectories(jdk.resolve("bin"));
        Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"17.0.2\"\n");
        Path java = Files.writeString(jdk.resolve("bin/java"), "#!/bin/sh\necho 'old java ran'\nexit 99\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Result r = run(copy, Map.of("JAVA_HOME", jdk.toString(), "PATH", jdk.resolve("bin") + ":/usr/bin:/bin"), "--help");
        assertEquals(1, r.code(), r::describe);
        assertOneLine(r, "engram: needs Java 22 or newer", jdk.resolve("bin/java") + " is Java 17");
        assertFalse(r.out().contains("old java ran"), "the old java must not run");
    }

    private static void assertOneLine(Result r, String... fragments) {
        List<String> lines = r.err().strip().lines().toList();
        assertEquals(1, lines.size(), r::describe);
        for (String f : fragments) assertTrue(lines.getFirst().contains(f), () -> "expected '" + f + "' in " + r.describe());
    }

    /** The repository's launcher; skips (with the reason) where it or the CLI jar it runs is absent. */
    private static Path builtLauncher() throws IOException {
        Path launcher = launcher();
        Path target = launcher.getParent().getParent().resolve("cli").resolve("target");
        boolean built;
        try (Stream<Path> s = Files.isDirectory(target) ? Files.list(target) : Stream.empty()) {
            built = s.anyMatch(p -> p.getFileName().toString().matches("engram-cli-.*(?<!-sources|-javadoc|-tests)\\.jar"));
        }
        Assumptions.assumeTrue(built && Files.isDirectory(target.resolve("lib")),
                "no CLI jar in " + target + " (built by mvn package, which runs before this module's tests in the reactor)");
        return launcher;
    }

    private static Path launcher() {
        String p = System.getProperty(PROPERTY);
        Assumptions.assumeTrue(p != null, "system property " + PROPERTY + " is not set (tests/pom.xml sets it;"
                + " runs from a bundle have no launcher)");
        Path launcher = Path.of(p);
        Assumptions.assumeTrue(Files.isExecutable(launcher), launcher + " is not an executable file");
        return launcher;
    }

    /** A copy of the launcher at {@code root}/bin/engram, in a checkout with nothing built. */
    private static Path copyLauncher(Path root) throws IOException {
        Path copy = root.resolve("bin").resolve("engram");
        Files.createDirectories(copy.getParent());
        Files.copy(launcher(), copy);
        Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rwxr-xr-x"));
        return copy;
    }

    /** Runs the launcher with JAVA_HOME at this JVM (a Java 22+), plus {@code env}. */
    private static Result run(Path launcher, Map<String, String> env, String... args) throws Exception {
        var command = new java.util.ArrayList<>(List.of(launcher.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("ENGRAM_JAVA_OPTS");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().putAll(env);
        Path out = Files.createTempFile("launcher", ".out"), err = Files.createTempFile("launcher", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the launcher did not finish within 60 s: " + command);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private record Result(int code, String out, String err) {
        String describe() {
            return "exit " + code + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
        }
    }
}
