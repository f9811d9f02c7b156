package dev.engram.cli.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What the table needs from a tokenizer.json beyond what DJL's binding exposes: {@code len(tokenizer)} (the
 * binding has no vocabulary size), the highest id, and the same JSON without its decoder, so that the library
 * decodes one id to its raw token string ({@code convert_ids_to_tokens}; the binding has no {@code id_to_token}).
 *
 * <p>{@code len(tokenizer)} of a transformers fast tokenizer is tokenizers' {@code get_vocab_size(true)}: the
 * number of distinct token strings in the model's vocabulary and the added tokens together.
 */
final class TokenizerJson {
    private static final long MAX_ID = 0xFFFF_FFFFL; // tokenizers ids are u32
    /** Far above any real tokenizer.json (tens of MB), far below what would exhaust the heap as a String. */
    private static final long MAX_BYTES = 512L << 20;

    final Path file;
    final int vocabSize;
    final long maxTokenId;
    final String withoutDecoder;

    private TokenizerJson(Path file, int vocabSize, long maxTokenId, String withoutDecoder) {
        this.file = file;
        this.vocabSize = vocabSize;
        this.maxTokenId = maxTokenId;
        this.withoutDecoder = withoutDecoder;
    }

    /**
     * Reads and checks {@code file}.
     *
     * @throws TokenizerFileException when it is missing, unreadable, not JSON, or not shaped like a tokenizers file
     */
    static TokenizerJson read(Path file) {
        ObjectMapper mapper = new ObjectMapper();
        JsonNode root;
        try {
            long bytes = Files.size(file);
            if (bytes > MAX_BYTES) {
                throw new TokenizerFileException(file, "not a tokenizer.json: " + bytes + " bytes, more than the "
                        + (MAX_BYTES >> 20) + " MiB any tokenizer.json has");
            }
            root = mapper.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new TokenizerFileException(file, "no such file");
        } catch (CharacterCodingException e) {
            throw new TokenizerFileException(file, "not a tokenizer.json: not UTF-8 text", e);
        } catch (JsonProcessingException e) {
            throw new TokenizerFileException(file, "not a tokenizer.json: not valid JSON (" + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr()) + ")", e);
        } catch (IOException e) {
            throw new TokenizerFileException(file, "cannot read it: " + e, e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerFileException(file, "not a tokenizer.json: the JSON is not an object");
        }
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw new TokenizerFileException(file, "not a tokenizer.json: no \"model\" object (a Hugging Face"
                    + " tokenizers file has \"model\", \"added_tokens\", \"decoder\", ...)");
        }
        Set<String> tokens = new HashSet<>();
        long maxId = modelVocabulary(file, model.get("vocab"), tokens);
        maxId = Math.max(maxId, addedTokens(file, root.get("added_tokens"), tokens));
        if (tokens.isEmpty()) throw new TokenizerFileException(file, "the vocabulary is empty: no token ids to map");
        ObjectNode copy = ((ObjectNode) root).deepCopy();
        copy.set("decoder", NullNode.getInstance());
        try {
            return new TokenizerJson(file, tokens.size(), maxId, mapper.writeValueAsString(copy));
        } catch (JsonProcessingException e) {
            throw new TokenizerFileException(file, "cannot write it back without its decoder: " + e.getOriginalMessage(), e);
        }
    }

    /** Collects the model's token strings: {token: id} (BPE, WordPiece, WordLevel) or [[piece, score], ...] (Unigram). */
    private static long modelVocabulary(Path file, JsonNode vocab, Set<String> tokens) {
        if (vocab == null || !(vocab.isObject() || vocab.isArray())) {
            throw new TokenizerFileException(file, "not a tokenizer.json: \"model\" has no \"vocab\" object or array");
        }
        long maxId = -1;
        if (vocab.isObject()) {
            for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                maxId = Math.max(maxId, id(file, e.getValue(), "model.vocab[\"" + e.getKey() + "\"]"));
                tokens.add(e.getKey());
            }
        } else {
            for (int i = 0; i < vocab.size(); i++) {
                JsonNode piece = vocab.get(i);
                if (!piece.isArray() || piece.isEmpty() || !piece.get(0).isTextual()) {
                    throw new TokenizerFileException(file, "not a tokenizer.json: model.vocab[" + i
                            + "] is not a [piece, score] pair");
                }
                tokens.add(piece.get(0).asText());
                maxId = i;
            }
        }
        return maxId;
    }

    private static long addedTokens(Path file, JsonNode added, Set<String> tokens) {
        if (added == null || added.isNull()) return -1;
        if (!added.isArray()) throw new TokenizerFileException(file, "not a tokenizer.json: \"added_tokens\" is not an array");
        long maxId = -1;
        for (int i = 0; i < added.size(); i++) {
            JsonNode t = added.get(i);
            JsonNode content = t.get("content");
            if (content == null || !content.isTextual()) {
                throw new TokenizerFileException(file, "not a tokenizer.json: added_tokens[" + i + "] has no \"content\" string");
            }
            maxId = Math.max(maxId, id(file, t.get("id"), "added_tokens[" + i + "].id"));
            tokens.add(content.asText());
        }
        return maxId;
    }

    private static long id(Path file, JsonNode id, String where) {
        if (id == null || !id.canConvertToLong() || !id.isIntegralNumber() || id.asLong() < 0 || id.asLong() > MAX_ID) {
            throw new TokenizerFileException(file, "not a tokenizer.json: " + where + " is not a token id in [0, 2^32), got "
                    + id);
        }
        return id.asLong();
    }
}
