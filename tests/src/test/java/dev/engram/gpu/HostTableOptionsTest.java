package dev.engram.gpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link HostTableLayer.Options} and {@link HostGatherPath#AUTO}'s threshold (no GPU). */
class HostTableOptionsTest {
    @Test
    void defaultsAndWithers() {
        var o = HostTableLayer.Options.of(HostGatherPath.AUTO, 100);
        assertEquals(HostGatherPath.AUTO_ZERO_COPY_MAX_TOKENS, o.zeroCopyMaxTokens());
        assertEquals(64, HostGatherPath.AUTO_ZERO_COPY_MAX_TOKENS);
        assertEquals(HostGatherPath.AUTO_ZERO_COPY_MIN_TOKENS, o.zeroCopyMinTokens());
        assertEquals(16, HostGatherPath.AUTO_ZERO_COPY_MIN_TOKENS);
        assertEquals(100, o.sequenceLimit());
        assertEquals(Runtime.getRuntime().availableProcessors(), o.gatherThreads());
        var changed = o.withMaxSequences(7).withGatherThreads(3).withZeroCopyMaxTokens(0).withZeroCopyMinTokens(2);
        assertEquals(2, changed.zeroCopyMinTokens());
        assertEquals(7, changed.sequenceLimit());
        assertEquals(3, changed.gatherThreads());
        assertEquals(0, changed.zeroCopyMaxTokens());
        assertThrows(IllegalArgumentException.class, () -> o.withGatherThreads(0));
        assertThrows(IllegalArgumentException.class, () -> o.withMaxSequences(-1));
        assertThrows(IllegalArgumentException.class, () -> o.withZeroCopyMaxTokens(-1));
        assertThrows(IllegalArgumentException.class, () -> o.withZeroCopyMinTokens(-1));
        assertThrows(IllegalArgumentException.class, () -> HostTableLayer.Options.of(HostGatherPath.CPU, 0));
        assertThrows(NullPointerException.class, () -> HostTableLayer.Options.of(null, 8));
    }

    @Test
    void theSystemPropertyOverridesTheWindowsLowerEnd() {
        String key = HostGatherPath.AUTO_ZERO_COPY_MIN_TOKENS_PROPERTY;
        String before = System.getProperty(key);
        try {
            System.setProperty(key, "3");
            assertEquals(3, HostTableLayer.Options.of(HostGatherPath.AUTO, 100).zeroCopyMinTokens());
            System.setProperty(key, "-2");
            var e = assertThrows(IllegalArgumentException.class, HostGatherPath::autoZeroCopyMinTokens);
            assertTrue(e.getMessage().contains(key), e.getMessage());
            System.clearProperty(key);
            assertEquals(HostGatherPath.AUTO_ZERO_COPY_MIN_TOKENS, HostGatherPath.autoZeroCopyMinTokens());
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }

    @Test
    void theSystemPropertyOverridesTheAutoThreshold() {
        String key = HostGatherPath.AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY;
        String before = System.getProperty(key);
        try {
            System.setProperty(key, "5");
            assertEquals(5, HostGatherPath.autoZeroCopyMaxTokens());
            assertEquals(5, HostTableLayer.Options.of(HostGatherPath.AUTO, 100).zeroCopyMaxTokens());
            System.setProperty(key, "-1");
            var e = assertThrows(IllegalArgumentException.class, HostGatherPath::autoZeroCopyMaxTokens);
            assertTrue(e.getMessage().contains(key), e.getMessage());
            System.setProperty(key, "many");
            assertThrows(IllegalArgumentException.class, HostGatherPath::autoZeroCopyMaxTokens);
            System.clearProperty(key);
            assertEquals(HostGatherPath.AUTO_ZERO_COPY_MAX_TOKENS, HostGatherPath.autoZeroCopyMaxTokens());
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }
}
