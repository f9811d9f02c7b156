package dev.engram.table;

import dev.engram.bindings.cuda_runtime_h;
import dev.engram.cuda.Cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Page-locked host memory for {@link HostTable}s and staging buffers: what an asynchronous host-to-device
 * copy needs to run at PCIe rate, and what a zero-copy kernel can read (with unified addressing, the
 * default on 64-bit Linux, the host address is also the device address).
 *
 * <ul>
 *   <li>{@link #allocated()}: {@code cudaMallocHost}; simple, but pinning a large block page by page can
 *       take long, and the pages are small.</li>
 *   <li>{@link #registered(HostMemory)}: allocates from another {@link HostMemory} (e.g.
 *       {@link HostMemory#anonymousMapping(boolean) anonymousMapping(true)} for huge pages), then pins it
 *       with {@code cudaHostRegister(Portable | Mapped)}; release unregisters, then frees.</li>
 * </ul>
 * Both need the CUDA runtime and a device; failures are {@link dev.engram.cuda.CudaException}s.
 */
public final class PinnedHostMemory {
    private PinnedHostMemory() {}

    /** {@return an allocator of {@code cudaMallocHost} memory (uninitialized contents)} */
    public static HostMemory allocated() {
        return PinnedHostMemory::mallocHost;
    }

    /**
     * {@return an allocator that pins memory from {@code base} with {@code cudaHostRegister}}
     * @param base where the memory comes from (its contents are kept)
     */
    public static HostMemory registered(HostMemory base) {
        Objects.requireNonNull(base, "base");
        return byteSize -> register(base.allocate(byteSize));
    }

    @SuppressWarnings("restricted") // reinterpret: the cudaMallocHost pointer gets its size and lifetime
    private static HostAllocation mallocHost(long byteSize) {
        if (byteSize <= 0) throw new IllegalArgumentException("pinned allocation must be > 0 bytes, got " + byteSize);
        Cuda.ensureLoaded();
        MemorySegment raw;
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            Cuda.check("cudaMallocHost", cuda_runtime_h.cudaMallocHost(out, byteSize));
            raw = out.get(ValueLayout.ADDRESS, 0);
        }
        Arena arena = Arena.ofShared();
        MemorySegment segment = raw.reinterpret(byteSize, arena, null);
        return new HostAllocation(segment, () -> {
            arena.close(); // stale segments throw from here on
            Cuda.check("cudaFreeHost", cuda_runtime_h.cudaFreeHost(raw));
        });
    }

    private static HostAllocation register(HostAllocation base) {
        MemorySegment segment = base.segment();
        MemorySegment raw = MemorySegment.ofAddress(segment.address());
        try {
            Cuda.ensureLoaded();
            int flags = cuda_runtime_h.cudaHostRegisterPortable() | cuda_runtime_h.cudaHostRegisterMapped();
            Cuda.check("cudaHostRegister", cuda_runtime_h.cudaHostRegister(raw, segment.byteSize(), flags));
        } catch (RuntimeException e) {
            base.close();
            throw e;
        }
        return new HostAllocation(segment, () -> {
            try {
                Cuda.check("cudaHostUnregister", cuda_runtime_h.cudaHostUnregister(raw));
            } finally {
                base.close(); // invalidates the segment, then unmaps
            }
        });
    }
}
