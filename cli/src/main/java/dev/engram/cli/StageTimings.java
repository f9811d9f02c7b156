package dev.engram.cli;

import dev.engram.reference.ForwardTrace.StageTimes;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.ToLongFunction;

/** Per-stage times of repeated forwards, summarised by the median (robust to a stray GC or a busy core). */
final class StageTimings {
    /** Stage names in pipeline order, as {@link StageTimes} names them. */
    static final List<String> STAGES = List.of("hash", "gather", "projections", "gate", "conv");
    private static final List<ToLongFunction<StageTimes>> GETTERS = List.of(
            StageTimes::hash, StageTimes::gather, StageTimes::projections, StageTimes::gate, StageTimes::conv);

    private final List<StageTimes> runs = new ArrayList<>();

    void add(StageTimes t) {
        runs.add(t);
    }

    int count() {
        return runs.size();
    }

    /** Median nanoseconds of stage {@code i} of {@link #STAGES}. */
    long medianNanos(int stage) {
        return median(GETTERS.get(stage));
    }

    /** Median of the per-run totals (not the sum of the stage medians). */
    long medianTotalNanos() {
        return median(StageTimes::total);
    }

    private long median(ToLongFunction<StageTimes> f) {
        long[] v = runs.stream().mapToLong(f).sorted().toArray();
        int n = v.length;
        if (n == 0) throw new IllegalStateException("no runs recorded");
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    @Override
    public String toString() {
        return "StageTimings" + Arrays.toString(runs.toArray());
    }
}
