package dev.engram.bench;

import java.util.Arrays;

/** Summary statistics of repeated timings, shared by the benchmarks. */
final class Stats {
    private Stats() {}

    /** {@return the median (the mean of the two middle values for an even count)} */
    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** {@return the smallest value, NaN for none} */
    static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    /** {@return the largest value, NaN for none} */
    static double max(double[] v) {
        return Arrays.stream(v).max().orElse(Double.NaN);
    }
}
