package dev.engram.tokenizer;

import dev.engram.io.LittleEndianFiles;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * The token-compression lookup table (SEMANTICS.md §2): raw tokenizer id → canonical id in
 * {@code [0, V')}. Applying it leaves negative ids unchanged and rejects ids past the table,
 * exactly as the reference's {@code _compress}.
 */
public final class CompressionTable {
    private final long[] lookup;
    private final long compressedVocabSize;

    private CompressionTable(long[] lookup) {
        if (lookup.length == 0) throw new IllegalArgumentException("compression table is empty");
        long max = -1;
        for (int i = 0; i < lookup.length; i++) {
            if (lookup[i] < 0) {
                throw new IllegalArgumentException("compression table entry " + i + " is negative (" + lookup[i] + ")");
            }
            max = Math.max(max, lookup[i]);
        }
        this.lookup = lookup;
        this.compressedVocabSize = max + 1;
    }

    /**
     * {@return a table over a copy of {@code lookup}}
     *
     * @param lookup the canonical id of every raw id, indexed by raw id; non-empty, every entry {@code >= 0}
     * @throws IllegalArgumentException when {@code lookup} is empty or has a negative entry
     */
    public static CompressionTable of(long[] lookup) {
        return new CompressionTable(lookup.clone());
    }

    /**
     * {@return the identity table of size {@code vocabSize}, for ids that are already compressed}
     *
     * @param vocabSize the compressed vocabulary size, in {@code [1, 2^31-9]}
     * @throws IllegalArgumentException when {@code vocabSize} is outside that range
     */
    public static CompressionTable identity(long vocabSize) {
        if (vocabSize <= 0 || vocabSize > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("identity table size must be in [1, 2^31-9], got " + vocabSize);
        }
        long[] t = new long[(int) vocabSize];
        Arrays.setAll(t, i -> i);
        return new CompressionTable(t);
    }

    /**
     * Loads a table from a raw little-endian file: int32 when the name ends in {@code .i32.bin},
     * int64 when it ends in {@code .i64.bin} (the golden files' convention).
     *
     * @param file the table file
     * @return the table
     * @throws IllegalArgumentException when the name gives no dtype, or the contents are not a valid table
     * @throws java.io.UncheckedIOException when the file cannot be read
     */
    public static CompressionTable load(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".i32.bin")) return load(file, 4);
        if (name.endsWith(".i64.bin")) return load(file, 8);
        throw new IllegalArgumentException(file + ": cannot tell the dtype; name it *.i32.bin or *.i64.bin,"
                + " or call load(file, elementBytes)");
    }

    /**
     * Loads a table of little-endian int32 ({@code elementBytes == 4}) or int64 ({@code 8}) entries.
     *
     * @param file         the table file
     * @param elementBytes 4 or 8, the size of one entry
     * @return the table
     * @throws IllegalArgumentException for another {@code elementBytes}, a file that is not a whole number of
     *                                  entries, or contents that are not a valid table
     * @throws java.io.UncheckedIOException when the file cannot be read
     */
    public static CompressionTable load(Path file, int elementBytes) {
        return switch (elementBytes) {
            case 4 -> new CompressionTable(Arrays.stream(LittleEndianFiles.readInt32(file)).asLongStream().toArray());
            case 8 -> new CompressionTable(LittleEndianFiles.readInt64(file));
            default -> throw new IllegalArgumentException("elementBytes must be 4 (int32) or 8 (int64), got " + elementBytes);
        };
    }

    /** {@return the number of raw ids the table covers ({@code len(tokenizer)})} */
    public int size() {
        return lookup.length;
    }

    /** {@return the compressed vocabulary size {@code V'}, the largest entry + 1} */
    public long compressedVocabSize() {
        return compressedVocabSize;
    }

    /**
     * {@return the canonical id of {@code rawId}; a negative id is returned unchanged}
     *
     * @param rawId a raw tokenizer id
     * @throws IndexOutOfBoundsException when {@code rawId >= size()}
     */
    public long compress(long rawId) {
        if (rawId < 0) return rawId;
        if (rawId >= lookup.length) {
            throw new IndexOutOfBoundsException("token id " + rawId + " is outside the compression table (size "
                    + lookup.length + ")");
        }
        return lookup[(int) rawId];
    }

    /**
     * {@return the canonical id of every raw id, in a new array} Negative ids pass through unchanged.
     *
     * @param rawIds raw tokenizer ids
     * @throws IndexOutOfBoundsException for the first id {@code >= size()}, naming its index
     */
    public long[] compress(long[] rawIds) {
        long[] out = new long[rawIds.length];
        for (int i = 0; i < rawIds.length; i++) {
            long id = rawIds[i];
            if (id >= lookup.length) {
                throw new IndexOutOfBoundsException("token id " + id + " at index " + i
                        + " is outside the compression table (size " + lookup.length + ")");
            }
            out[i] = id < 0 ? id : lookup[(int) id];
        }
        return out;
    }

    /**
     * {@return the compressed pad id: {@code lookup[padId]} with Python indexing} A negative pad id counts from
     * the end (the reference's {@code int(lookup[pad_id])}).
     *
     * @param padId the raw pad id, in {@code [-size(), size())}
     * @throws IllegalArgumentException when {@code padId} is outside the table
     */
    public long compressPadId(long padId) {
        long index = padId < 0 ? lookup.length + padId : padId;
        if (index < 0 || index >= lookup.length) {
            throw new IllegalArgumentException("pad_id " + padId + " is outside the compression table (size "
                    + lookup.length + ")");
        }
        return lookup[(int) index];
    }

    /** {@return a copy of the lookup entries, indexed by raw id} */
    public long[] toArray() {
        return lookup.clone();
    }
}
