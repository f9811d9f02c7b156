package dev.engram.table;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Random fills: a pure function of (seed, element index), so thread counts and chunking cannot matter. */
class RandomRowsTest {
    private static final long SEED = 7;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16"})
    void sameTableForEveryThreadCount(DType dtype) {
        // 300k rows x 64: more than one 64 MiB chunk in FLOAT32, so threads split the work.
        long rows = 300_000;
        try (HostTable one = HostTable.allocate(rows, 64, dtype)) {
            RandomRows.fill(one, SEED, 0.5, 1);
            for (int threads : new int[] {2, 5}) {
                try (HostTable many = HostTable.allocate(rows, 64, dtype)) {
                    RandomRows.fill(many, SEED, 0.5, threads);
                    assertEquals(-1, many.segment().mismatch(one.segment()), threads + " threads");
                }
            }
            for (long i : new long[] {0, 1, 63, 64, rows * 64 - 1, 12_345_678}) {
                float v = RandomRows.value(SEED, 0.5, i);
                if (dtype == DType.FLOAT32) {
                    assertEquals(v, one.segment().getAtIndex(ValueLayout.JAVA_FLOAT, i), "element " + i);
                } else {
                    assertEquals(BFloat16.fromFloat(v), one.segment().getAtIndex(ValueLayout.JAVA_SHORT, i), "element " + i);
                }
            }
        }
    }

    @Test
    void distributionIsCenteredWithTheRequestedSpread() {
        double std = 0.02, sum = 0, sumSq = 0, max = 0;
        int n = 1 << 20;
        for (int i = 0; i < n; i++) {
            double v = RandomRows.value(SEED, std, i);
            sum += v;
            sumSq += v * v;
            max = Math.max(max, Math.abs(v));
        }
        double mean = sum / n, sd = Math.sqrt(sumSq / n - mean * mean);
        assertEquals(0, mean, 1e-4, "mean");
        assertEquals(std, sd, std * 0.01, "standard deviation");
        assertTrue(max <= 2 * Math.sqrt(3) * std, "bounded: " + max);
        assertTrue(max > 2.5 * std, "tails exist: " + max);
    }

    @Test
    void seedsDiffer() {
        assertNotEquals(RandomRows.value(1, 1, 0), RandomRows.value(2, 1, 0));
        assertEquals(0f, RandomRows.value(1, 0, 99));
    }

    @Test
    void badArgumentsAreRejected() {
        try (HostTable t = HostTable.allocate(4, 4, DType.FLOAT32)) {
            assertThrows(IllegalArgumentException.class, () -> RandomRows.fill(t, 1, -1, 1));
            assertThrows(IllegalArgumentException.class, () -> RandomRows.fill(t, 1, Double.NaN, 1));
            assertThrows(IllegalArgumentException.class, () -> RandomRows.fill(t, 1, 1, 0));
        }
    }
}
