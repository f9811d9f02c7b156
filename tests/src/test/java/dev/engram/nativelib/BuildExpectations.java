package dev.engram.nativelib;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the build says libengram should be, independently of the library itself.
 *
 * <p>Whether it was built with CUDA comes from system property {@code engram.expectCuda}
 * ({@code true}/{@code false}; tests/run-without-maven.sh sets it from the bundle) or else from the
 * CMake cache of this checkout ({@code engram.cmake.cache}, default
 * {@code <root>/bindings/target/cmake/CMakeCache.txt}, root found from {@code engram.header}).
 * With neither, the test that needs it fails and says how to provide it.
 */
final class BuildExpectations {

    record Expectation(boolean value, String evidence) {}

    private BuildExpectations() {}

    static Expectation cudaBuilt() {
        String property = System.getProperty("engram.expectCuda");
        if (property != null && !property.isBlank()) {
            if (!property.equals("true") && !property.equals("false")) {
                throw new AssertionError("engram.expectCuda must be true or false, got '" + property + "'");
            }
            return new Expectation(Boolean.parseBoolean(property), "system property engram.expectCuda=" + property);
        }
        Path cache = cmakeCache();
        if (cache == null || !Files.isRegularFile(cache)) {
            throw new AssertionError("cannot tell whether libengram should have CUDA: no -Dengram.expectCuda=true|false"
                    + " and no CMake cache at " + cache + " (set engram.cmake.cache or engram.expectCuda)");
        }
        Map<String, String> entries = readCache(cache);
        boolean withCuda = entries.getOrDefault("ENGRAM_WITH_CUDA", "ON").equalsIgnoreCase("ON");
        // The CMakeLists finds nvcc itself (ENGRAM_NVCC) unless CMAKE_CUDA_COMPILER/CUDACXX was given,
        // in which case check_language(CUDA) caches CMAKE_CUDA_COMPILER.
        String compiler = null;
        for (String key : List.of("CMAKE_CUDA_COMPILER", "ENGRAM_NVCC")) {
            String value = entries.get(key);
            if (value != null && !value.isBlank() && !value.endsWith("-NOTFOUND") && !value.equals("NOTFOUND")) {
                compiler = key + "=" + value;
                break;
            }
        }
        boolean expected = withCuda && compiler != null;
        String evidence = "CMake cache " + cache + ": ENGRAM_WITH_CUDA=" + entries.getOrDefault("ENGRAM_WITH_CUDA", "(unset)")
                + ", CUDA compiler " + (compiler == null ? "not found" : compiler);
        return new Expectation(expected, evidence);
    }

    private static Path cmakeCache() {
        String explicit = System.getProperty("engram.cmake.cache");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        String header = System.getProperty("engram.header");
        if (header == null || header.isBlank()) {
            return null;
        }
        Path root = Path.of(header).toAbsolutePath().normalize().getParent().getParent().getParent();
        return root.resolve("bindings/target/cmake/CMakeCache.txt");
    }

    private static Map<String, String> readCache(Path cache) {
        Map<String, String> entries = new HashMap<>();
        try {
            for (String line : Files.readAllLines(cache)) {
                if (line.startsWith("#") || line.startsWith("//")) continue;
                int colon = line.indexOf(':');
                int eq = line.indexOf('=');
                if (colon > 0 && eq > colon) {
                    entries.put(line.substring(0, colon), line.substring(eq + 1).trim());
                }
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read CMake cache " + cache + ": " + e, e);
        }
        return entries;
    }
}
