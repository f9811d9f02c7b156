package dev.engram.internal;

import java.lang.foreign.MemorySegment;

/** Facts about memory segments that several packages ask (not exported from the module). */
public final class Segments {
    private Segments() {}

    /**
     * {@return whether threads other than the caller may access every one of {@code segments}}: false when one
     * belongs to a confined arena (only its owner may touch it), true for shared, global, auto and heap segments.
     * Work split across threads must stay on the calling thread otherwise.
     */
    public static boolean accessibleByOtherThreads(MemorySegment... segments) {
        Thread other = Thread.ofPlatform().unstarted(() -> { }); // never started: only its identity is compared
        for (MemorySegment s : segments) {
            if (!s.isAccessibleBy(other)) return false;
        }
        return true;
    }
}
