package dev.engram.checkpoint;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs a job over rows {@code [0, rows)} in fixed chunks of {@link #CHUNK_ROWS} rows on several threads, and returns
 * the chunks' results in row order. The chunking does not depend on the thread count, so a caller that merges the
 * results in order gets the same answer from one thread or sixteen; when chunks fail, the first one in row order is
 * rethrown (a bad row is reported as a serial run would report it).
 */
final class OrderedRowChunks {
    /** Rows per chunk: large enough to amortize a claim, small enough to balance. */
    static final long CHUNK_ROWS = 4096;

    /** The work on rows {@code [from, to)}, and its result. */
    @FunctionalInterface
    interface Job<R> {
        R run(long from, long to);
    }

    private OrderedRowChunks() {}

    /**
     * @param threads {@code >= 1}; 1 runs on the calling thread (for sources other threads may not read)
     * @return the results of chunks {@code 0, 1, ...} in order
     */
    static <R> List<R> run(long rows, int threads, String name, Job<R> job) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        long chunkCount = (rows + CHUNK_ROWS - 1) / CHUNK_ROWS;
        if (chunkCount > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(rows + " rows: too many chunks");
        int chunks = (int) chunkCount;
        Object[] results = new Object[chunks];
        RuntimeException[] failed = new RuntimeException[chunks];
        Error[] errors = new Error[chunks];
        AtomicLong next = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        Runnable worker = () -> {
            // Claims are increasing: once a chunk fails, every earlier chunk is already claimed and finishes.
            for (long c; !stop.get() && (c = next.getAndIncrement()) < chunks; ) {
                int i = (int) c;
                try {
                    results[i] = job.run(c * CHUNK_ROWS, Math.min(rows, (c + 1) * CHUNK_ROWS));
                } catch (RuntimeException e) {
                    failed[i] = e;
                    stop.set(true);
                } catch (Error e) {
                    errors[i] = e;
                    stop.set(true);
                }
            }
        };
        int workers = (int) Math.min(threads, Math.max(1, chunks));
        if (workers == 1) {
            worker.run();
        } else {
            List<Thread> started = new ArrayList<>(workers);
            for (int w = 0; w < workers; w++) started.add(Thread.ofPlatform().daemon().name(name + "-" + w).start(worker));
            joinAll(started, stop);
        }
        for (int i = 0; i < chunks; i++) {
            if (errors[i] != null) throw errors[i];
            if (failed[i] != null) throw failed[i];
        }
        @SuppressWarnings("unchecked") List<R> list = (List<R>) Arrays.asList(results);
        return list;
    }

    /** Waits for every worker; an interrupt stops further claims and is kept for the caller. */
    private static void joinAll(List<Thread> threads, AtomicBoolean stop) {
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                    stop.set(true);
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
            throw new java.util.concurrent.CancellationException("interrupted; the table is partly encoded");
        }
    }
}
