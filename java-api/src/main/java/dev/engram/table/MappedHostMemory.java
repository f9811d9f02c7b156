package dev.engram.table;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;

/**
 * Anonymous private mappings ({@code mmap}) on Linux, optionally advised for transparent huge pages
 * ({@code MADV_HUGEPAGE}) before anything touches them. Pages are zero and materialize on first touch, so a
 * parallel fill also spreads the page faults over its threads (the arena allocator zero-fills on one).
 * Huge pages matter for random row reads: with 4 KiB pages nearly every row of a multi-GiB table misses
 * the TLB. This is the mapping a {@code cudaHostRegister} allocator would register.
 */
final class MappedHostMemory implements HostMemory {
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    private static final int MAP_NORESERVE = 0x4000, MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1L;

    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        Linker linker = Linker.nativeLinker();
        MMAP = downcall(linker, "mmap", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        MUNMAP = downcall(linker, "munmap", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG));
        MADVISE = downcall(linker, "madvise", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }

    @SuppressWarnings("restricted") // downcalls into libc, with errno captured
    private static MethodHandle downcall(Linker linker, String name, FunctionDescriptor fd) {
        return linker.downcallHandle(linker.defaultLookup().find(name).orElseThrow(), fd,
                Linker.Option.captureCallState("errno"));
    }

    private final boolean hugePages;

    MappedHostMemory(boolean hugePages) {
        this.hugePages = hugePages;
    }

    /** Linux only: the constants above are Linux's (x86-64 and aarch64 share them). */
    static void requireLinux() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux")) {
            throw new UnsupportedOperationException("anonymous-mapping host memory is Linux-only, this is " + os
                    + "; use HostMemory.plain()");
        }
    }

    @Override
    @SuppressWarnings("restricted") // reinterpret: giving the mapping its size and the arena's lifetime
    public HostAllocation allocate(long byteSize) {
        if (byteSize <= 0) {
            throw new IllegalArgumentException("host allocation size must be > 0 bytes, got " + byteSize);
        }
        long length = roundUp(byteSize, hugePages ? HUGE_PAGE_BYTES : PAGE_BYTES);
        long start = hugePages ? mapAligned(length) : map(length);
        if (hugePages) adviseHugePages(start, length);
        Arena arena = Arena.ofShared();
        MemorySegment segment = MemorySegment.ofAddress(start).reinterpret(byteSize, arena, null);
        return new HostAllocation(segment, () -> {
            arena.close();
            unmap(start, length);
        });
    }

    /** Maps {@code length + 2 MiB} and trims both ends so the mapping starts on a huge-page boundary. */
    private static long mapAligned(long length) {
        long padded = Math.addExact(length, HUGE_PAGE_BYTES);
        long raw = map(padded);
        long start = roundUp(raw, HUGE_PAGE_BYTES);
        if (start > raw) unmap(raw, start - raw);
        long tail = raw + padded - (start + length);
        if (tail > 0) unmap(start + length, tail);
        return start;
    }

    private static long map(long length) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(CAPTURE);
            MemorySegment p = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
            if (p.address() == MAP_FAILED) {
                throw new OutOfMemoryError("mmap of " + length + " bytes failed: errno " + (int) ERRNO.get(state, 0L));
            }
            return p.address();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mmap downcall failed", t);
        }
    }

    private static void unmap(long start, long length) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(CAPTURE);
            int rc = (int) MUNMAP.invokeExact(state, MemorySegment.ofAddress(start), length);
            if (rc != 0) {
                throw new IllegalStateException("munmap(0x" + Long.toHexString(start) + ", " + length
                        + ") failed: errno " + (int) ERRNO.get(state, 0L));
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("munmap downcall failed", t);
        }
    }

    /** Only a hint: a kernel without THP says EINVAL, and the memory is still good with small pages. */
    private static void adviseHugePages(long start, long length) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(CAPTURE);
            int ignored = (int) MADVISE.invokeExact(state, MemorySegment.ofAddress(start), length, MADV_HUGEPAGE);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("madvise downcall failed", t);
        }
    }

    private static long roundUp(long n, long to) {
        return Math.addExact(n, to - 1) & -to;
    }

    @Override
    public String toString() {
        return "HostMemory.anonymousMapping(hugePages=" + hugePages + ")";
    }
}
