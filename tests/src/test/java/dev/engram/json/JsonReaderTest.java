package dev.engram.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.engram.testing.Golden;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** engram-api's own JSON reader and writer (internal, behind {@link dev.engram.EngramConfigJson} and the safetensors reader). */
class JsonReaderTest {

    @Test
    void readsEveryKindOfValue() {
        Object v = JsonReader.parse("""
                 {"a": [1, -2, 0, 3.25, -1e3, 2E+2, 5e-1], "s": "x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00",
                  "t": true, "f": false, "n": null, "o": {}, "e": [], "deep": [[{"k": [null]}]]}\t\r
                """);
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals(List.of("a", "s", "t", "f", "n", "o", "e", "deep"), new ArrayList<>(m.keySet()), "file order");
        assertEquals(Stream.of("1", "-2", "0", "3.25", "-1e3", "2E+2", "5e-1").map(JsonNumber::new).toList(), m.get("a"));
        assertEquals("x\"\\/\b\f\n\r\té\uD83D\uDE00", m.get("s"));
        assertEquals(Boolean.TRUE, m.get("t"));
        assertEquals(Boolean.FALSE, m.get("f"));
        assertTrue(m.containsKey("n"));
        assertNull(m.get("n"));
        assertEquals(Map.of(), m.get("o"));
        assertEquals(List.of(), m.get("e"));
        assertEquals("[[{\"k\":[null]}]]", JsonWriter.compact(m.get("deep")));
    }

    @Test
    void numbersKeepTheirLiteral() {
        JsonNumber big = (JsonNumber) JsonReader.parse("18446744073709551615");
        assertTrue(big.isIntegral());
        assertFalse(big.fitsLong(), "past 64 bits");
        JsonNumber min = (JsonNumber) JsonReader.parse("-9223372036854775808");
        assertEquals(Long.MIN_VALUE, min.longValue());
        assertFalse(((JsonNumber) JsonReader.parse("1e3")).isIntegral(), "an exponent makes it a double, as in Jackson");
        assertFalse(((JsonNumber) JsonReader.parse("64.0")).fitsLong());
        assertEquals(0x1p-23, ((JsonNumber) JsonReader.parse("1.1920928955078125E-7")).doubleValue());
        assertEquals(1e-5, ((JsonNumber) JsonReader.parse("1.0E-5")).doubleValue());
    }

    @Test
    void leadingByteOrderMarkIsSkipped() {
        assertEquals(List.of(new JsonNumber("1")), JsonReader.parse("\uFEFF[1]"));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "``|unexpected end of input, expected a value at line 1, column 1",
            "`   `|unexpected end of input, expected a value at line 1, column 4",
            "{\"a\": 1,\\n}|unexpected '}', expected a string key at line 2, column 1",
            "[1, 2,]|unexpected ']', expected a value at line 1, column 7",
            "{\"a\": 1 \"b\": 2}|unexpected '\"', expected ',' or '}' at line 1, column 9",
            "[1 2]|unexpected '2', expected ',' or ']' at line 1, column 4",
            "{\"a\" 1}|unexpected '1', expected ':' at line 1, column 6",
            "{a: 1}|unexpected 'a', expected a string key at line 1, column 2",
            "{\"a\": 1, \"a\": 2}|duplicate key \"a\" at line 1, column 10",
            "{} {}|unexpected '{' after the value at line 1, column 4",
            "[01]|number with a leading zero at line 1, column 3",
            "[+1]|unexpected '+', expected a value at line 1, column 2",
            "[.5]|unexpected '.', expected a value at line 1, column 2",
            "[1.]|unexpected ']' after the decimal point, expected a digit at line 1, column 4",
            "[1e]|unexpected ']' in an exponent, expected a digit at line 1, column 4",
            "[-]|unexpected ']' in a number, expected a digit at line 1, column 3",
            "[NaN]|unexpected 'N', expected a value at line 1, column 2",
            "[tru]|unexpected 't', expected a value at line 1, column 2",
            "[\"a\\x\"]|invalid escape \\x inside a string at line 1, column 4",
            "[\"\\u12G4\"]|invalid \\u escape \"\\u12G4\" (needs four hex digits) at line 1, column 3",
            "[\"abc|unexpected end of input inside a string at line 1, column 6",
            "{\"a\": 1|unexpected end of input, expected ',' or '}' at line 1, column 8",
            "// comment\\n{}|unexpected '/', expected a value at line 1, column 1",
    })
    void malformedInputNamesTheProblemAndWhere(String json, String expected) {
        var e = assertThrows(IllegalArgumentException.class, () -> JsonReader.parse(json.replace("\\n", "\n")));
        assertEquals("invalid JSON: " + expected, e.getMessage());
    }

    @Test
    void controlCharacterInsideAString() {
        var e = assertThrows(IllegalArgumentException.class, () -> JsonReader.parse("[\"a\tb\"]"));
        assertEquals("invalid JSON: control character U+0009 inside a string (escape it) at line 1, column 4", e.getMessage());
    }

    @Test
    void nestingIsBounded() {
        String deep = "[".repeat(JsonReader.MAX_DEPTH + 2);
        var e = assertThrows(IllegalArgumentException.class, () -> JsonReader.parse(deep));
        assertTrue(e.getMessage().contains("nesting deeper than " + JsonReader.MAX_DEPTH), e.getMessage());
    }

    @Test
    void writerRoundTrips() {
        String text = "{\"a\":[1,-2.5e3,\"q\\\"\\n\\u0001\"],\"b\":{},\"c\":[],\"d\":null,\"e\":true}";
        Object v = JsonReader.parse(text);
        assertEquals(text, JsonWriter.compact(v));
        assertEquals(v, JsonReader.parse(JsonWriter.pretty(v)));
        assertEquals("""
                {
                  "a" : [ 1, -2.5e3, "q\\"\\n\\u0001" ],
                  "b" : { },
                  "c" : [ ],
                  "d" : null,
                  "e" : true
                }""", JsonWriter.pretty(v));
    }

    /** Every JSON file of the golden vectors reads to the same tree as Jackson reads it. */
    @TestFactory
    List<DynamicTest> agreesWithJacksonOnTheGoldenManifests() throws IOException {
        ObjectMapper jackson = new ObjectMapper();
        List<Path> files;
        try (Stream<Path> s = Files.walk(Golden.dir())) {
            files = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no golden JSON files under " + Golden.dir());
        return files.stream().map(f -> DynamicTest.dynamicTest(Golden.dir().relativize(f).toString(), () -> {
            String text = Files.readString(f);
            assertEquals(plain(jackson.readTree(text)), plain(JsonReader.parse(text)));
        })).toList();
    }

    /** A tree with numbers as doubles or longs, so that both readers' output compares with equals. */
    private static Object plain(Object v) {
        return switch (v) {
            case null -> null;
            case JsonNode n when n.isNull() -> null;
            case JsonNode n when n.isObject() -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                    var e = it.next();
                    m.put(e.getKey(), plain(e.getValue()));
                }
                yield m;
            }
            case JsonNode n when n.isArray() -> {
                List<Object> l = new ArrayList<>();
                n.forEach(e -> l.add(plain(e)));
                yield l;
            }
            case JsonNode n when n.isTextual() -> n.textValue();
            case JsonNode n when n.isBoolean() -> n.booleanValue();
            case JsonNode n when n.isIntegralNumber() -> n.bigIntegerValue();
            case JsonNode n when n.isNumber() -> n.doubleValue();
            case JsonNode n -> throw new AssertionError("unexpected node " + n.getNodeType());
            case Map<?, ?> m -> {
                Map<String, Object> out = new LinkedHashMap<>();
                m.forEach((k, e) -> out.put((String) k, plain(e)));
                yield out;
            }
            case List<?> l -> new ArrayList<>(l.stream().map(JsonReaderTest::plain).toList());
            case JsonNumber n -> n.isIntegral() ? new java.math.BigInteger(n.literal()) : (Object) n.doubleValue();
            default -> v;
        };
    }
}
