package dev.engram.table;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * {@link HostMemory#plain()}: one shared arena per allocation, closed on release.
 *
 * <p>Huge pages: 2 MiB alignment lets transparent huge pages back whole ranges where the OS uses them
 * unasked ({@code /sys/kernel/mm/transparent_hugepage/enabled = always}). With the {@code madvise} policy a
 * range must be advised ({@code MADV_HUGEPAGE}) before its first touch, and the arena zero-fills (touches)
 * every page inside {@code allocate}; so huge pages on such machines take an allocator that maps the memory
 * itself (see {@link MappedHostMemory}), which is also what a {@code cudaHostRegister} allocator builds on.
 */
final class ArenaHostMemory implements HostMemory {
    static final ArenaHostMemory INSTANCE = new ArenaHostMemory();

    private ArenaHostMemory() {}

    @Override
    public HostAllocation allocate(long byteSize) {
        if (byteSize <= 0) {
            throw new IllegalArgumentException("host allocation size must be > 0 bytes, got " + byteSize);
        }
        long alignment = byteSize >= HUGE_PAGE_BYTES ? HUGE_PAGE_BYTES : PAGE_BYTES;
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = arena.allocate(byteSize, alignment);
            return new HostAllocation(segment, arena::close);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    @Override
    public String toString() {
        return "HostMemory.plain()";
    }
}
