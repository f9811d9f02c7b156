package dev.engram.json;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON (RFC 8259) reader for config files and checkpoint headers, so that the library needs no JSON
 * dependency. Internal: this package is not exported by the module.
 *
 * <p>Values come back as plain Java objects: an object is a {@code Map<String, Object>} in file order,
 * an array a {@code List<Object>}, a string a {@code String}, a number a {@link JsonNumber} (its literal,
 * so that integers of any size and exact doubles both survive), {@code true}/{@code false} a
 * {@code Boolean} and {@code null} Java's {@code null}. Collections are unmodifiable.
 *
 * <p>Strict: one value and nothing after it but whitespace, no comments, no trailing commas, no
 * duplicate keys in an object, no leading zeros or {@code NaN}. Every error is an
 * {@link IllegalArgumentException} that starts with {@code invalid JSON:} and gives the line and column.
 */
public final class JsonReader {
    /** Deeper nesting than any config needs; the limit keeps malformed input from overflowing the stack. */
    public static final int MAX_DEPTH = 256;

    private final String text;
    private int pos;

    private JsonReader(String text) {
        this.text = text;
    }

    /**
     * Parses one JSON value; a leading byte-order mark is skipped.
     *
     * @param text the whole JSON text
     * @return the value, as the class comment describes
     * @throws IllegalArgumentException when {@code text} is not one valid JSON value, with the line and column
     */
    public static Object parse(String text) {
        JsonReader r = new JsonReader(text);
        if (text.startsWith("\uFEFF")) r.pos = 1;
        r.skipWhitespace();
        Object value = r.value(0);
        r.skipWhitespace();
        if (r.pos < text.length()) throw r.error("unexpected " + r.describeNext() + " after the value");
        return value;
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH + " levels");
        if (pos >= text.length()) throw error("unexpected end of input, expected a value");
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || isDigit(c)) yield number();
                throw error("unexpected " + describeNext() + ", expected a value");
            }
        };
    }

    private Map<String, Object> object(int depth) {
        pos++; // '{'
        Map<String, Object> members = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            return Collections.unmodifiableMap(members);
        }
        while (true) {
            skipWhitespace();
            if (peek() != '"') throw error("unexpected " + describeNext() + ", expected a string key");
            int keyStart = pos;
            String key = string();
            if (members.containsKey(key)) {
                pos = keyStart;
                throw error("duplicate key \"" + key + "\"");
            }
            skipWhitespace();
            expect(':');
            skipWhitespace();
            members.put(key, value(depth + 1));
            skipWhitespace();
            char c = peek();
            pos++;
            if (c == '}') return Collections.unmodifiableMap(members);
            if (c != ',') {
                pos--;
                throw error("unexpected " + describeNext() + ", expected ',' or '}'");
            }
        }
    }

    private List<Object> array(int depth) {
        pos++; // '['
        List<Object> elements = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            return Collections.unmodifiableList(elements);
        }
        while (true) {
            skipWhitespace();
            elements.add(value(depth + 1));
            skipWhitespace();
            char c = peek();
            pos++;
            if (c == ']') return Collections.unmodifiableList(elements);
            if (c != ',') {
                pos--;
                throw error("unexpected " + describeNext() + ", expected ',' or ']'");
            }
        }
    }

    private String string() {
        pos++; // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) throw error("unexpected end of input inside a string");
            char c = text.charAt(pos);
            if (c == '"') {
                pos++;
                return sb.toString();
            }
            if (c < 0x20) throw error("control character U+" + String.format("%04X", (int) c) + " inside a string (escape it)");
            if (c != '\\') {
                sb.append(c);
                pos++;
                continue;
            }
            if (pos + 1 >= text.length()) throw error("unexpected end of input inside a string");
            char e = text.charAt(pos + 1);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    sb.append(unicodeEscape());
                    continue; // unicodeEscape moved past the six characters
                }
                default -> throw error("invalid escape \\" + e + " inside a string");
            }
            pos += 2;
        }
    }

    private char unicodeEscape() {
        if (pos + 6 > text.length()) throw error("unexpected end of input in a \\u escape");
        int v = 0;
        for (int i = pos + 2; i < pos + 6; i++) {
            int d = Character.digit(text.charAt(i), 16);
            if (d < 0) throw error("invalid \\u escape \"" + text.substring(pos, pos + 6) + "\" (needs four hex digits)");
            v = v * 16 + d;
        }
        pos += 6;
        return (char) v; // surrogate pairs arrive as two escapes and join in the StringBuilder
    }

    /** {@code -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?} */
    private JsonNumber number() {
        int start = pos;
        if (peek() == '-') pos++;
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) throw error("number with a leading zero");
        } else if (isDigit(peek())) {
            digits();
        } else {
            throw error("unexpected " + describeNext() + " in a number, expected a digit");
        }
        if (peek() == '.') {
            pos++;
            if (!isDigit(peek())) throw error("unexpected " + describeNext() + " after the decimal point, expected a digit");
            digits();
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            if (!isDigit(peek())) throw error("unexpected " + describeNext() + " in an exponent, expected a digit");
            digits();
        }
        return new JsonNumber(text.substring(start, pos));
    }

    private void digits() {
        while (isDigit(peek())) pos++;
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) throw error("unexpected " + describeNext() + ", expected a value");
        pos += word.length();
        return value;
    }

    private void expect(char c) {
        if (peek() != c) throw error("unexpected " + describeNext() + ", expected '" + c + "'");
        pos++;
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
            pos++;
        }
    }

    /** The next character, or {@code 0} at the end (never a valid token start). */
    private char peek() {
        return pos < text.length() ? text.charAt(pos) : 0;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private String describeNext() {
        if (pos >= text.length()) return "end of input";
        char c = text.charAt(pos);
        if (c < 0x20 || c == 0x7f) return "character U+" + String.format("%04X", (int) c);
        return "'" + c + "'";
    }

    private IllegalArgumentException error(String message) {
        int line = 1, column = 1;
        for (int i = 0; i < Math.min(pos, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return new IllegalArgumentException("invalid JSON: " + message + " at line " + line + ", column " + column);
    }
}
