package dev.engram.table;

import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a job over rows {@code [0, rows)} in chunks on fresh worker threads, while the calling thread reports
 * progress. Workers claim chunks from a shared counter (so a slow chunk does not hold up a fixed share); a
 * failure stops further claims and is rethrown on the caller. For one-off fills (load, init), where starting
 * threads costs nothing next to the work; the steady-state gather has its own pool ({@link GatherWorkers}).
 */
final class ParallelChunks {
    /** Least time between two intermediate progress reports. */
    static final long REPORT_INTERVAL_MILLIS = 100;
    /** Default chunk size: large enough to amortize a claim, small enough to balance and report. */
    static final long DEFAULT_CHUNK_BYTES = 64L << 20;

    /** Work on rows {@code [from, to)}. */
    @FunctionalInterface
    interface RowRange {
        void run(long from, long to) throws Exception;
    }

    private ParallelChunks() {}

    /** {@return {@code threads}, checked to be {@code >= 1}} */
    static int checkThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        return threads;
    }

    /**
     * Runs {@code job} over all rows.
     *
     * @param rows       row count
     * @param rowBytes   bytes per row (for progress and chunking)
     * @param chunkBytes target bytes per chunk (rounded to whole rows, at least one)
     * @param threads    worker threads, {@code >= 1}
     * @param name       thread-name prefix, e.g. "engram-load"
     * @param progress   the listener, called on this thread
     * @param job        the work
     */
    static void run(long rows, long rowBytes, long chunkBytes, int threads, String name, ProgressListener progress,
                    RowRange job) {
        Objects.requireNonNull(progress, "progress");
        checkThreads(threads);
        long chunkRows = Math.max(1, chunkBytes / rowBytes);
        long chunks = (rows + chunkRows - 1) / chunkRows;
        long totalBytes = rows * rowBytes;
        int workers = (int) Math.min(threads, Math.max(1, chunks));

        AtomicLong nextChunk = new AtomicLong();
        AtomicLong bytesDone = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch finished = new CountDownLatch(workers);
        Runnable worker = () -> {
            try {
                for (long c; !stop.get() && (c = nextChunk.getAndIncrement()) < chunks; ) {
                    long from = c * chunkRows, to = Math.min(rows, from + chunkRows);
                    job.run(from, to);
                    bytesDone.addAndGet((to - from) * rowBytes);
                }
            } catch (Throwable t) {
                if (!failure.compareAndSet(null, t)) failure.get().addSuppressed(t);
                stop.set(true);
            } finally {
                finished.countDown();
            }
        };
        Thread[] started = new Thread[workers];
        try {
            progress.progress(0, totalBytes);
            for (int i = 0; i < workers; i++) {
                started[i] = Thread.ofPlatform().daemon().name(name + "-" + i).start(worker);
            }
            long reported = 0;
            while (!finished.await(REPORT_INTERVAL_MILLIS, TimeUnit.MILLISECONDS)) {
                long done = bytesDone.get();
                if (done > reported && done < totalBytes) {
                    progress.progress(done, totalBytes);
                    reported = done;
                }
            }
        } catch (InterruptedException e) {
            stop.set(true);
            joinAll(started);
            Thread.currentThread().interrupt();
            throw new CancellationException(name + ": interrupted; the table is partly written");
        } catch (RuntimeException | Error e) {
            stop.set(true); // the listener threw, or a thread could not start
            joinAll(started);
            throw e;
        }
        joinAll(started);
        Throwable t = failure.get();
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error err) throw err;
        if (t != null) throw new IllegalStateException(name + ": " + t.getMessage(), t);
        progress.progress(totalBytes, totalBytes);
    }

    /** Waits for every started worker, keeping the interrupt status for the caller. */
    private static void joinAll(Thread[] threads) {
        boolean interrupted = false;
        for (Thread t : threads) {
            while (t != null) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
