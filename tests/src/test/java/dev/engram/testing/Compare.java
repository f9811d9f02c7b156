package dev.engram.testing;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Tolerance checks that name the worst element. The error measure is norm-wise (∞-norm):
 * {@code max_i |actual_i - expected_i| / max_i |expected_i|}, which stays meaningful for tensors
 * with elements near zero (gate dots, conv outputs) where element-wise relative error is not.
 */
public final class Compare {
    private Compare() {}

    /** The norm-wise relative error (0 when both are all zero). */
    public static double normwiseRelativeError(double[] actual, double[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError("length " + actual.length + " != expected " + expected.length);
        }
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs(actual[i] - expected[i]);
            if (Double.isNaN(d)) return Double.NaN; // a NaN (e.g. an unwritten, poisoned element) fails every tolerance
            maxDiff = Math.max(maxDiff, d);
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        if (maxRef == 0) return maxDiff;
        return maxDiff / maxRef;
    }

    /** Fails, naming the worst index and both values, when the norm-wise relative error exceeds {@code tol}. */
    public static void assertAllClose(double[] actual, double[] expected, double tol, String what) {
        double err = normwiseRelativeError(actual, expected);
        if (err <= tol) return;
        int worst = 0;
        double worstDiff = -1;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs(actual[i] - expected[i]);
            if (Double.isNaN(d) || d > worstDiff) {
                worst = i;
                worstDiff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
                if (Double.isNaN(d)) break;
            }
        }
        fail(String.format("%s: norm-wise relative error %.3e > %.1e; worst index %d: actual %.17g, expected %.17g",
                what, err, tol, worst, actual[worst], expected[worst]));
    }
}
