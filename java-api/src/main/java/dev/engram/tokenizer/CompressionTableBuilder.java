package dev.engram.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the compression table of the reference {@code CompressedTokenizer._build_lookup_table}
 * (SEMANTICS.md §2.1, step 3) from what a tokenizer says about each of its ids.
 *
 * <p>For each raw id {@code t} in order:
 * <pre>
 * text = decoded[t]                       # tokenizer.decode([t], skip_special_tokens=False)
 * if "\uFFFD" in text:  key = rawTokens[t]   (RAW_TOKEN)   # convert_ids_to_tokens(t)
 * else: norm = normalize(text)
 *       key = norm if norm else text     (NORMALIZED / RAW_TEXT_FALLBACK)
 * lookup[t] = id of key, numbered by first occurrence in one dictionary shared by all kinds
 * </pre>
 * so {@code lookup[0] == 0}, the table maps onto {@code [0, V')} and
 * {@code lookup[t] <= max(lookup[0..t-1]) + 1}.
 */
public final class CompressionTableBuilder {
    private CompressionTableBuilder() {}

    /**
     * Builds the table for a vocabulary of {@code decoded.size()} ids.
     *
     * @param decoded   the decoded text of every raw id, indexed by id ({@code len(tokenizer)} entries,
     *                  added and special tokens included)
     * @param rawTokens the raw token string of every raw id (byte-level BPE form), same size
     * @return the table, every id's key and kind, and {@code V'}
     * @throws IllegalArgumentException if a list or an element is null, the lists differ in size,
     *                                  or they are empty
     */
    public static BuiltCompressionTable build(List<String> decoded, List<String> rawTokens) {
        if (decoded == null) throw new IllegalArgumentException("decoded texts list is null");
        if (rawTokens == null) throw new IllegalArgumentException("raw tokens list is null");
        if (decoded.size() != rawTokens.size()) {
            throw new IllegalArgumentException("decoded texts (" + decoded.size() + " entries) and raw tokens ("
                    + rawTokens.size() + " entries) must have the same size, one per token id");
        }
        if (decoded.isEmpty()) throw new IllegalArgumentException("vocabulary is empty: no token ids to map");
        int n = decoded.size();
        long[] lookup = new long[n];
        List<String> keys = new ArrayList<>(n);
        List<KeyKind> kinds = new ArrayList<>(n);
        List<String> distinct = new ArrayList<>();
        Map<String, Integer> keyToId = new HashMap<>();
        for (int t = 0; t < n; t++) {
            String text = decoded.get(t);
            String raw = rawTokens.get(t);
            if (text == null) throw new IllegalArgumentException("decoded text of token id " + t + " is null");
            if (raw == null) throw new IllegalArgumentException("raw token of token id " + t + " is null");
            String key;
            KeyKind kind;
            if (text.indexOf('\uFFFD') >= 0) {
                key = raw;
                kind = KeyKind.RAW_TOKEN;
            } else {
                String norm = TokenNormalizer.normalize(text);
                key = norm.isEmpty() ? text : norm;
                kind = norm.isEmpty() ? KeyKind.RAW_TEXT_FALLBACK : KeyKind.NORMALIZED;
            }
            Integer id = keyToId.get(key);
            if (id == null) {
                id = distinct.size();
                keyToId.put(key, id);
                distinct.add(key);
            }
            lookup[t] = id;
            keys.add(key);
            kinds.add(kind);
        }
        return new BuiltCompressionTable(CompressionTable.of(lookup), keys, kinds, distinct, distinct.size());
    }
}
