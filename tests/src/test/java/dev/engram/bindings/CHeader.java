package dev.engram.bindings;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A deliberately small parser for flat C ABI headers like engram.h: integer {@code #define}s,
 * scalar typedefs and function prototypes (possibly spanning lines, with {@code const}, pointers and
 * {@code (void)} parameter lists). It maps each prototype to the FunctionDescriptor jextract would
 * generate on Linux x86-64, independently of the bindings under test.
 */
final class CHeader {

    /** A declared function: its name, C return type and C parameter types (no names). */
    record Function(String name, String returnType, List<String> parameterTypes) {}

    private static final Pattern DEFINE = Pattern.compile("^\\s*#\\s*define\\s+(\\w+)\\s+(-?(?:0[xX][0-9a-fA-F]+|\\d+))[uUlL]*\\s*$");
    private static final Pattern TYPEDEF = Pattern.compile("^typedef\\s+(.+?)\\s+(\\w+)$");
    private static final Pattern PROTOTYPE = Pattern.compile("^(.+?)\\b(\\w+)\\s*\\((.*)\\)$");
    private static final Pattern PARAM_NAME = Pattern.compile("^(.*?[\\w*\\s])\\s*\\b(\\w+)$");

    /** jextract's layout for a C pointer: an address whose target is a byte sequence of unknown size. */
    @SuppressWarnings("restricted")
    static final ValueLayout POINTER = ValueLayout.ADDRESS
            .withTargetLayout(MemoryLayout.sequenceLayout(Long.MAX_VALUE, ValueLayout.JAVA_BYTE));

    private static final Map<String, ValueLayout> SCALARS = Map.ofEntries(
            Map.entry("int8_t", ValueLayout.JAVA_BYTE), Map.entry("uint8_t", ValueLayout.JAVA_BYTE),
            Map.entry("char", ValueLayout.JAVA_BYTE),
            Map.entry("int16_t", ValueLayout.JAVA_SHORT), Map.entry("uint16_t", ValueLayout.JAVA_SHORT),
            Map.entry("int32_t", ValueLayout.JAVA_INT), Map.entry("uint32_t", ValueLayout.JAVA_INT),
            Map.entry("int", ValueLayout.JAVA_INT), Map.entry("unsigned int", ValueLayout.JAVA_INT),
            Map.entry("int64_t", ValueLayout.JAVA_LONG), Map.entry("uint64_t", ValueLayout.JAVA_LONG),
            Map.entry("size_t", ValueLayout.JAVA_LONG), Map.entry("long", ValueLayout.JAVA_LONG),
            Map.entry("long long", ValueLayout.JAVA_LONG), Map.entry("unsigned long long", ValueLayout.JAVA_LONG),
            Map.entry("float", ValueLayout.JAVA_FLOAT), Map.entry("double", ValueLayout.JAVA_DOUBLE));

    final Map<String, Long> defines = new LinkedHashMap<>();
    final Map<String, String> typedefs = new LinkedHashMap<>();
    final List<Function> functions = new ArrayList<>();

    static CHeader parse(String source) {
        CHeader h = new CHeader();
        String text = source.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", "");
        StringBuilder code = new StringBuilder();
        for (String line : text.split("\\R")) {
            if (line.trim().startsWith("#")) {
                Matcher m = DEFINE.matcher(line);
                if (m.matches()) h.defines.put(m.group(1), Long.decode(m.group(2)));
                continue;                                   // other preprocessor lines carry no declarations
            }
            code.append(line).append('\n');
        }
        String declarations = code.toString()
                .replaceAll("extern\\s+\"C\"\\s*\\{", " ")      // C++ guards (their #ifdefs are gone)
                .replaceAll("[{}]", " ");
        for (String statement : declarations.split(";")) {
            String s = statement.replaceAll("\\s+", " ").trim();
            if (s.isEmpty()) continue;
            Matcher t = TYPEDEF.matcher(s);
            if (t.matches()) {
                h.typedefs.put(t.group(2), normalizeType(t.group(1)));
                continue;
            }
            Matcher f = PROTOTYPE.matcher(s);
            if (!f.matches()) {
                throw new IllegalArgumentException("cannot parse declaration: " + s);
            }
            List<String> params = new ArrayList<>();
            String paramList = f.group(3).trim();
            if (!paramList.isEmpty() && !paramList.equals("void")) {
                for (String p : paramList.split(",")) {
                    params.add(parameterType(p.trim(), f.group(2)));
                }
            }
            h.functions.add(new Function(f.group(2), normalizeType(f.group(1)), List.copyOf(params)));
        }
        return h;
    }

    /** The descriptor jextract generates for {@code fn} on Linux x86-64 (int32 → JAVA_INT, int64 → JAVA_LONG, T* → ADDRESS). */
    FunctionDescriptor descriptor(Function fn) {
        MemoryLayout[] args = fn.parameterTypes().stream().map(t -> layout(t, fn.name())).toArray(MemoryLayout[]::new);
        return fn.returnType().equals("void")
                ? FunctionDescriptor.ofVoid(args)
                : FunctionDescriptor.of(layout(fn.returnType(), fn.name()), args);
    }

    private ValueLayout layout(String type, String function) {
        if (type.endsWith("*")) return POINTER;
        String resolved = type;
        for (int depth = 0; typedefs.containsKey(resolved) && depth < 16; depth++) {
            resolved = typedefs.get(resolved);
            if (resolved.endsWith("*")) return POINTER;
        }
        ValueLayout layout = SCALARS.get(resolved);
        if (layout == null) {
            throw new IllegalArgumentException("unmapped C type '" + type + "' in " + function
                    + "; extend CHeader's type map (and check what jextract generates for it)");
        }
        return layout;
    }

    /** Drops qualifiers and spacing: {@code "const int64_t *"} → {@code "int64_t*"}. */
    static String normalizeType(String type) {
        return type.replaceAll("\\b(const|volatile|restrict|extern|static|inline)\\b", " ")
                .replaceAll("\\s*\\*\\s*", "*")
                .replaceAll("\\s+", " ")
                .trim();
    }

    /** The type of one parameter declaration, with its name removed ({@code "const int64_t* ids"} → {@code "int64_t*"}). */
    private static String parameterType(String declaration, String function) {
        String d = declaration.replaceAll("\\s*\\*\\s*", " * ").trim();
        Matcher m = PARAM_NAME.matcher(d);
        String type = d;
        // "int64_t batch" or "int64_t * ids": the last word is a name when something type-like precedes it.
        if (m.matches() && !normalizeType(m.group(1)).isEmpty() && !isTypeKeywordOnly(d)) {
            type = m.group(1);
        }
        String normalized = normalizeType(type);
        if (normalized.isEmpty()) {
            throw new IllegalArgumentException("cannot parse parameter '" + declaration + "' of " + function);
        }
        return normalized;
    }

    /** True for unnamed parameters such as {@code "int64_t"} or {@code "unsigned int"}. */
    private static boolean isTypeKeywordOnly(String declaration) {
        String normalized = normalizeType(declaration);
        return SCALARS.containsKey(normalized) || !normalized.contains(" ") && !normalized.contains("*");
    }
}
