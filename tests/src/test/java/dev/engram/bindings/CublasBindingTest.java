package dev.engram.bindings;

import dev.engram.NativeLibraryException;
import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link cublas_h} against its sources: the jextract include list names exactly its functions and constants
 * (runs everywhere); every descriptor matches its prototype in the toolkit's cublas_api.h and every cuBLAS
 * constant its value there (where cuBLAS's headers are installed, directory from system property
 * {@code engram.cuda.include}, default /usr/local/cuda/include); the cudaDataType constants match
 * library_types.h; every symbol resolves in the loaded libcublas.so.13 (where it can be loaded). What cannot
 * run is skipped with the reason.
 *
 * <p>Prototypes are cut out of cublas_api.h by name (only the exported declarations, marked {@code CUBLASAPI}
 * and/or {@code CUBLASWINAPI}, not the C++ {@code static inline} overload of cublasGemmEx; see
 * {@link #prototype}), stripped of {@code CUBLASWINAPI}, and parsed by
 * {@link CHeader} with the header's enum and handle typedefs declared up front; that each of those typedefs
 * is what the headers say (an enum, a struct pointer) is checked too.
 */
class CublasBindingTest {
    /** The typedefs CHeader cannot parse (enums) or that come from other headers, as jextract maps them. */
    private static final String PREAMBLE = """
            typedef int cublasStatus_t;
            typedef int cublasOperation_t;
            typedef int cublasMath_t;
            typedef int cublasComputeType_t;
            typedef int cublasGemmAlgo_t;
            typedef int cudaDataType;
            typedef struct cublasContext* cublasHandle_t;
            typedef struct CUstream_st* cudaStream_t;
            """;
    /** How each PREAMBLE typedef appears in its header (file name, regex). */
    private static final Map<String, List<String>> TYPEDEF_SOURCES = Map.of(
            "cublasStatus_t", List.of("cublas_api.h", "\\}\\s*cublasStatus_t\\s*;"),
            "cublasOperation_t", List.of("cublas_api.h", "\\}\\s*cublasOperation_t\\s*;"),
            "cublasMath_t", List.of("cublas_api.h", "\\}\\s*cublasMath_t\\s*;"),
            "cublasComputeType_t", List.of("cublas_api.h", "\\}\\s*cublasComputeType_t\\s*;"),
            "cublasGemmAlgo_t", List.of("cublas_api.h", "\\}\\s*cublasGemmAlgo_t\\s*;"),
            "cudaDataType", List.of("library_types.h", "typedef\\s+enum\\s+cudaDataType_t\\s*\\{[^}]*\\}\\s*cudaDataType\\s*;"),
            "cublasHandle_t", List.of("cublas_api.h", "typedef\\s+struct\\s+cublasContext\\s*\\*\\s*cublasHandle_t\\s*;"),
            "cudaStream_t", List.of("driver_types.h", "typedef\\s+(?:__device_builtin__\\s+)?struct\\s+CUstream_st\\s*\\*\\s*cudaStream_t\\s*;"));

    private static Path includeDir() {
        return Path.of(System.getProperty("engram.cuda.include", "/usr/local/cuda/include"));
    }

    /** cublas_api.h, or a skip naming where it was expected. */
    private static String cublasApiH() throws IOException {
        Path header = includeDir().resolve("cublas_api.h");
        assumeTrue(Files.isRegularFile(header), "no cuBLAS header " + header
                + " (cuBLAS is not installed here; set -Dengram.cuda.include to a toolkit include directory that has it)");
        return Files.readString(header);
    }

    static Set<String> boundFunctions() {
        return Arrays.stream(cublas_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getName().endsWith("$descriptor"))
                .map(m -> m.getName().substring(0, m.getName().length() - "$descriptor".length()))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    static Set<String> boundConstants() {
        return Arrays.stream(cublas_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 0
                        && m.getReturnType() == int.class && m.getName().matches("(CUBLAS|CUDA)_[A-Z0-9_]+"))
                .map(Method::getName)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * The one exported declaration {@code [CUBLASAPI] ret [CUBLASWINAPI] name(...);} of the header, undecorated;
     * null when absent. CUDA 12's cublas_api.h marks each with {@code CUBLASAPI ... CUBLASWINAPI}; CUDA 13's with
     * {@code CUBLASWINAPI} alone (seen on the H200 machine, 2026-12-04). A declaration needs at least one of the
     * two, which leaves out the C++ {@code static inline} overload of cublasGemmEx (neither, and a body).
     */
    static String prototype(String text, String name) {
        Matcher m = Pattern.compile("^[ \\t]*(CUBLASAPI\\s+)?((?:\\w+[ \\t*]+?)+?)(CUBLASWINAPI\\s+)?" + Pattern.quote(name)
                + "\\s*\\(([^;{}]*?)\\)\\s*;", Pattern.MULTILINE).matcher(text);
        String found = null;
        while (m.find()) {
            if (m.group(1) == null && m.group(3) == null) continue; // not an exported declaration
            String ret = m.group(2).replaceAll("\\bCUBLASWINAPI\\b", " ").trim();
            if (ret.matches(".*\\b(static|inline)\\b.*")) continue;
            if (found != null) throw new AssertionError("two exported declarations of " + name);
            found = ret + " " + name + "(" + m.group(4).trim() + ");";
        }
        return found;
    }

    @Test
    void theIncludeListNamesExactlyTheBoundFunctionsAndConstants() throws IOException {
        Path includes = Path.of(System.getProperty("engram.header", "native/include/engram.h")).toAbsolutePath()
                .normalize().getParent().getParent().getParent().resolve("bindings/jextract/cublas_includes.txt");
        assumeTrue(Files.isRegularFile(includes), "no " + includes);
        List<String> lines = Files.readAllLines(includes).stream().map(String::trim).toList();
        assertEquals(boundFunctions(), listed(lines, "--include-function "));
        assertEquals(boundConstants(), listed(lines, "--include-constant "));
        assertTrue(boundFunctions().containsAll(List.of("cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2",
                "cublasGetStream_v2", "cublasGetVersion_v2", "cublasSetMathMode", "cublasSetWorkspace_v2",
                "cublasGetStatusName", "cublasGetStatusString", "cublasGemmEx")), boundFunctions()::toString);
    }

    private static Set<String> listed(List<String> lines, String prefix) {
        return lines.stream().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length()).trim())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void everyBoundFunctionMatchesItsPrototypeInCublasApiH() throws Exception {
        String source = cublasApiH();
        requireLibcublas(); // jextract's layout resolves a function's symbol together with its descriptor
        StringBuilder decls = new StringBuilder(PREAMBLE);
        List<String> problems = new ArrayList<>();
        for (String name : boundFunctions()) {
            String p = prototype(source, name);
            if (p == null) problems.add(name + ": no exported prototype in cublas_api.h");
            else decls.append(p).append('\n');
        }
        CHeader h = CHeader.parse(decls.toString());
        for (CHeader.Function fn : h.functions) {
            FunctionDescriptor expected = h.descriptor(fn);
            FunctionDescriptor actual = (FunctionDescriptor) cublas_h.class.getMethod(fn.name() + "$descriptor").invoke(null);
            if (!expected.equals(actual)) {
                problems.add(fn.name() + ": cublas_h has " + actual + " but " + fn.returnType() + " " + fn.name()
                        + fn.parameterTypes() + " needs " + expected);
            }
            try {
                Method wrapper = cublas_h.class.getMethod(fn.name(), expected.toMethodType().parameterArray());
                if (wrapper.getReturnType() != expected.toMethodType().returnType()) {
                    problems.add(fn.name() + ": wrapper returns " + wrapper.getReturnType());
                }
            } catch (NoSuchMethodException e) {
                problems.add(fn.name() + ": no wrapper method taking " + expected.toMethodType());
            }
        }
        System.out.println("[cublas bindings] checked " + h.functions.size() + " prototypes of " + includeDir().resolve("cublas_api.h"));
        assertTrue(problems.isEmpty(), () -> "cublas_h out of date with cublas_api.h:\n  " + String.join("\n  ", problems));
        assertEquals(boundFunctions().size(), h.functions.size());
    }

    @Test
    void thePreambleTypedefsAreWhatTheHeadersDeclare() throws IOException {
        cublasApiH(); // skips without cuBLAS's header
        List<String> problems = new ArrayList<>();
        for (var e : TYPEDEF_SOURCES.entrySet()) {
            Path file = includeDir().resolve(e.getValue().get(0));
            String text = Files.isRegularFile(file) ? Files.readString(file) : "";
            if (!Pattern.compile(e.getValue().get(1)).matcher(text).find()) {
                problems.add(e.getKey() + ": not declared as /" + e.getValue().get(1) + "/ in " + file);
            }
        }
        assertTrue(problems.isEmpty(), () -> String.join("\n", problems));
    }

    @Test
    void cublasConstantsMatchCublasApiH() throws Exception {
        checkConstants(cublasApiH(), "CUBLAS_", "cublas_api.h");
    }

    @Test
    void cudaDataTypeConstantsMatchLibraryTypesH() throws Exception {
        Path file = includeDir().resolve("library_types.h");
        assumeTrue(Files.isRegularFile(file), "no " + file);
        checkConstants(Files.readString(file), "CUDA_", "library_types.h");
    }

    private static void checkConstants(String text, String prefix, String headerName) throws ReflectiveOperationException {
        List<String> problems = new ArrayList<>();
        int checked = 0;
        for (String name : boundConstants()) {
            if (!name.startsWith(prefix)) continue;
            Matcher v = Pattern.compile("(?m)^\\s*" + name + "\\s*=\\s*(-?(?:0x[0-9a-fA-F]+|\\d+))").matcher(text);
            if (!v.find()) {
                problems.add(name + ": no enumerator in " + headerName);
                continue;
            }
            int expected = Long.decode(v.group(1)).intValue();
            int actual = (int) cublas_h.class.getMethod(name).invoke(null);
            if (expected != actual) problems.add(name + ": " + actual + " but " + headerName + " says " + expected);
            checked++;
        }
        System.out.println("[cublas bindings] checked " + checked + " constants against " + headerName);
        assertTrue(checked > 0, "no " + prefix + "* constants bound");
        assertTrue(problems.isEmpty(), () -> String.join("\n", problems));
    }

    /** Loads libcublas.so.13, or skips with the loader's reason. */
    private static String requireLibcublas() {
        try {
            return NativeLibraryLoader.requireCublas();
        } catch (NativeLibraryException e) {
            assumeTrue(false, e.getMessage());
            throw e; // not reached
        }
    }

    @Test
    void everyBoundSymbolResolvesInTheLoadedLibcublas() throws Exception {
        String lib = requireLibcublas();
        System.out.println("[cublas bindings] libcublas: " + lib);
        List<String> problems = new ArrayList<>();
        for (String name : boundFunctions()) {
            try {
                MemorySegment address = (MemorySegment) cublas_h.class.getMethod(name + "$address").invoke(null);
                if (address.address() == 0) problems.add(name + ": address 0");
            } catch (java.lang.reflect.InvocationTargetException | ExceptionInInitializerError e) {
                problems.add(name + ": " + (e.getCause() != null ? e.getCause() : e));
            }
        }
        assertTrue(problems.isEmpty(), () -> "unresolved in " + lib + ":\n  " + String.join("\n  ", problems));
    }
}
