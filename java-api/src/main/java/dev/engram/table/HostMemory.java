package dev.engram.table;

/**
 * Where a {@link HostTable}'s memory comes from. The library provides {@link #plain()} (ordinary off-heap
 * memory from a shared {@link java.lang.foreign.Arena}); GPU code adds allocators that return pinned
 * memory ({@code cudaHostAlloc}) or register an existing mapping ({@code cudaHostRegister}), so the same
 * table can feed an asynchronous host-to-device copy or a zero-copy kernel.
 *
 * <p>Implementations must be thread-safe; see {@link HostAllocation} for what the release action owes.
 */
@FunctionalInterface
public interface HostMemory {
    /** Small-page size, the minimum alignment of every allocation from {@link #plain()}. */
    long PAGE_BYTES = 4096;
    /** x86-64 huge-page size; {@link #plain()} aligns allocations of at least this size to it. */
    long HUGE_PAGE_BYTES = 2L << 20;

    /**
     * Allocates {@code byteSize} bytes.
     *
     * @param byteSize bytes, {@code > 0}
     * @return the allocation; its segment holds at least {@code byteSize} bytes (contents depend on the allocator)
     * @throws IllegalArgumentException for {@code byteSize <= 0}
     * @throws OutOfMemoryError         when the memory cannot be had
     */
    HostAllocation allocate(long byteSize);

    /**
     * Ordinary off-heap memory from a shared arena, zero-filled, aligned to {@link #PAGE_BYTES}, or to
     * {@link #HUGE_PAGE_BYTES} for allocations of at least that size. Not pinned: a device copy from it is
     * staged by the driver.
     *
     * @return the allocator (stateless, shared)
     */
    static HostMemory plain() {
        return ArenaHostMemory.INSTANCE;
    }

    /**
     * Anonymous private mappings ({@code mmap}, Linux only), page-aligned, zero pages that materialize on
     * first touch (so a parallel fill spreads the page faults over its threads). With {@code hugePages} the
     * mapping is 2 MiB aligned and advised {@code MADV_HUGEPAGE} before first touch; that is a hint the kernel
     * may ignore (THP disabled), in which case small pages are used. Not pinned.
     *
     * @param hugePages whether to ask for transparent huge pages
     * @return the allocator (stateless, shared)
     * @throws UnsupportedOperationException on an OS other than Linux
     */
    static HostMemory anonymousMapping(boolean hugePages) {
        MappedHostMemory.requireLinux();
        return new MappedHostMemory(hugePages);
    }
}
