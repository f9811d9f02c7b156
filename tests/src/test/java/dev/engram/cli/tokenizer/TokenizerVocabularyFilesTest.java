package dev.engram.cli.tokenizer;

import dev.engram.tokenizer.BuiltCompressionTable;
import dev.engram.tokenizer.KeyKind;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TokenizerVocabulary} on small tokenizer.json files written here: other model types (the raw token
 * of an id comes from the library, whatever the model), gaps in the ids, and every kind of bad file.
 */
class TokenizerVocabularyFilesTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void needsTheLibrary() {
        TokenizerFixtures.assumeTokenizersLibrary();
    }

    private Path write(String name, String json) throws IOException {
        return Files.writeString(dir.resolve(name), json);
    }

    @Test
    void wordPieceDecodesWithItsDecoderAndRawTokensKeepThePrefix() throws IOException {
        Path file = write("wp.json", """
                {"version": "1.0",
                 "added_tokens": [{"id": 0, "content": "[UNK]", "special": true, "single_word": false,
                                   "lstrip": false, "rstrip": false, "normalized": false}],
                 "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                           "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "Hello": 1, "##lo": 2}}}
                """);
        try (TokenizerVocabulary v = TokenizerVocabulary.open(file)) {
            assertEquals(3, v.size());
            assertEquals(List.of("[UNK]", "Hello", "##lo"), v.rawTokens());
            assertEquals("Hello", v.decode(1));
            assertEquals("hello", v.compressionTable().keys().get(1));
        }
    }

    @Test
    void unigramVocabularyIsAListOfPieces() throws IOException {
        Path file = write("uni.json", """
                {"version": "1.0", "added_tokens": [],
                 "decoder": {"type": "Metaspace", "replacement": "\\u2581", "prepend_scheme": "always", "split": true},
                 "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false,
                           "vocab": [["<unk>", 0.0], ["\\u2581A", -1.0], ["b", -2.0]]}}
                """);
        try (TokenizerVocabulary v = TokenizerVocabulary.open(file)) {
            assertEquals(3, v.size());
            assertEquals(List.of("<unk>", "\u2581A", "b"), v.rawTokens());
            assertEquals("A", v.decode(1), "Metaspace drops the first token's leading space");
        }
    }

    @Test
    void gapsInTheIdsDecodeToEmptyAndLenCountsTokensNotIds() throws IOException {
        Path file = write("gaps.json", """
                {"model": {"type": "WordLevel", "unk_token": "a", "vocab": {"a": 0, "b": 5}}}
                """);
        try (TokenizerVocabulary v = TokenizerVocabulary.open(file)) {
            assertEquals(2, v.size(), "len(tokenizer) counts distinct tokens");
            assertEquals(5, v.maxTokenId());
            assertEquals("", v.decode(1));
            assertEquals("", v.rawToken(1));
            BuiltCompressionTable built = v.compressionTable();
            assertArrayEquals(new long[] {0, 1}, built.table().toArray());
            assertEquals(KeyKind.RAW_TEXT_FALLBACK, built.kinds().get(1));
        }
    }

    @Test
    void anAddedTokenAlsoInTheModelVocabularyCountsOnce() throws IOException {
        Path file = write("dup.json", """
                {"added_tokens": [{"id": 0, "content": "<s>", "special": true, "single_word": false,
                                   "lstrip": false, "rstrip": false, "normalized": false},
                                  {"id": 2, "content": "<x>", "special": false, "single_word": false,
                                   "lstrip": false, "rstrip": false, "normalized": false}],
                 "model": {"type": "WordLevel", "unk_token": "<s>", "vocab": {"<s>": 0, "b": 1}}}
                """);
        try (TokenizerVocabulary v = TokenizerVocabulary.open(file)) {
            assertEquals(3, v.size());
            assertEquals(List.of("<s>", "b", "<x>"), v.decodedTexts());
        }
    }

    @Test
    void badFilesAreOneClearExceptionNamingTheFile() throws IOException {
        assertBad(dir.resolve("missing.json"), "no such file");
        assertBad(dir, "directory has no tokenizer.json");
        assertBad(write("notjson.json", "{\"model\": "), "not a tokenizer.json: not valid JSON");
        assertBad(write("array.json", "[1, 2]"), "not a tokenizer.json: the JSON is not an object");
        assertBad(write("config.json", "{\"hidden_size\": 8}"), "no \"model\" object");
        assertBad(write("novocab.json", "{\"model\": {\"type\": \"BPE\"}}"), "\"model\" has no \"vocab\"");
        assertBad(write("badid.json", "{\"model\": {\"vocab\": {\"a\": -1}}}"), "model.vocab[\"a\"] is not a token id");
        assertBad(write("strid.json", "{\"model\": {\"vocab\": {\"a\": \"0\"}}}"), "model.vocab[\"a\"] is not a token id");
        assertBad(write("badpiece.json", "{\"model\": {\"vocab\": [[0.5, \"a\"]]}}"), "model.vocab[0] is not a [piece, score] pair");
        assertBad(write("added.json", "{\"added_tokens\": {}, \"model\": {\"vocab\": {\"a\": 0}}}"), "\"added_tokens\" is not an array");
        assertBad(write("nocontent.json", "{\"added_tokens\": [{\"id\": 1}], \"model\": {\"vocab\": {\"a\": 0}}}"),
                "added_tokens[0] has no \"content\"");
        assertBad(write("empty.json", "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}"), "the vocabulary is empty");
        assertBad(write("unknown.json", "{\"model\": {\"type\": \"Nonsense\", \"vocab\": {\"a\": 0}}}"),
                "the tokenizers library rejects it");
        assertBad(write("merges.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a q\"]}}"),
                "the tokenizers library rejects it");
        assertThrows(IllegalArgumentException.class, () -> TokenizerVocabulary.open(null));
    }

    @Test
    void aHugeFileIsRefusedBeforeItIsRead() throws IOException {
        Path huge = dir.resolve("model.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength((512L << 20) + 1); // sparse: no disk space used
        }
        assertBad(huge, "not a tokenizer.json: 536870913 bytes, more than the 512 MiB");
    }

    private static void assertBad(Path file, String fragment) {
        TokenizerFileException e = assertThrows(TokenizerFileException.class, () -> TokenizerVocabulary.open(file).close());
        assertTrue(e.getMessage().startsWith(file + ": "), () -> "the message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
    }
}
