package dev.engram.cli.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.engram.testing.Golden;
import dev.engram.tokenizer.BuiltCompressionTable;
import dev.engram.tokenizer.CompressionTableBuilder;
import dev.engram.tokenizer.KeyKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The DeepSeek-V3-like byte-level BPE fixture through the real tokenizers library: ids 0..44 are the toy
 * vocabulary of golden_hash.json {@code lookup_construction}, so the table built from the tokenizer.json must
 * start with the official table of that vocabulary; the whole table must equal {@link CompressionTableBuilder}
 * on decoded strings and raw tokens written down here independently.
 */
class ByteLevelVocabularyTest {
    private static final int GOLDEN_IDS = 45;

    @TempDir
    static Path dir;
    private static TokenizerVocabulary vocabulary;
    private static JsonNode golden;

    @BeforeAll
    static void open() {
        vocabulary = TokenizerVocabulary.open(TokenizerFixtures.copy(TokenizerFixtures.BYTE_LEVEL, dir));
        golden = Golden.json("hash/golden_hash.json").get("lookup_construction");
    }

    @AfterAll
    static void close() {
        if (vocabulary != null) vocabulary.close();
    }

    /**
     * {@code decode([id])} of every id. Ids 0..44 are golden_hash.json's decoded texts except two that its
     * emulated vocabulary wrote differently from what the byte-level raw token decodes to (both normalize the
     * same): id 15 "ĠcafÃ©" is " café" (golden: " Café"), id 44 "âĦ¦" is the Ohm sign U+2126 (golden: U+03A9).
     */
    private static List<String> expectedDecoded() {
        List<String> d = strings("decoded");
        d.set(15, " caf\u00e9");
        d.set(44, "\u2126");
        d.addAll(List.of(" .", ".", " \u2026", "ok .", "<think>", "<\uff5ctool\u2581call\uff5c>"));
        return d;
    }

    /** {@code convert_ids_to_tokens(id)}: golden's raw tokens (id 33 "Ãĳ" = "Ñ" here) and the six more. */
    private static List<String> expectedRawTokens() {
        List<String> r = strings("raw_tokens");
        r.set(33, "\u00c3\u0133");
        r.addAll(List.of("\u0120.", ".", "\u0120\u00e2\u0122\u00a6", "ok\u0120.", "<think>", "<\uff5ctool\u2581call\uff5c>"));
        return r;
    }

    private static List<String> strings(String field) {
        List<String> out = new ArrayList<>();
        golden.get(field).forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void sizeCountsAddedTokensBeyondTheModelVocabulary() {
        assertEquals(51, vocabulary.size(), "49 model tokens (3 of them also added as special) + 2 added");
        assertEquals(50, vocabulary.maxTokenId());
    }

    @Test
    void decodesEveryIdAsTheReferenceDoes() {
        assertEquals(expectedDecoded(), vocabulary.decodedTexts());
    }

    @Test
    void rawTokensAreTheStoredTokenStrings() {
        assertEquals(expectedRawTokens(), vocabulary.rawTokens());
    }

    @Test
    void aHandfulOfIdsByHand() {
        // special token (model vocabulary and added_tokens): decoded as is, the key lower-cased through NFKC
        assertEquals("<\uff5cbegin\u2581of\u2581sentence\uff5c>", vocabulary.decode(0));
        // leading space marker Ġ
        assertEquals("\u0120the", vocabulary.rawToken(5));
        assertEquals(" the", vocabulary.decode(5));
        // partial UTF-8: 0xE2 0x80 of a three-byte character decodes to U+FFFD
        assertEquals("\u00e2\u0122", vocabulary.rawToken(29));
        assertEquals("\ufffd", vocabulary.decode(29));
        assertEquals("x\ufffd", vocabulary.decode(31));
        // a lone combining acute accent
        assertEquals("\u0301", vocabulary.decode(32));
        // added tokens past the model vocabulary
        assertEquals("<think>", vocabulary.decode(49));
        assertEquals("<\uff5ctool\u2581call\uff5c>", vocabulary.decode(50));

        BuiltCompressionTable built = vocabulary.compressionTable();
        assertKey(built, 0, "<|begin\u2581of\u2581sentence|>", KeyKind.NORMALIZED);
        assertKey(built, 5, "the", KeyKind.NORMALIZED);
        assertKey(built, 29, "\u00e2\u0122", KeyKind.RAW_TOKEN);
        assertKey(built, 31, "x\u00e2", KeyKind.RAW_TOKEN);
        assertKey(built, 32, "\u0301", KeyKind.RAW_TEXT_FALLBACK);
        assertKey(built, 47, "...", KeyKind.NORMALIZED);
        assertKey(built, 50, "<|tool\u2581call|>", KeyKind.NORMALIZED);
        assertEquals(built.table().compress(45), built.table().compress(46), "' .' and '.' share a key");
    }

    private static void assertKey(BuiltCompressionTable built, int id, String key, KeyKind kind) {
        assertEquals(key, built.keys().get(id), "key of id " + id);
        assertEquals(kind, built.kinds().get(id), "kind of id " + id);
    }

    @Test
    void tableEqualsTheBuilderOnTheStringsWrittenDownHere() {
        BuiltCompressionTable fromFile = vocabulary.compressionTable();
        BuiltCompressionTable fromStrings = CompressionTableBuilder.build(expectedDecoded(), expectedRawTokens());
        assertArrayEquals(fromStrings.table().toArray(), fromFile.table().toArray());
        assertEquals(fromStrings.keys(), fromFile.keys());
        assertEquals(fromStrings.kinds(), fromFile.kinds());
        assertEquals(24, fromFile.numNewToken(), "golden 19 + \".\", \"...\", \"ok .\", \"<think>\", \"<|tool▁call|>\"");
    }

    @Test
    void tableStartsWithTheOfficialTableOfTheGoldenVocabulary() {
        BuiltCompressionTable built = vocabulary.compressionTable();
        long[] want = Golden.longs(golden.get("lookup_table"));
        assertEquals(GOLDEN_IDS, want.length);
        // First-occurrence numbering: the ids after 44 cannot change the entries before them.
        assertArrayEquals(want, Arrays.copyOf(built.table().toArray(), GOLDEN_IDS));
        JsonNode keys = golden.get("keys");
        for (int t = 0; t < GOLDEN_IDS; t++) {
            assertEquals(keys.get(t).get("key").asText(), built.keys().get(t), "key of id " + t);
            assertEquals(keys.get(t).get("kind").asText(), goldenName(built.kinds().get(t)), "kind of id " + t);
        }
    }

    private static String goldenName(KeyKind kind) {
        return switch (kind) {
            case NORMALIZED -> "normalized";
            case RAW_TOKEN -> "raw_token";
            case RAW_TEXT_FALLBACK -> "raw_text_fallback";
        };
    }

    @Test
    void cleanUpOfTokenizationSpacesIsTransformersRule() {
        assertEquals("ok .", vocabulary.decode(48));
        try (TokenizerVocabulary cleaned = TokenizerVocabulary.open(dir.resolve(TokenizerFixtures.BYTE_LEVEL), true)) {
            assertEquals("ok.", cleaned.decode(48));
            assertEquals(".", cleaned.decode(45));
            BuiltCompressionTable built = cleaned.compressionTable();
            assertEquals("ok.", built.keys().get(48));
            assertEquals("ok .", vocabulary.compressionTable().keys().get(48));
        }
        // transformers' clean_up_tokenization replacements, applied in its order:
        assertEquals("Hello, world! isn't it 'm 's 've 're.?'", TokenizerVocabulary.cleanUpTokenization(
                "Hello , world ! is n't it  'm  's  've  're . ? ' "));
    }

    @Test
    void idsOutsideTheVocabularyAreRefused() {
        assertThrows(IndexOutOfBoundsException.class, () -> vocabulary.decode(51));
        assertThrows(IndexOutOfBoundsException.class, () -> vocabulary.rawToken(-1));
    }
}
