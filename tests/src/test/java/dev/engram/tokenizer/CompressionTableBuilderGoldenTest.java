package dev.engram.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CompressionTableBuilder} on golden_hash.json → {@code lookup_construction}: a 45-token toy
 * vocabulary run through the official {@code _build_lookup_table} (checked against real tokenizers).
 */
class CompressionTableBuilderGoldenTest {
    private static JsonNode golden;

    @BeforeAll
    static void load() throws IOException {
        String dir = System.getProperty("engram.golden.dir");
        assertTrue(dir != null && !dir.isBlank(), "system property engram.golden.dir is not set");
        Path file = Path.of(dir, "hash", "golden_hash.json");
        golden = new ObjectMapper().readTree(Files.readString(file)).get("lookup_construction");
        assertTrue(golden != null, file + " has no lookup_construction");
    }

    private static List<String> strings(String field) {
        List<String> out = new ArrayList<>();
        golden.get(field).forEach(n -> out.add(n.asText()));
        return out;
    }

    private static BuiltCompressionTable build() {
        return CompressionTableBuilder.build(strings("decoded"), strings("raw_tokens"));
    }

    @Test
    void lookupTableMatches() {
        JsonNode expected = golden.get("lookup_table");
        long[] want = new long[expected.size()];
        for (int i = 0; i < want.length; i++) want[i] = expected.get(i).asLong();
        assertArrayEquals(want, build().table().toArray());
    }

    @Test
    void numNewTokenMatches() {
        BuiltCompressionTable built = build();
        long want = golden.get("num_new_token").asLong();
        assertEquals(want, built.numNewToken());
        assertEquals(want, built.table().compressedVocabSize());
        assertEquals(want, built.distinctKeys().size());
    }

    @Test
    void everyKeyAndKindMatches() {
        BuiltCompressionTable built = build();
        JsonNode keys = golden.get("keys");
        assertEquals(keys.size(), built.keys().size());
        for (int t = 0; t < keys.size(); t++) {
            assertEquals(keys.get(t).get("key").asText(), built.keys().get(t), "key of token id " + t);
            assertEquals(keys.get(t).get("kind").asText(), built.kinds().get(t).goldenName(), "kind of token id " + t);
        }
    }

    @Test
    void goldenUsesAllThreeKinds() {
        List<KeyKind> kinds = build().kinds();
        for (KeyKind k : KeyKind.values()) assertTrue(kinds.contains(k), "golden vocabulary has no " + k);
    }
}
