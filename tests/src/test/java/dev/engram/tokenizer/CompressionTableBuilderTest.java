package dev.engram.tokenizer;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Structural properties of {@link CompressionTableBuilder} (SEMANTICS.md §2.1) and its input checks. */
class CompressionTableBuilderTest {
    /** Pieces that collide under normalization, hit every key kind, or hit the U+E000 corner. */
    private static final String[] PIECES = {
            "the", "The", " THE", "\t", " ", "\n", "\u00a0", "\u00e9", "e", "E\u0301", "\u0301", "\u0300",
            "\ufffd", "x\ufffd", "\u00df", "ss", "\u2126", "\u03c9", "\ufb01", "fi", "\ue000", "\u0085", "1", "\u2460"};

    private static String randomText(Random rnd) {
        StringBuilder b = new StringBuilder();
        int parts = 1 + rnd.nextInt(2);
        for (int i = 0; i < parts; i++) b.append(PIECES[rnd.nextInt(PIECES.length)]);
        return b.toString();
    }

    @RepeatedTest(50)
    void tableIsFirstOccurrenceNumberingOntoZeroToVPrime(RepetitionInfo info) {
        Random rnd = new Random(1000L + info.getCurrentRepetition());
        int n = 1 + rnd.nextInt(200);
        List<String> decoded = new ArrayList<>();
        List<String> raw = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            decoded.add(randomText(rnd));
            raw.add("raw" + rnd.nextInt(5));   // few raw strings: RAW_TOKEN keys collide too
        }
        BuiltCompressionTable built = CompressionTableBuilder.build(decoded, raw);
        long[] lookup = built.table().toArray();
        long vPrime = built.numNewToken();

        assertEquals(n, lookup.length);
        assertEquals(0, lookup[0]);
        long max = -1;
        for (int t = 0; t < n; t++) {
            assertTrue(lookup[t] >= 0 && lookup[t] < vPrime, "lookup[" + t + "] = " + lookup[t] + " outside [0, V')");
            assertTrue(lookup[t] <= max + 1, "lookup[" + t + "] = " + lookup[t] + " skips past max " + max + " + 1");
            max = Math.max(max, lookup[t]);
        }
        assertEquals(vPrime - 1, max, "values must cover [0, V')");
        assertEquals(new HashSet<>(built.keys()).size(), vPrime);
        for (int t = 0; t < n; t++) {
            assertEquals(built.distinctKeys().get((int) lookup[t]), built.keys().get(t), "key of id " + t);
            String text = decoded.get(t);
            KeyKind expected = text.contains("\ufffd") ? KeyKind.RAW_TOKEN
                    : TokenNormalizer.normalize(text).isEmpty() ? KeyKind.RAW_TEXT_FALLBACK : KeyKind.NORMALIZED;
            assertEquals(expected, built.kinds().get(t), "kind of id " + t);
        }
    }

    @Test
    void allKindsShareOneDictionary() {
        // "the" normalized, a raw token spelled "the", and a fallback equal to an earlier key all share ids.
        BuiltCompressionTable built = CompressionTableBuilder.build(
                List.of("The", "\ufffd", "\u0301", "\u0301"),
                List.of("x", "the", "y", "z"));
        assertEquals(List.of(KeyKind.NORMALIZED, KeyKind.RAW_TOKEN, KeyKind.RAW_TEXT_FALLBACK, KeyKind.RAW_TEXT_FALLBACK),
                built.kinds());
        assertEquals("[0, 0, 1, 1]", Arrays.toString(built.table().toArray()));
        assertEquals(List.of("the", "\u0301"), built.distinctKeys());
        assertEquals(2, built.numNewToken());
    }

    @Test
    void resultListsAreUnmodifiable() {
        BuiltCompressionTable built = CompressionTableBuilder.build(List.of("a"), List.of("a"));
        assertThrows(UnsupportedOperationException.class, () -> built.keys().add("b"));
    }

    @Test
    void sizeMismatchNamesBothSizes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CompressionTableBuilder.build(List.of("a", "b", "c"), List.of("a", "b")));
        assertTrue(e.getMessage().contains("3") && e.getMessage().contains("2"), e.getMessage());
    }

    @Test
    void nullsAndEmptyAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> CompressionTableBuilder.build(null, List.of()));
        assertThrows(IllegalArgumentException.class, () -> CompressionTableBuilder.build(List.of(), null));
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> CompressionTableBuilder.build(List.of(), List.of()));
        assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
        IllegalArgumentException nullText = assertThrows(IllegalArgumentException.class,
                () -> CompressionTableBuilder.build(Arrays.asList("a", null), List.of("a", "b")));
        assertTrue(nullText.getMessage().contains("token id 1"), nullText.getMessage());
        IllegalArgumentException nullRaw = assertThrows(IllegalArgumentException.class,
                () -> CompressionTableBuilder.build(List.of("a", "b"), Arrays.asList(null, "b")));
        assertTrue(nullRaw.getMessage().contains("token id 0"), nullRaw.getMessage());
    }

    @Test
    void keyKindGoldenNamesRoundTrip() {
        for (KeyKind k : KeyKind.values()) assertEquals(k, KeyKind.fromGoldenName(k.goldenName()));
        assertThrows(IllegalArgumentException.class, () -> KeyKind.fromGoldenName("decoded"));
    }
}
