package dev.engram.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link TokenNormalizer} against SEMANTICS.md §2.1 and the HF normalizer semantics it cites. */
class TokenNormalizerTest {

    static Stream<Arguments> examples() {
        return Stream.of(
                // SEMANTICS.md §2.1 examples
                Arguments.of("The", "the"),
                Arguments.of(" the", "the"),
                Arguments.of("THE", "the"),
                Arguments.of("\tthe\n", "the"),
                Arguments.of("\u00e9", "e"),                  // é precomposed
                Arguments.of("e\u0301", "e"),                 // é decomposed
                Arguments.of("\u00c9", "e"),                  // É
                Arguments.of(" ", " "),
                Arguments.of("  ", " "),
                Arguments.of("\n", " "),
                Arguments.of("\t", " "),
                Arguments.of("\r\n", " "),
                Arguments.of(" \n ", " "),
                Arguments.of("\u00a0", " "),                  // NBSP -> " " through NFKC, then protected
                Arguments.of("\ufb01", "fi"),                 // ﬁ ligature
                Arguments.of("\uff21", "a"),                  // fullwidth Ａ
                Arguments.of("\u2460", "1"),                  // ①
                Arguments.of("\u2126", "\u03c9"),             // Ω OHM SIGN -> ω
                Arguments.of("\u03a9", "\u03c9"),             // Ω GREEK CAPITAL OMEGA -> ω
                Arguments.of("\u00df", "\u00df"),             // ß is not folded to "ss"
                Arguments.of("\u0301", ""),                   // lone combining acute: empty
                // U+0130 decomposes under NFD to "I" + U+0307 and StripAccents drops the mark, so the
                // Lowercase special case ("i\u0307") is never reached through the whole sequence.
                Arguments.of("\u0130", "i"),
                Arguments.of("\u039f\u0394\u039f\u03a3", "\u03bf\u03b4\u03bf\u03c3"), // ΟΔΟΣ -> οδοσ, no final ς
                Arguments.of("a\u00a0b", "a b"),              // NBSP inside text
                Arguments.of("a\u00a0\u00a0b", "a b"),        // NFKC first, then the run collapses
                Arguments.of("\u3000abc\u3000", "abc"),       // ideographic space -> " " via NFKC, stripped
                Arguments.of("\u3000", " "),
                Arguments.of("\u001cx\u001c", "\u001cx\u001c"), // Java whitespace, not Unicode White_Space
                Arguments.of("\u0085x\u0085", "x"),           // NEL: White_Space, not collapsed, stripped
                Arguments.of("\u0085", ""),
                Arguments.of(" \u0085", ""),                  // not exactly " " before Strip: stripped
                Arguments.of("\u2028a\u2029", "a"),
                Arguments.of("a\u000bb", "a\u000bb"),         // VT is not collapsed inside text
                Arguments.of("a \t\r\n b", "a b"),
                Arguments.of("Hello", "hello"),
                Arguments.of("HELLO ", "hello"),
                Arguments.of("<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<|begin\u2581of\u2581sentence|>"),
                Arguments.of("", ""),
                Arguments.of("\ud83d\ude00", "\ud83d\ude00"), // supplementary code point kept
                Arguments.of("\ud801\udc00", "\ud801\udc28"), // DESERET CAPITAL LONG I lowercased
                // the protection placeholder U+E000: the final Replace turns every one into " "
                Arguments.of("\ue000", " "),
                Arguments.of("a\ue000b", "a b"),
                Arguments.of(" \ue000 ", " "),               // Strip keeps the U+E000, restore makes it " "
                Arguments.of("\ue000 x", "  x"));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("examples")
    void normalizesLikeTheReference(String input, String expected) {
        assertEquals(escape(expected), escape(TokenNormalizer.normalize(input)));
    }

    @Test
    void lowercaseStepMapsDottedCapitalIToTwoChars() {
        assertEquals("i\u0307", TokenNormalizer.lowercase("\u0130"));
    }

    @Test
    void lowercaseStepHasNoFinalSigmaRule() {
        assertEquals("\u03bf\u03c3 \u03c3", TokenNormalizer.lowercase("\u039f\u03a3 \u03a3"));
    }

    /**
     * Per isolated code point, Rust's {@code char::to_lowercase} equals the JDK's full root-locale
     * lowercasing (no context applies to a lone code point); checks our per-code-point mapping,
     * including that U+0130 is the only multi-char one.
     */
    @Test
    void lowercaseStepEqualsRootLocaleLowercasePerCodePoint() {
        List<String> multi = new ArrayList<>();
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            if (Character.getType(cp) == Character.SURROGATE) continue;
            String one = Character.toString(cp);
            String jdk = one.toLowerCase(Locale.ROOT);
            assertEquals(jdk, TokenNormalizer.lowercase(one), () -> "U+" + Integer.toHexString(one.codePointAt(0)));
            if (jdk.codePointCount(0, jdk.length()) > 1) multi.add(Integer.toHexString(cp));
        }
        assertEquals(List.of("130"), multi);
    }

    @Test
    void whiteSpaceMatchesTheUnicodeProperty() {
        Pattern whiteSpace = Pattern.compile("\\p{IsWhite_Space}");
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            boolean expected = whiteSpace.matcher(Character.toString(cp)).matches();
            int c = cp;
            assertEquals(expected, TokenNormalizer.isUnicodeWhiteSpace(cp), () -> "U+" + Integer.toHexString(c));
        }
        assertFalse(TokenNormalizer.isUnicodeWhiteSpace(0x001C));
        assertTrue(Character.isWhitespace(0x001C));
        assertFalse(TokenNormalizer.isUnicodeWhiteSpace(0x200B)); // ZERO WIDTH SPACE is not White_Space
    }

    @Test
    void stripAccentsDropsAllThreeMarkCategories() {
        // U+0301 Mn, U+0903 Mc (DEVANAGARI SIGN VISARGA), U+20DD Me (COMBINING ENCLOSING CIRCLE)
        assertEquals("ab", TokenNormalizer.stripAccents("a\u0301\u0903\u20ddb"));
    }

    @Test
    void collapseTouchesOnlyAsciiSpaceTabCrLf() {
        assertEquals(" a b\u000b\u000c c ", TokenNormalizer.collapseAsciiWhitespace("\t\na  b\u000b\u000c\r\n\tc  "));
    }

    @Test
    void nullIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TokenNormalizer.normalize(null));
        assertTrue(e.getMessage().contains("null"));
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7f) b.appendCodePoint(cp);
            else b.append(String.format("\\u{%04X}", cp));
        });
        return b.append('"').toString();
    }
}
