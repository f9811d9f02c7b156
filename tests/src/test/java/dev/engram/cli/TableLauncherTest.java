package dev.engram.cli;

import dev.engram.cli.tokenizer.TokenizerFixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/engram table} as a process, from the jars {@code mvn package} leaves in cli/target: the
 * tokenizers binding and its native library come from cli/target/lib, and with an empty DJL cache the only
 * thing DJL puts there is the CPU library copied from its jar (nothing downloaded, no CUDA build asked for).
 */
class TableLauncherTest {
    @TempDir
    Path tmp;

    @Test
    void buildsTheTableOfflineFromTheJarsNativeLibrary() throws Exception {
        Path launcher = builtLauncher();
        Path tokenizer = TokenizerFixtures.copy(TokenizerFixtures.BYTE_FALLBACK, tmp);
        Path out = tmp.resolve("lut.i64.bin");
        Path cache = tmp.resolve("djl-cache");
        Path stdoutFile = tmp.resolve("stdout.txt");
        Path stderrFile = tmp.resolve("stderr.txt");
        Process p = process(launcher, cache, "table", "--tokenizer", tokenizer.toString(), "--out", out.toString())
                .redirectOutput(stdoutFile.toFile()).redirectError(stderrFile.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the launcher did not finish within 60 s");
        }
        String stdout = Files.readString(stdoutFile, StandardCharsets.UTF_8);
        String stderr = Files.readString(stderrFile, StandardCharsets.UTF_8);
        assertEquals(Main.OK, p.exitValue(), () -> "stdout:\n" + stdout + "stderr:\n" + stderr);
        assertEquals("", stderr, "nothing on stderr: no SLF4J or native-access warning");
        assertTrue(stdout.contains("vocab size (len(tokenizer)): 28\ncompressed size V': 18"), stdout);
        assertEquals(28 * 8, Files.size(out));
        try (Stream<Path> files = Files.walk(cache)) {
            List<String> all = files.filter(Files::isRegularFile).map(f -> cache.relativize(f).toString()).toList();
            assertEquals(1, all.size(), () -> "DJL's cache: " + all);
            assertTrue(all.getFirst().matches("tokenizers/[0-9.]+-[0-9.]+-cpu-[a-z0-9_-]+/libtokenizers\\.(so|dylib)"),
                    () -> "the CPU library from the jar, got " + all);
        }
    }

    private static ProcessBuilder process(Path launcher, Path cache, String... args) {
        List<String> command = new ArrayList<>(List.of(launcher.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("ENGRAM_JAVA_OPTS");
        for (String v : List.of("ENGINE_CACHE_DIR", "DJL_OFFLINE", "RUST_FLAVOR", "RUST_LIBRARY_PATH", "OPT_OUT_TRACKING")) {
            pb.environment().remove(v);
        }
        pb.environment().put("DJL_CACHE_DIR", cache.toString());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return pb;
    }

    /** The repository's launcher with a built CLI; skips (with the reason) where either is absent. */
    private static Path builtLauncher() throws IOException {
        String p = System.getProperty("engram.launcher");
        Assumptions.assumeTrue(p != null, "system property engram.launcher is not set (tests/pom.xml sets it;"
                + " runs from a bundle have no launcher)");
        Path launcher = Path.of(p);
        Path target = launcher.getParent().getParent().resolve("cli").resolve("target");
        boolean built;
        try (Stream<Path> s = Files.isDirectory(target) ? Files.list(target) : Stream.empty()) {
            built = s.anyMatch(f -> f.getFileName().toString().matches("engram-cli-.*(?<!-sources|-javadoc|-tests)\\.jar"));
        }
        Assumptions.assumeTrue(built && Files.isDirectory(target.resolve("lib")),
                "no CLI jar in " + target + " (built by mvn package, which runs before this module's tests in the reactor)");
        return launcher;
    }
}
