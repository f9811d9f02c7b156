package dev.engram.nativelib;

import dev.engram.EngramNativeException;
import dev.engram.bindings.engram_h;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input never reaches native code through {@link EngramNative} (IllegalArgumentException naming
 * the problem), and the C side validates on its own when called through the raw binding.
 */
class NgramHashValidationTest {
    private static final long[] IDS = {1, 2, 3, 4, 5, 6};
    private static final long[] MULT = {3, 5, 7};
    private static final long[] MOD = {11, 13, 17, 19};

    @Test
    void shapesAreCheckedInJava() {
        assertIae("batch and seqLen must be >= 0", () -> EngramNative.ngramHashHost(IDS, -1, 6, 0, MULT, MOD, 2));
        assertIae("batch and seqLen must be >= 0", () -> EngramNative.ngramHashHost(IDS, 2, -3, 0, MULT, MOD, 2));
        assertIae("compressedIds has 6 elements, expected batch*seqLen = 2*4",
                () -> EngramNative.ngramHashHost(IDS, 2, 4, 0, MULT, MOD, 2));
        assertIae("need at least 2 multipliers", () -> EngramNative.ngramHashHost(IDS, 2, 3, 0, new long[] {3}, MOD, 2));
        assertIae("headsPerNgram must be >= 1", () -> EngramNative.ngramHashHost(IDS, 2, 3, 0, MULT, MOD, 0));
        assertIae("moduli has 4 entries, expected (max_ngram_size-1)*headsPerNgram = 2*3",
                () -> EngramNative.ngramHashHost(IDS, 2, 3, 0, MULT, MOD, 3));
        assertIae("every modulus must be > 0, got moduli[2] = 0",
                () -> EngramNative.ngramHashHost(IDS, 2, 3, 0, MULT, new long[] {11, 13, 0, 19}, 2));
        assertIae("every modulus must be > 0, got moduli[0] = -7",
                () -> EngramNative.ngramHashHost(IDS, 2, 3, 0, MULT, new long[] {-7, 13, 17, 19}, 2));
        assertThrows(NullPointerException.class, () -> EngramNative.ngramHashHost(null, 2, 3, 0, MULT, MOD, 2));
        assertThrows(NullPointerException.class, () -> EngramNative.ngramHashHost(IDS, 2, 3, 0, null, MOD, 2));
        assertThrows(NullPointerException.class, () -> EngramNative.ngramHashHost(IDS, 2, 3, 0, MULT, null, 2));
    }

    @Test
    void cSideRejectsABadModulusAndSaysWhy() {
        NativeLibraryLoader.require();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocateFrom(ValueLayout.JAVA_LONG, IDS);
            MemorySegment mult = arena.allocateFrom(ValueLayout.JAVA_LONG, MULT);
            MemorySegment mod = arena.allocateFrom(ValueLayout.JAVA_LONG, 11, 13, 0, 19);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, 6 * 4);
            out.fill((byte) 0x5A);

            int status = engram_h.engram_ngram_hash_host(ids, 2, 3, 0, mult, 3, mod, 2, out);

            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), status);
            assertEquals("engram_ngram_hash_host: every modulus must be > 0", engram_h.engram_last_error().getString(0));
            for (long i = 0; i < out.byteSize(); i++) {
                assertEquals((byte) 0x5A, out.get(ValueLayout.JAVA_BYTE, i), "nothing is written on failure");
            }
            EngramNativeException e = assertThrows(EngramNativeException.class,
                    () -> EngramNative.check("engram_ngram_hash_host", status));
            assertEquals("engram_ngram_hash_host failed: ENGRAM_STATUS_INVALID_ARGUMENT: "
                    + "engram_ngram_hash_host: every modulus must be > 0", e.getMessage());
            assertEquals("engram_ngram_hash_host", e.call());
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), e.status());
            assertEquals("ENGRAM_STATUS_INVALID_ARGUMENT", e.statusName());
            assertEquals("engram_ngram_hash_host: every modulus must be > 0", e.lastError());
        }
    }

    @Test
    void cSideRejectsNullPointersAndBadSizes() {
        NativeLibraryLoader.require();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocateFrom(ValueLayout.JAVA_LONG, IDS);
            MemorySegment mult = arena.allocateFrom(ValueLayout.JAVA_LONG, MULT);
            MemorySegment mod = arena.allocateFrom(ValueLayout.JAVA_LONG, MOD);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, 6 * 4);

            assertRawFailure(engram_h.engram_ngram_hash_host(MemorySegment.NULL, 2, 3, 0, mult, 3, mod, 2, out),
                    "engram_ngram_hash_host: null pointer argument");
            assertRawFailure(engram_h.engram_ngram_hash_host(ids, -2, 3, 0, mult, 3, mod, 2, out),
                    "engram_ngram_hash_host: batch and seq_len must be >= 0");
            assertRawFailure(engram_h.engram_ngram_hash_host(ids, 2, 3, 0, mult, 1, mod, 2, out),
                    "engram_ngram_hash_host: need max_ngram_size >= 2 and heads_per_ngram >= 1");

            int ok = engram_h.engram_ngram_hash_host(ids, 2, 3, 0, mult, 3, mod, 2, out);
            EngramNative.check("engram_ngram_hash_host", ok);
            assertEquals("", engram_h.engram_last_error().getString(0), "success clears the last error");
        }
    }

    @Test
    void lastErrorIsPerThread() throws Exception {
        NativeLibraryLoader.require();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, 4);
            int status = engram_h.engram_ngram_hash_host(MemorySegment.NULL, 1, 1, 0, out, 2, out, 1, out);
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), status);
            String[] other = new String[1];
            Thread t = new Thread(() -> other[0] = engram_h.engram_last_error().getString(0));
            t.start();
            t.join();
            assertEquals("", other[0], "another thread does not see this thread's error");
            assertTrue(engram_h.engram_last_error().getString(0).contains("null pointer"));
        }
    }

    private static void assertRawFailure(int status, String lastError) {
        assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), status, lastError);
        assertEquals(lastError, engram_h.engram_last_error().getString(0));
    }

    private static void assertIae(String expectedFragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expectedFragment),
                () -> "message '" + e.getMessage() + "' should contain '" + expectedFragment + "'");
    }
}
