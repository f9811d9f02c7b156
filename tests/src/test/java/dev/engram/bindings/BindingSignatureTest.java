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
import java.util.stream.Collectors;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every function and integer {@code #define} of native/include/engram.h (path from system property
 * {@code engram.header}) has a binding in {@link engram_h} with the descriptor / value derived from
 * the C declaration, and engram_h binds nothing the header does not declare. Adding a function to
 * the header without regenerating the bindings fails here.
 */
class BindingSignatureTest {
    private static CHeader header;
    private static Path headerPath;

    @BeforeAll
    static void parseHeader() throws IOException {
        String property = System.getProperty("engram.header");
        assertTrue(property != null && !property.isBlank(), "system property engram.header (path of engram.h) is not set");
        headerPath = Path.of(property);
        assertTrue(Files.isRegularFile(headerPath), "engram.header does not name a file: " + headerPath);
        header = CHeader.parse(Files.readString(headerPath));
        // $descriptor() initializes the function's holder class, which looks the symbol up in libengram.
        NativeLibraryLoader.require();
    }

    @Test
    void headerIsParsed() {
        System.out.println("[bindings] " + headerPath + ": " + header.functions.size() + " functions "
                + header.functions.stream().map(CHeader.Function::name).toList() + ", defines " + header.defines.keySet());
        assertTrue(header.functions.size() >= 8, "expected at least the 8 functions of ABI 1, parsed " + header.functions);
        assertTrue(header.defines.containsKey("ENGRAM_ABI_VERSION"));
        assertEquals("int32_t", header.typedefs.get("engram_status_t"));
    }

    @Test
    void everyFunctionHasABindingWithTheDescriptorOfItsCSignature() throws Exception {
        List<String> problems = bindingProblems(header);
        assertTrue(problems.isEmpty(), () -> "bindings out of date with " + headerPath + ":\n  " + String.join("\n  ", problems));
    }

    /** What is wrong between the functions of {@code h} and engram_h: missing bindings, wrong descriptors, unresolved symbols. */
    private static List<String> bindingProblems(CHeader h) throws ReflectiveOperationException {
        List<String> problems = new ArrayList<>();
        for (CHeader.Function fn : h.functions) {
            FunctionDescriptor expected = h.descriptor(fn);
            Method descriptor;
            try {
                descriptor = engram_h.class.getMethod(fn.name() + "$descriptor");
            } catch (NoSuchMethodException e) {
                problems.add(fn.name() + ": no binding (add '--include-function " + fn.name()
                        + "' to bindings/jextract/includes.txt and run bindings/jextract/regenerate.sh)");
                continue;
            }
            FunctionDescriptor actual = (FunctionDescriptor) descriptor.invoke(null);
            if (!expected.equals(actual)) {
                problems.add(fn.name() + ": engram_h has " + actual + " but " + fn.returnType() + " " + fn.name()
                        + fn.parameterTypes() + " needs " + expected);
                continue;
            }
            MemorySegment address = (MemorySegment) engram_h.class.getMethod(fn.name() + "$address").invoke(null);
            if (address.address() == 0) {
                problems.add(fn.name() + ": resolves to address 0 in libengram");
            }
            Method wrapper = engram_h.class.getMethod(fn.name(), expected.toMethodType().parameterArray());
            if (wrapper.getReturnType() != expected.toMethodType().returnType()) {
                problems.add(fn.name() + ": wrapper returns " + wrapper.getReturnType() + ", descriptor says "
                        + expected.toMethodType().returnType());
            }
        }
        return problems;
    }

    @Test
    void engramHBindsNothingTheHeaderDoesNotDeclare() {
        Set<String> declared = header.functions.stream().map(CHeader.Function::name).collect(Collectors.toSet());
        Set<String> bound = Arrays.stream(engram_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getName().endsWith("$descriptor"))
                .map(m -> m.getName().substring(0, m.getName().length() - "$descriptor".length()))
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(declared), bound, "functions bound in engram_h vs declared in engram.h");
    }

    @Test
    void everyIntegerDefineHasAConstantWithTheSameValue() throws Exception {
        List<String> problems = new ArrayList<>();
        for (var define : header.defines.entrySet()) {
            if (!define.getKey().startsWith("ENGRAM_")) continue;
            Method getter;
            try {
                getter = engram_h.class.getMethod(define.getKey());
            } catch (NoSuchMethodException e) {
                problems.add(define.getKey() + ": no constant (add '--include-constant " + define.getKey()
                        + "' to bindings/jextract/includes.txt and regenerate)");
                continue;
            }
            Object value = getter.invoke(null);
            if (!(value instanceof Integer i) || i.longValue() != define.getValue()) {
                problems.add(define.getKey() + ": engram_h says " + value + ", engram.h says " + define.getValue());
            }
        }
        assertTrue(problems.isEmpty(), () -> "constants out of date with " + headerPath + ":\n  " + String.join("\n  ", problems));
        Set<String> boundConstants = Arrays.stream(engram_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 0
                        && m.getName().startsWith("ENGRAM_") && m.getReturnType() == int.class)
                .map(Method::getName)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(header.defines.keySet()), boundConstants, "ENGRAM_* constants bound vs defined");
    }

    @Test
    void jextractSymbolListCoversTheHeader() throws IOException {
        Path includes = headerPath.toAbsolutePath().normalize().getParent().getParent().getParent()
                .resolve("bindings/jextract/includes.txt");
        assumeTrue(Files.isRegularFile(includes), "no bindings/jextract/includes.txt beside this engram.h: " + includes);
        Set<String> lines = Files.readAllLines(includes).stream().map(String::trim)
                .filter(l -> l.startsWith("--include-")).map(l -> l.replaceAll("\\s+", " ")).collect(Collectors.toSet());
        List<String> missing = new ArrayList<>();
        header.functions.forEach(f -> {
            if (!lines.contains("--include-function " + f.name())) missing.add("--include-function " + f.name());
        });
        header.defines.keySet().forEach(d -> {
            if (!lines.contains("--include-constant " + d)) missing.add("--include-constant " + d);
        });
        assertTrue(missing.isEmpty(), () -> includes + " lacks:\n  " + String.join("\n  ", missing));
    }

    @Test
    void parserHandlesMultiLinePrototypesConstPointersAndVoid() {
        CHeader h = CHeader.parse("""
                /* comment with a fake prototype: int nope(void); */
                #ifndef X_H
                #define X_H
                #define X_ONE 1
                #define X_NEG -4
                #define X_HEX 0x10
                #include <stdint.h>
                #ifdef __cplusplus
                extern "C" {
                #endif
                typedef int32_t x_status_t;   // trailing comment
                const char* x_name(void);
                x_status_t x_run(const int64_t* in,
                                 int64_t n,
                                 const   int32_t  *  const lens,
                                 double scale, void* user);
                void x_free(void *p);
                int32_t x_unnamed(int64_t, const float*);
                #ifdef __cplusplus
                }
                #endif
                #endif
                """);
        assertEquals(List.of("x_name", "x_run", "x_free", "x_unnamed"), h.functions.stream().map(CHeader.Function::name).toList());
        assertEquals(1L, h.defines.get("X_ONE"));
        assertEquals(-4L, h.defines.get("X_NEG"));
        assertEquals(16L, h.defines.get("X_HEX"));
        assertFalse(h.defines.containsKey("X_H"), "empty include-guard macros are not constants");
        assertEquals(FunctionDescriptor.of(CHeader.POINTER), h.descriptor(h.functions.get(0)));
        assertEquals(FunctionDescriptor.of(JAVA_INT, CHeader.POINTER,
                JAVA_LONG, CHeader.POINTER, JAVA_DOUBLE,
                CHeader.POINTER), h.descriptor(h.functions.get(1)));
        assertEquals(FunctionDescriptor.ofVoid(CHeader.POINTER), h.descriptor(h.functions.get(2)));
        assertEquals(FunctionDescriptor.of(JAVA_INT, JAVA_LONG,
                CHeader.POINTER), h.descriptor(h.functions.get(3)));
    }

    @Test
    void aFunctionAddedToTheHeaderWithoutABindingIsReported() throws Exception {
        String grown = Files.readString(headerPath).replace("#endif /* ENGRAM_H */",
                "int32_t engram_new_entry_point(const int64_t* ids, int64_t n);\n#endif /* ENGRAM_H */");
        assertNotEquals(Files.readString(headerPath), grown, "test premise: the header ends with its include guard");
        List<String> problems = bindingProblems(CHeader.parse(grown));
        assertEquals(1, problems.size(), problems::toString);
        assertTrue(problems.getFirst().startsWith("engram_new_entry_point: no binding"), problems::toString);
    }

    @Test
    void aChangedSignatureIsReported() throws Exception {
        String changed = Files.readString(headerPath).replace("int32_t engram_abi_version(void);",
                "int64_t engram_abi_version(void);");
        assertNotEquals(Files.readString(headerPath), changed, "test premise: engram_abi_version returns int32_t");
        List<String> problems = bindingProblems(CHeader.parse(changed));
        assertEquals(1, problems.size(), problems::toString);
        assertTrue(problems.getFirst().startsWith("engram_abi_version: engram_h has"), problems::toString);
    }
}
