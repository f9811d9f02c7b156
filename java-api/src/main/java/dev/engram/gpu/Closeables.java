package dev.engram.gpu;

import java.util.Arrays;
import java.util.List;

/**
 * Releasing several resources when some of them may fail to close: after a sticky CUDA error every runtime
 * call fails again, and stopping at the first failing {@code close()} would leak everything after it and
 * replace the error that matters with a follow-up one.
 */
final class Closeables {
    private Closeables() {}

    /**
     * Closes every resource (nulls skipped), whatever fails.
     *
     * @param failure   the failure so far, or null
     * @param resources closed in the given order
     * @return {@code failure}, or if it was null the first close failure; every later failure is added to it
     *         as suppressed. Checked exceptions are wrapped in {@link IllegalStateException}.
     */
    static RuntimeException closeAll(RuntimeException failure, AutoCloseable... resources) {
        return closeAll(failure, Arrays.asList(resources));
    }

    /** As {@link #closeAll(RuntimeException, AutoCloseable...)}, over a list. */
    static RuntimeException closeAll(RuntimeException failure, List<? extends AutoCloseable> resources) {
        for (AutoCloseable r : resources) {
            if (r == null) continue;
            try {
                r.close();
            } catch (Exception e) {
                if (failure == null) failure = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                else failure.addSuppressed(e);
            }
        }
        return failure;
    }
}
