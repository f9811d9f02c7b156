package dev.engram.bindings;

import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.BeforeAll;
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
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every function bound in {@link cuda_runtime_h} has the descriptor of its prototype in the CUDA toolkit's
 * cuda_runtime_api.h (directory from system property {@code engram.cuda.include}, default
 * /usr/local/cuda/include), and resolves in the loaded libcudart. The prototypes are cut out of the header
 * by name, stripped of CUDA's decorations ({@code extern __host__ __cudart_builtin__ CUDARTAPI}, {@code __dv(0)}
 * default arguments), enums mapped to int as jextract does, and parsed by {@link CHeader} with the two
 * opaque handle typedefs of driver_types.h ({@code cudaStream_t}, {@code cudaEvent_t}, {@code cudaGraph_t},
 * {@code cudaGraphExec_t}) and
 * {@code cudaError_t} (an enum) declared up front. Needs no GPU.
 */
class CudaRuntimeBindingTest {
    private static final String PREAMBLE = """
            typedef int cudaError_t;
            typedef struct CUstream_st* cudaStream_t;
            typedef struct CUevent_st* cudaEvent_t;
            typedef struct CUgraph_st* cudaGraph_t;
            typedef struct CUgraphExec_st* cudaGraphExec_t;
            """;
    private static Path header;
    private static String source;

    @BeforeAll
    static void readHeader() throws IOException {
        Path dir = Path.of(System.getProperty("engram.cuda.include", "/usr/local/cuda/include"));
        header = dir.resolve("cuda_runtime_api.h");
        assumeTrue(Files.isRegularFile(header), "no CUDA toolkit header " + header
                + " (set -Dengram.cuda.include to the toolkit's include directory)");
        source = Files.readString(header);
    }

    static Set<String> boundFunctions() {
        return Arrays.stream(cuda_runtime_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getName().endsWith("$descriptor"))
                .map(m -> m.getName().substring(0, m.getName().length() - "$descriptor".length()))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** The first {@code extern __host__ ... name(...);} declaration of the header, undecorated. */
    static String prototype(String text, String name) {
        Matcher m = Pattern.compile("^\\s*extern\\s+__host__([^;(]*)\\b" + Pattern.quote(name) + "\\s*\\(([^;]*)\\)\\s*;",
                Pattern.MULTILINE).matcher(text);
        if (!m.find()) return null;
        String ret = m.group(1).replaceAll("\\b(__cudart_builtin__|__device__|CUDARTAPI)\\b", " ");
        String params = m.group(2).replaceAll("__dv\\([^)]*\\)", " ").replaceAll("\\benum\\s+\\w+", "int");
        return ret.trim() + " " + name + "(" + params.trim() + ");";
    }

    @Test
    void everyBoundFunctionMatchesItsPrototypeInCudaRuntimeApiH() throws Exception {
        Set<String> bound = boundFunctions();
        assertTrue(bound.size() >= 29, "expected at least 29 bound cudart functions, got " + bound);
        StringBuilder decls = new StringBuilder(PREAMBLE);
        List<String> problems = new ArrayList<>();
        for (String name : bound) {
            String p = prototype(source, name);
            if (p == null) problems.add(name + ": no prototype in " + header);
            else decls.append(p).append('\n');
        }
        CHeader h = CHeader.parse(decls.toString());
        for (CHeader.Function fn : h.functions) {
            FunctionDescriptor expected = h.descriptor(fn);
            FunctionDescriptor actual = (FunctionDescriptor) cuda_runtime_h.class.getMethod(fn.name() + "$descriptor").invoke(null);
            if (!expected.equals(actual)) {
                problems.add(fn.name() + ": cuda_runtime_h has " + actual + " but " + fn.returnType() + " " + fn.name()
                        + fn.parameterTypes() + " needs " + expected);
            }
            Method wrapper = cuda_runtime_h.class.getMethod(fn.name(), expected.toMethodType().parameterArray());
            if (wrapper.getReturnType() != expected.toMethodType().returnType()) {
                problems.add(fn.name() + ": wrapper returns " + wrapper.getReturnType());
            }
        }
        System.out.println("[cuda bindings] checked " + h.functions.size() + " prototypes of " + header);
        assertTrue(problems.isEmpty(), () -> "cuda_runtime_h out of date with " + header + ":\n  " + String.join("\n  ", problems));
        assertEquals(bound.size(), h.functions.size());
    }

    @Test
    void everyBoundSymbolResolvesInTheLoadedCudart() throws Exception {
        String cudart = NativeLibraryLoader.requireCudaRuntime();
        System.out.println("[cuda bindings] cudart: " + cudart);
        List<String> problems = new ArrayList<>();
        for (String name : boundFunctions()) {
            try {
                MemorySegment address = (MemorySegment) cuda_runtime_h.class.getMethod(name + "$address").invoke(null);
                if (address.address() == 0) problems.add(name + ": address 0");
            } catch (java.lang.reflect.InvocationTargetException | ExceptionInInitializerError e) {
                problems.add(name + ": " + (e.getCause() != null ? e.getCause() : e));
            }
        }
        assertTrue(problems.isEmpty(), () -> "unresolved in " + cudart + ":\n  " + String.join("\n  ", problems));
    }

    @Test
    void theIncludeListNamesExactlyTheBoundFunctions() throws IOException {
        Path includes = Path.of(System.getProperty("engram.header", "native/include/engram.h")).toAbsolutePath()
                .normalize().getParent().getParent().getParent().resolve("bindings/jextract/cuda_runtime_includes.txt");
        assumeTrue(Files.isRegularFile(includes), "no " + includes);
        Set<String> listed = Files.readAllLines(includes).stream().map(String::trim)
                .filter(l -> l.startsWith("--include-function ")).map(l -> l.substring("--include-function ".length()).trim())
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(boundFunctions(), listed);
    }

    /** The constants too (enumConstantsMatchTheToolkitHeaders checks their values), e.g. cudaHostRegisterReadOnly. */
    @Test
    void theIncludeListNamesExactlyTheBoundConstants() throws IOException {
        Path includes = Path.of(System.getProperty("engram.header", "native/include/engram.h")).toAbsolutePath()
                .normalize().getParent().getParent().getParent().resolve("bindings/jextract/cuda_runtime_includes.txt");
        assumeTrue(Files.isRegularFile(includes), "no " + includes);
        Set<String> listed = Files.readAllLines(includes).stream().map(String::trim)
                .filter(l -> l.startsWith("--include-constant ")).map(l -> l.substring("--include-constant ".length()).trim())
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> functions = boundFunctions();
        Set<String> bound = Arrays.stream(cuda_runtime_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 0 && m.getReturnType() == int.class
                        && m.getName().startsWith("cuda") && !functions.contains(m.getName()))
                .map(Method::getName).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(listed, bound);
        assertTrue(bound.contains("cudaHostRegisterReadOnly") && bound.contains("cudaDevAttrHostRegisterReadOnlySupported"),
                "the read-only registration of a checkpoint's mapped table needs both");
    }

    @Test
    void cudaPointerAttributesMatchesDriverTypesH() throws IOException {
        Path driverTypes = header.resolveSibling("driver_types.h");
        assumeTrue(Files.isRegularFile(driverTypes), "no " + driverTypes);
        Matcher body = Pattern.compile("struct\\s+__device_builtin__\\s+cudaPointerAttributes\\s*\\{(.*?)\\};", Pattern.DOTALL)
                .matcher(Files.readString(driverTypes));
        assertTrue(body.find(), "struct cudaPointerAttributes in " + driverTypes);
        List<String> declared = new ArrayList<>();
        // Every field declaration, arrays included: a field the binding lacks would let CUDA write past its struct.
        String fields = body.group(1).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
        Matcher field = Pattern.compile("([A-Za-z_][\\w\\s*]*?)\\s*\\b(\\w+)\\s*(?:\\[(\\d+)\\])?\\s*;").matcher(fields);
        while (field.find()) {
            String type = field.group(1).trim();
            String kind = type.endsWith("*") ? "pointer" : type.equals("long") ? "long" : "int"; // enums are ints
            declared.add(kind + " " + field.group(2) + (field.group(3) == null ? "" : "[" + field.group(3) + "]"));
        }
        List<String> bound = new ArrayList<>();
        for (var member : cudaPointerAttributes.layout().memberLayouts()) {
            String name = member.name().orElseThrow();
            if (member instanceof java.lang.foreign.SequenceLayout seq) {
                bound.add(kindOf(seq.elementLayout()) + " " + name + "[" + seq.elementCount() + "]");
            } else {
                bound.add(kindOf(member) + " " + name);
            }
        }
        assertEquals(declared, bound, "cudaPointerAttributes fields (in order) against " + driverTypes);
        assertEquals(88, cudaPointerAttributes.sizeof(), "two ints, two pointers and long reserved[8], no padding");
    }

    private static String kindOf(java.lang.foreign.MemoryLayout layout) {
        if (layout instanceof java.lang.foreign.AddressLayout) return "pointer";
        return layout.byteSize() == 8 ? "long" : "int";
    }

    @Test
    void enumConstantsMatchTheToolkitHeaders() throws IOException {
        Path driverTypes = header.resolveSibling("driver_types.h");
        assumeTrue(Files.isRegularFile(driverTypes), "no " + driverTypes);
        String text = Files.readString(driverTypes);
        List<String> problems = new ArrayList<>();
        Set<String> functions = boundFunctions();
        for (Method m : cuda_runtime_h.class.getMethods()) {
            if (functions.contains(m.getName()) || !Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0 || m.getReturnType() != int.class
                    || !m.getName().startsWith("cuda")) continue;
            Matcher v = Pattern.compile("(?m)(?:^\\s*" + m.getName() + "\\s*=\\s*|#define\\s+" + m.getName()
                    + "\\s+)(0x[0-9a-fA-F]+|\\d+)").matcher(text);
            if (!v.find()) { problems.add(m.getName() + ": not found in driver_types.h"); continue; }
            try {
                int expected = Long.decode(v.group(1)).intValue();
                int actual = (int) m.invoke(null);
                if (expected != actual) problems.add(m.getName() + ": " + actual + " but header says " + expected);
            } catch (ReflectiveOperationException e) {
                problems.add(m.getName() + ": " + e);
            }
        }
        assertTrue(problems.isEmpty(), () -> String.join("\n", problems));
    }
}
