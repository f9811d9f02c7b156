package dev.engram.cli.tokenizer;

import dev.engram.tokenizer.BuiltCompressionTable;
import dev.engram.tokenizer.CompressionTableBuilder;
import dev.engram.tokenizer.KeyKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Llama-like fixture (BPE with byte_fallback, "▁" for spaces, decoder Replace("▁" → " ") → ByteFallback →
 * Fuse → Strip(one leading " ")) through the real tokenizers library: every decoded text written down by hand,
 * and the table from the file equal to {@link CompressionTableBuilder} on those strings.
 */
class ByteFallbackVocabularyTest {
    /** The model vocabulary (ids 0..26) and the added special token (id 27): the raw token strings. */
    private static final List<String> RAW = List.of(
            "<unk>", "<s>", "</s>", "<0x0A>", "<0x20>", "<0xC3>", "<0xA9>", "<0xE2>", "<0x41>", "\u2581", "\u2581\u2581",
            "\u2581the", "\u2581The", "the", "The", "\u2581caf\u00e9", "cafe", "\u00e9", "\u00c9", "\u2581\u2581\u2581",
            "\ufb01", "fi", "\u2581\u2126", "\u03c9", "\u2581.", "\u2581's", "\u0301", "<|im_start|>");

    /** {@code decode([id])} by hand: "▁" becomes " ", bytes become characters, then one leading " " goes. */
    private static final List<String> DECODED = List.of(
            "<unk>", "<s>", "</s>",
            "\n",          // <0x0A>: a whole one-byte character
            "",            // <0x20>: " ", stripped
            "\ufffd",      // <0xC3>: a lone lead byte
            "\ufffd",      // <0xA9>: a lone continuation byte
            "\ufffd",      // <0xE2>
            "A",           // <0x41>
            "",            // ▁ -> " ", stripped
            " ",           // ▁▁ -> "  ", one stripped
            "the", "The", "the", "The", "caf\u00e9", "cafe", "\u00e9", "\u00c9",
            "  ",          // ▁▁▁ -> "   ", one stripped
            "\ufb01", "fi", "\u2126", "\u03c9", ".", "'s", "\u0301", "<|im_start|>");

    @TempDir
    static Path dir;
    private static TokenizerVocabulary vocabulary;

    @BeforeAll
    static void open() {
        // A model directory holding tokenizer.json, as AutoTokenizer takes it.
        TokenizerFixtures.copy(TokenizerFixtures.BYTE_FALLBACK, dir, "model/" + TokenizerVocabulary.FILE_NAME);
        vocabulary = TokenizerVocabulary.open(dir.resolve("model"));
    }

    @AfterAll
    static void close() {
        if (vocabulary != null) vocabulary.close();
    }

    @Test
    void decodedTextsAndRawTokensAreTheHandWrittenOnes() {
        assertEquals(28, vocabulary.size());
        assertEquals(dir.resolve("model").resolve(TokenizerVocabulary.FILE_NAME), vocabulary.file());
        assertEquals(DECODED, vocabulary.decodedTexts());
        assertEquals(RAW, vocabulary.rawTokens());
    }

    @Test
    void tableEqualsTheBuilderOnTheHandWrittenStrings() {
        BuiltCompressionTable fromFile = vocabulary.compressionTable();
        BuiltCompressionTable fromStrings = CompressionTableBuilder.build(DECODED, RAW);
        assertArrayEquals(fromStrings.table().toArray(), fromFile.table().toArray());
        assertEquals(fromStrings.keys(), fromFile.keys());
        assertEquals(18, fromFile.numNewToken());
    }

    @Test
    void byteFallbackAndStrippedSpacesKeyAsTheReferenceSays() {
        BuiltCompressionTable built = vocabulary.compressionTable();
        // partial UTF-8 byte tokens key by their raw token, each its own id
        assertKey(built, 5, "<0xC3>", KeyKind.RAW_TOKEN);
        assertKey(built, 6, "<0xA9>", KeyKind.RAW_TOKEN);
        // "" normalizes to "": the key is the decoded text itself, shared by both ids
        assertKey(built, 4, "", KeyKind.RAW_TEXT_FALLBACK);
        assertKey(built, 9, "", KeyKind.RAW_TEXT_FALLBACK);
        // whitespace-only texts are one space; the newline byte too
        assertKey(built, 3, " ", KeyKind.NORMALIZED);
        assertKey(built, 10, " ", KeyKind.NORMALIZED);
        assertKey(built, 19, " ", KeyKind.NORMALIZED);
        // the leading-space marker goes in decoding, so "▁the" and "the" share a key
        assertEquals(built.table().compress(13), built.table().compress(11));
        assertKey(built, 22, "\u03c9", KeyKind.NORMALIZED);
        assertEquals(built.table().compress(23), built.table().compress(22), "Ohm sign and omega");
        assertKey(built, 8, "a", KeyKind.NORMALIZED);
    }

    private static void assertKey(BuiltCompressionTable built, int id, String key, KeyKind kind) {
        assertEquals(key, built.keys().get(id), "key of id " + id);
        assertEquals(kind, built.kinds().get(id), "kind of id " + id);
    }
}
