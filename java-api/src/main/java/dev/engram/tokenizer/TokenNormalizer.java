package dev.engram.tokenizer;

import java.text.Normalizer;

/**
 * The text normalizer of the reference {@code CompressedTokenizer} (SEMANTICS.md §2.1, step 2),
 * a port of this Hugging Face {@code tokenizers} sequence, applied in exactly this order:
 *
 * <pre>
 * NFKC() -&gt; NFD() -&gt; StripAccents() -&gt; Lowercase()
 * -&gt; Replace(Regex(r"[ \t\r\n]+"), " ")
 * -&gt; Replace(Regex(r"^ $"), "\uE000")
 * -&gt; Strip()
 * -&gt; Replace("\uE000", " ")
 * </pre>
 *
 * <p>Notable consequences, all matching the reference:
 * <ul>
 *   <li>a text that becomes exactly one ASCII space after the whitespace collapse (" ", "\t",
 *       "\r\n", NBSP through NFKC, ...) stays {@code " "} instead of being stripped to "";</li>
 *   <li>every U+E000 (the protection placeholder) in the source text also comes out as a space;</li>
 *   <li>lowercasing is per code point, with no final-sigma rule ("ΟΔΟΣ" → "οδοσ");</li>
 *   <li>"ß" is not folded to "ss"; marks are dropped after NFD, so "é" → "e" and "İ" → "i";</li>
 *   <li>stripping uses the Unicode White_Space property (Rust {@code char::is_whitespace}),
 *       not {@link Character#isWhitespace}: U+0085 is stripped, U+001C is not.</li>
 * </ul>
 *
 * <p>Results follow the Unicode version of the running JDK, while the reference follows the
 * tables compiled into {@code tokenizers}; the two can differ only for code points assigned
 * in one version and not the other. Unpaired surrogates (impossible in a Rust string) pass
 * through every step unchanged.
 */
public final class TokenNormalizer {
    /** The private-use placeholder the reference uses to protect a lone space from Strip. */
    static final char PROTECTED_SPACE = '\uE000';

    private TokenNormalizer() {}

    /**
     * Normalizes one decoded token text exactly as the reference normalizer does.
     *
     * @param text the decoded text of a token
     * @return the normalized text; may be empty (e.g. for a lone combining mark)
     * @throws IllegalArgumentException if {@code text} is null
     */
    public static String normalize(String text) {
        if (text == null) throw new IllegalArgumentException("text to normalize is null");
        String s = Normalizer.normalize(text, Normalizer.Form.NFKC);   // NFKC()
        s = Normalizer.normalize(s, Normalizer.Form.NFD);              // NFD()
        s = stripAccents(s);                                           // StripAccents()
        s = lowercase(s);                                              // Lowercase()
        s = collapseAsciiWhitespace(s);                                // Replace(Regex(r"[ \t\r\n]+"), " ")
        // Replace(Regex(r"^ $"), "\uE000"): Oniguruma's ^/$ are line anchors, but no '\n' survives
        // the collapse above, so the pattern matches exactly when the whole text is one space.
        if (s.equals(" ")) s = String.valueOf(PROTECTED_SPACE);
        s = strip(s);                                                  // Strip()
        return s.replace(PROTECTED_SPACE, ' ');                        // Replace("\uE000", " ")
    }

    /** {@code StripAccents}: drops every code point of General_Category Mark (Mn, Mc, Me). */
    static String stripAccents(String s) {
        StringBuilder out = new StringBuilder(s.length());
        s.codePoints().filter(cp -> !isMark(cp)).forEach(out::appendCodePoint);
        return out.toString();
    }

    static boolean isMark(int cp) {
        int type = Character.getType(cp);
        return type == Character.NON_SPACING_MARK
                || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK;
    }

    /**
     * {@code Lowercase}: each code point independently, like Rust {@code char::to_lowercase}: the
     * simple lowercase mapping plus the unconditional multi-character ones of SpecialCasing.txt,
     * of which there is exactly one (U+0130 → "i\u0307"). No context rules (final sigma) and no
     * locale rules apply, which is why {@link String#toLowerCase} is not used.
     */
    static String lowercase(String s) {
        StringBuilder out = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> {
            if (cp == 0x0130) out.append("i\u0307");
            else out.appendCodePoint(Character.toLowerCase(cp));
        });
        return out.toString();
    }

    /** {@code Replace(Regex(r"[ \t\r\n]+"), " ")}: each run of ASCII space/tab/CR/LF becomes one space. */
    static String collapseAsciiWhitespace(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean inRun = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
            if (!ws) out.append(c);
            else if (!inRun) out.append(' ');
            inRun = ws;
        }
        return out.toString();
    }

    /** {@code Strip()}: trims Unicode White_Space code points from both ends. */
    static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isUnicodeWhiteSpace(s.charAt(start))) start++;
        while (end > start && isUnicodeWhiteSpace(s.charAt(end - 1))) end--;
        return s.substring(start, end);
    }

    /**
     * The Unicode White_Space property (Rust {@code char::is_whitespace}). All such code points
     * are in the BMP, so testing UTF-16 units is exact.
     */
    static boolean isUnicodeWhiteSpace(int cp) {
        return (cp >= 0x0009 && cp <= 0x000D) || cp == 0x0020 || cp == 0x0085 || cp == 0x00A0
                || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029
                || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }
}
