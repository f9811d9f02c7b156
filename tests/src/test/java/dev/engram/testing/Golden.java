package dev.engram.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.StreamSupport;

/** Locates the golden vectors (system property {@code engram.golden.dir}) and reads their JSON. */
public final class Golden {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Golden() {}

    /** The golden directory; fails loudly (never skips) when it is missing. */
    public static Path dir() {
        String p = System.getProperty("engram.golden.dir");
        if (p == null) throw new IllegalStateException("system property engram.golden.dir is not set (tests/pom.xml sets it)");
        Path dir = Path.of(p);
        if (!Files.isDirectory(dir)) throw new IllegalStateException("golden directory " + dir + " does not exist");
        return dir;
    }

    /** Parses a JSON file under the golden directory. */
    public static JsonNode json(String relative) {
        try {
            return MAPPER.readTree(dir().resolve(relative).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A JSON array of integers (nested arrays flattened in C order) as a long[]. */
    public static long[] longs(JsonNode array) {
        return flatten(array).mapToLong(JsonNode::longValue).toArray();
    }

    /** A JSON array of unsigned 64-bit integers as their two's-complement long bits. */
    public static long[] unsignedLongs(JsonNode array) {
        return flatten(array).mapToLong(n -> n.bigIntegerValue().longValue()).toArray();
    }

    /** A JSON array of unsigned 32-bit integers as int bits. */
    public static int[] unsignedInts(JsonNode array) {
        return flatten(array).mapToInt(n -> (int) n.longValue()).toArray();
    }

    private static java.util.stream.Stream<JsonNode> flatten(JsonNode n) {
        if (!n.isArray()) return java.util.stream.Stream.of(n);
        return StreamSupport.stream(n.spliterator(), false).flatMap(Golden::flatten);
    }
}
