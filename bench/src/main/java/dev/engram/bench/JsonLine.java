package dev.engram.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/** One JSON object on one line, in the style of {@link GpuForwardBench}'s (doubles with 5 decimals). */
final class JsonLine {
    private JsonLine() {}

    /**
     * Formats the map in its iteration order.
     *
     * @param fields strings, booleans, integral numbers, doubles or int arrays; a NaN or infinite double is written as
     *               {@code null}
     * @return the line, without a line break
     */
    static String of(Map<String, ?> fields) {
        StringBuilder sb = new StringBuilder("{");
        fields.forEach((k, v) -> {
            if (sb.length() > 1) sb.append(", ");
            sb.append(quote(k)).append(": ").append(value(v));
        });
        return sb.append('}').toString();
    }

    private static String value(Object v) {
        if (v instanceof String s) return quote(s);
        if (v instanceof Double d) return d.isNaN() || d.isInfinite() ? "null" : String.format(Locale.ROOT, "%.5f", d);
        if (v instanceof int[] a) return Arrays.toString(a);
        return String.valueOf(v);
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (c < 0x20) sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }
}
