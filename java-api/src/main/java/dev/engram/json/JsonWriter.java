package dev.engram.json;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Writes the values {@link JsonReader} returns (and Java numbers) as JSON text: compact, for error
 * messages, or pretty, in the layout Jackson's default pretty printer uses ({@code "key" : value}, one
 * member per line, arrays on one line), which config files written by earlier versions have.
 */
public final class JsonWriter {
    private JsonWriter() {}

    /**
     * One line, no spaces: {@code {"a":[1,2]}} (the layout of Python's {@code json.dumps(separators=(",", ":"))}
     * and of serde_json, non-ASCII characters unescaped).
     *
     * @param value a value as {@link JsonReader} returns them, or a Java number
     * @return its JSON text
     * @throws IllegalArgumentException when it holds something JSON cannot write (another type, a non-finite number)
     */
    public static String compact(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, -1);
        return sb.toString();
    }

    /**
     * Members on their own lines, indented by two spaces per level.
     *
     * @param value a value as {@link JsonReader} returns them, or a Java number
     * @return its JSON text
     * @throws IllegalArgumentException when it holds something JSON cannot write (another type, a non-finite number)
     */
    public static String pretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0);
        return sb.toString();
    }

    /** @param level the nesting level when pretty, {@code -1} when compact */
    private static void write(StringBuilder sb, Object value, int level) {
        switch (value) {
            case null -> sb.append("null");
            case Map<?, ?> map -> object(sb, map, level);
            case List<?> list -> array(sb, list, level);
            case String s -> string(sb, s);
            case Boolean b -> sb.append(b);
            case JsonNumber n -> sb.append(n.literal());
            case Double d -> sb.append(finite(d));
            case Float f -> sb.append(finite(f.doubleValue()));
            case Long l -> sb.append(l);
            case Integer i -> sb.append(i);
            default -> throw new IllegalArgumentException("cannot write a " + value.getClass().getName() + " as JSON");
        }
    }

    private static void object(StringBuilder sb, Map<?, ?> map, int level) {
        boolean pretty = level >= 0;
        if (map.isEmpty()) {
            sb.append(pretty ? "{ }" : "{}");
            return;
        }
        sb.append('{');
        for (Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<?, ?> e = it.next();
            if (pretty) sb.append('\n').append("  ".repeat(level + 1));
            string(sb, (String) e.getKey());
            sb.append(pretty ? " : " : ":");
            write(sb, e.getValue(), pretty ? level + 1 : -1);
            if (it.hasNext()) sb.append(',');
        }
        if (pretty) sb.append('\n').append("  ".repeat(level));
        sb.append('}');
    }

    private static void array(StringBuilder sb, List<?> list, int level) {
        boolean pretty = level >= 0;
        if (list.isEmpty()) {
            sb.append(pretty ? "[ ]" : "[]");
            return;
        }
        sb.append(pretty ? "[ " : "[");
        for (int i = 0; i < list.size(); i++) {
            if (i > 0) sb.append(pretty ? ", " : ",");
            write(sb, list.get(i), level);
        }
        sb.append(pretty ? " ]" : "]");
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    private static String finite(double d) {
        if (!Double.isFinite(d)) throw new IllegalArgumentException("JSON has no " + d);
        return Double.toString(d);
    }
}
