package dev.engram.gpu;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Norm-wise error against a reference that is an interval per element (a point where lo == hi):
 * {@code max_i dist(actual_i, [lo_i, hi_i]) / scale}, with {@code scale = max_i |ref_i|} of the tensor
 * compared (as {@link dev.engram.testing.Compare}). An interval carries a known input uncertainty of
 * the reference through a monotone function, e.g. the gate near {@code dot = 0}, where fp32 rounding
 * of the dot legitimately moves the signed square root a lot. NaN (the poison) always fails.
 *
 * @param error  the norm-wise error ({@code +Infinity} when an element is NaN)
 * @param worst  the index of the largest distance
 * @param actual {@code actual[worst]}
 * @param lo     {@code lo[worst]}
 * @param hi     {@code hi[worst]}
 */
record IntervalCompare(double error, int worst, double actual, double lo, double hi) {

    /** Error of {@code actual} against the intervals {@code [lo_i, hi_i]}, relative to {@code max |ref|}. */
    static IntervalCompare of(double[] actual, double[] lo, double[] hi, double[] ref) {
        if (actual.length == 0 || actual.length != lo.length || lo.length != hi.length || hi.length != ref.length) {
            throw new AssertionError("lengths " + actual.length + ", " + lo.length + ", " + hi.length + ", " + ref.length);
        }
        double scale = 0;
        for (double r : ref) scale = Math.max(scale, Math.abs(r));
        double worstDist = -1;
        int worst = 0;
        for (int i = 0; i < actual.length; i++) {
            double a = actual[i];
            double d = Double.isNaN(a) ? Double.POSITIVE_INFINITY : Math.max(0, Math.max(lo[i] - a, a - hi[i]));
            if (d > worstDist) {
                worstDist = d;
                worst = i;
            }
        }
        double error = scale == 0 ? worstDist : worstDist / scale;
        return new IntervalCompare(error, worst, actual[worst], lo[worst], hi[worst]);
    }

    /** Error of {@code actual} against the point reference {@code ref}: {@code max|actual - ref| / max|ref|}. */
    static IntervalCompare of(double[] actual, double[] ref) {
        return of(actual, ref, ref, ref);
    }

    /** Fails naming the worst index (as {@code describe}) when the error exceeds {@code tol}. */
    IntervalCompare assertWithin(double tol, String what) {
        if (!(error <= tol)) fail(String.format("%s: error %.3e > %.1e at %s", what, error, tol, describeWorst()));
        return this;
    }

    /** "index I: actual A, expected E" or "... expected in [LO, HI]", NaN named as the poison. */
    String describeWorst() {
        String expected = lo == hi ? String.format("expected %.9g", lo) : String.format("expected in [%.9g, %.9g]", lo, hi);
        return String.format("index %d: actual %.9g, %s%s", worst, actual, expected,
                Double.isNaN(actual) ? " (NaN: the poison was not overwritten)" : "");
    }

    @Override
    public String toString() {
        return String.format("%.2e (%s)", error, describeWorst());
    }
}
