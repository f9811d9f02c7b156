package dev.engram.table;

/**
 * Progress of a long table fill (loading, random init, copying). Called on the thread that started the
 * fill, never concurrently: first with {@code (0, total)}, then at most about every
 * 100 ms while bytes have been added, and last with
 * {@code (total, total)} once everything is written. Values never decrease. An exception thrown here
 * stops the fill and propagates.
 */
@FunctionalInterface
public interface ProgressListener {
    /** A listener that ignores every report. */
    ProgressListener NONE = (done, total) -> { };

    /**
     * Reports progress.
     *
     * @param bytesDone  bytes of the table written so far
     * @param totalBytes bytes the fill writes in all
     */
    void progress(long bytesDone, long totalBytes);
}
