package dev.engram.tokenizer;

import java.util.List;

/**
 * What {@link CompressionTableBuilder#build} produces: the table and how every raw id got its key.
 *
 * @param table        raw id → compressed id in {@code [0, numNewToken)}
 * @param keys         the key of every raw id, indexed by raw id
 * @param kinds        which text each key came from, indexed by raw id
 * @param distinctKeys the distinct keys in first-occurrence order, indexed by compressed id
 * @param numNewToken  {@code V'}, the number of distinct keys ({@code = table.compressedVocabSize()})
 */
public record BuiltCompressionTable(CompressionTable table, List<String> keys, List<KeyKind> kinds,
                                    List<String> distinctKeys, long numNewToken) {
    /** Copies the lists into unmodifiable ones and checks that the parts agree in size. */
    public BuiltCompressionTable {
        if (table == null || keys == null || kinds == null || distinctKeys == null) {
            throw new IllegalArgumentException("table, keys, kinds and distinctKeys must not be null");
        }
        keys = List.copyOf(keys);
        kinds = List.copyOf(kinds);
        distinctKeys = List.copyOf(distinctKeys);
        if (keys.size() != table.size() || kinds.size() != table.size()) {
            throw new IllegalArgumentException("table covers " + table.size() + " ids but there are "
                    + keys.size() + " keys and " + kinds.size() + " kinds");
        }
        if (distinctKeys.size() != numNewToken || numNewToken != table.compressedVocabSize()) {
            throw new IllegalArgumentException("numNewToken " + numNewToken + " disagrees with "
                    + distinctKeys.size() + " distinct keys or the table's V' " + table.compressedVocabSize());
        }
    }
}
