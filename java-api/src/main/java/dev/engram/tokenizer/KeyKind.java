package dev.engram.tokenizer;

/**
 * Which text became a token's key in the compression table (SEMANTICS.md §2.1, step 3). The
 * three kinds share one key dictionary, so equal strings of different kinds get the same id.
 */
public enum KeyKind {
    /** The decoded text normalized to a non-empty string; the key is that normalization. */
    NORMALIZED("normalized"),
    /** The decoded text contains U+FFFD (a partial UTF-8 byte token); the key is the raw token string. */
    RAW_TOKEN("raw_token"),
    /** The decoded text normalized to ""; the key is the decoded text itself. */
    RAW_TEXT_FALLBACK("raw_text_fallback");

    private final String goldenName;

    KeyKind(String goldenName) {
        this.goldenName = goldenName;
    }

    /**
     * The name golden_hash.json uses for this kind ({@code lookup_construction.keys[].kind}).
     *
     * @return {@code "normalized"}, {@code "raw_token"} or {@code "raw_text_fallback"}
     */
    String goldenName() {
        return goldenName;
    }

    /**
     * The kind with this golden name.
     *
     * @param name a golden kind name, as returned by {@link #goldenName()}
     * @return the kind of that name
     * @throws IllegalArgumentException if no kind has that name
     */
    static KeyKind fromGoldenName(String name) {
        for (KeyKind k : values()) {
            if (k.goldenName.equals(name)) return k;
        }
        throw new IllegalArgumentException("unknown key kind '" + name + "', expected normalized, raw_token"
                + " or raw_text_fallback");
    }
}
