package dev.engram.testing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The comparison every GPU test relies on must not let a poisoned (NaN) element through. */
class CompareTest {

    @Test
    void nanAnywhereFails() {
        double[] expected = {1, 2, 3, 4};
        for (int i = 0; i < expected.length; i++) {
            double[] actual = expected.clone();
            actual[i] = Double.NaN;
            assertTrue(Double.isNaN(Compare.normwiseRelativeError(actual, expected)), "NaN at " + i);
            int at = i;
            assertThrows(AssertionError.class, () -> Compare.assertAllClose(actual, expected, 1e300, "NaN at " + at));
        }
    }

    @Test
    void normwiseError() {
        assertEquals(0.5 / 4, Compare.normwiseRelativeError(new double[] {1, 2.5, 3, 4}, new double[] {1, 2, 3, 4}));
        assertEquals(0, Compare.normwiseRelativeError(new double[] {0, 0}, new double[] {0, 0}));
        Compare.assertAllClose(new double[] {1, 2.5}, new double[] {1, 2}, 0.25, "within");
        assertThrows(AssertionError.class, () -> Compare.assertAllClose(new double[] {1, 2.5}, new double[] {1, 2}, 0.2, "beyond"));
    }
}
