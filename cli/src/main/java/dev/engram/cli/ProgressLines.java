package dev.engram.cli;

import dev.engram.table.ProgressListener;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A table load's progress as lines on stderr: one when it starts, one at most every {@link #INTERVAL_NANOS} while
 * bytes are added, one with the time taken when it ends, e.g.
 * {@code forward: table upload to the device: 1.50 of 4.00 GiB (37%)}. Lines, not a carriage-return bar, so a log
 * keeps them readable.
 */
final class ProgressLines implements ProgressListener {
    /** Least time between two intermediate lines. */
    static final long INTERVAL_NANOS = 2_000_000_000L;

    private final PrintStream err;
    private final String what;
    private long started;
    private long lastLine;

    private ProgressLines(PrintStream err, String what) {
        this.err = err;
        this.what = what;
    }

    /**
     * {@return lines on {@code err} when {@code show}, else {@link ProgressListener#NONE}}
     *
     * @param what what is loading, e.g. "table upload to the device"
     */
    static ProgressListener of(boolean show, PrintStream err, String what) {
        return show ? new ProgressLines(err, what) : ProgressListener.NONE;
    }

    /** {@return whether the JVM's console is an interactive terminal: progress lines are shown there by default} */
    static boolean interactive() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    @Override
    public void progress(long bytesDone, long totalBytes) {
        long now = System.nanoTime();
        if (bytesDone == 0) {
            started = now;
            lastLine = now;
            line(bytesDone, totalBytes, "");
        } else if (bytesDone >= totalBytes) {
            line(bytesDone, totalBytes, String.format(Locale.ROOT, " in %.1f s", (now - started) / 1e9));
        } else if (now - lastLine >= INTERVAL_NANOS) {
            lastLine = now;
            line(bytesDone, totalBytes, "");
        }
    }

    private void line(long done, long total, String tail) {
        double gib = 1L << 30;
        err.printf(Locale.ROOT, "forward: %s: %.2f of %.2f GiB (%d%%)%s%n", what, done / gib, total / gib,
                total == 0 ? 100 : (int) (100 * (double) done / total), tail);
        err.flush();
    }
}
