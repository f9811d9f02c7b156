package dev.engram.table;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed crew of daemon threads that run one job at a time, split into {@code parts()} parts; the calling
 * thread runs part 0 itself. Nothing is allocated per job (no futures, no queue nodes): workers park until
 * the job generation changes, and the last one to finish unparks the caller. Callers serialize
 * {@link #run} (the owning {@link CpuRowGather} does).
 *
 * <p>Before parking, a worker that just finished (and the caller waiting for the last part) spins for up to
 * {@value #SPIN_NANOS} ns: a host-table prefetch runs its jobs back to back (validate, copy, one pair per
 * chunk), and waking a parked thread costs tens of microseconds, which would add up to a sizeable part of a
 * millisecond-long gather.
 */
final class GatherWorkers implements AutoCloseable {
    /** Work on part {@code part} of {@code [0, parts())}. */
    @FunctionalInterface
    interface Part {
        void run(int part);
    }

    /** How long a finished worker (or the waiting caller) spins before parking. */
    static final long SPIN_NANOS = 50_000;

    private final Thread[] threads;
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile Part job;
    private volatile long generation;
    private volatile Thread caller;
    private volatile boolean closed;

    GatherWorkers(int parts, String name) {
        threads = new Thread[parts - 1];
        for (int i = 0; i < threads.length; i++) {
            int part = i + 1;
            threads[i] = Thread.ofPlatform().daemon().name(name + "-" + part).unstarted(() -> loop(part));
        }
        for (Thread t : threads) t.start();
    }

    /** {@return the number of parts each job is split into (worker threads + the caller)} */
    int parts() {
        return threads.length + 1;
    }

    /** {@return whether the worker threads may access {@code segment} (not confined to another thread)} */
    boolean canAccess(MemorySegment segment) {
        return threads.length == 0 || segment.isAccessibleBy(threads[0]);
    }

    /** Runs {@code part} for every part, part 0 on this thread; rethrows the first failure. */
    void run(Part part) {
        if (closed) throw new IllegalStateException("gather workers are closed");
        failure.set(null);
        job = part;
        caller = Thread.currentThread();
        pending.set(threads.length);
        generation++; // the volatile write publishes job, caller and pending to the workers
        for (Thread t : threads) LockSupport.unpark(t);
        try {
            part.run(0);
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (pending.get() != 0 && System.nanoTime() < spinUntil) Thread.onSpinWait();
        // An interrupted caller spins here instead of parking; the parts are short, and all must finish.
        while (pending.get() != 0) LockSupport.park(this);
        job = null;
        Throwable t = failure.get();
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException(t);
    }

    private void loop(int part) {
        long seen = 0;
        while (true) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (generation == seen && !closed && System.nanoTime() < spinUntil) Thread.onSpinWait();
            while (generation == seen && !closed) LockSupport.park(this);
            if (generation == seen) return; // closed, and no job was published before that
            seen = generation;
            try {
                job.run(part);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
            if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
        }
    }

    /** Stops and joins the workers (a job in progress finishes first). */
    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) LockSupport.unpark(t);
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
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
