package dev.engram.checkpoint;

import dev.engram.bindings.cuda_runtime_h;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaException;
import dev.engram.io.SafetensorsException;
import dev.engram.io.TensorInfo;
import dev.engram.table.HostAllocation;
import dev.engram.table.HostMemory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * The "allocator" of {@link CheckpointHostTable.Placement#REGISTER}: maps one tensor's byte range of its file
 * read-only, with an arena of its own, and pins the page-aligned range enclosing it with
 * {@code cudaHostRegister(Portable | Mapped | ReadOnly)}, so the GPU reads the file's page-cache pages in place. The
 * allocation owns both: closing it unregisters, then unmaps (the segment becomes inaccessible with the unmap). It
 * hands out exactly the tensor's bytes, once per call; a request of another size is refused.
 *
 * <p>The new mapping opens the file by its path again, so a file replaced since the checkpoint was opened would be
 * read instead of the checked one: the first and last bytes of the tensor (up to a page each) are compared with the
 * checkpoint's own mapping, which still shows the old file, and a difference is refused.
 */
final class RegisteredTensorMapping implements HostMemory {
    private static final long SAMPLE_BYTES = 4096;

    private final TensorInfo tensor;
    private final MemorySegment checked; // the tensor in the checkpoint's mapping

    RegisteredTensorMapping(TensorInfo tensor, MemorySegment checked) {
        this.tensor = Objects.requireNonNull(tensor, "tensor");
        this.checked = Objects.requireNonNull(checked, "checked");
    }

    @Override
    public HostAllocation allocate(long byteSize) {
        if (byteSize != tensor.byteSize()) {
            throw new IllegalArgumentException("a registered mapping of " + tensor.name() + " holds exactly its "
                    + tensor.byteSize() + " bytes, not " + byteSize);
        }
        Cuda.ensureLoaded();
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapped = map(arena);
            requireSameBytes(mapped);
            long start = mapped.address() & -PAGE_BYTES;
            long end = Math.addExact(mapped.address() + byteSize, PAGE_BYTES - 1) & -PAGE_BYTES;
            // The mapping covers whole pages from the page holding fileOffset (the JDK maps from there), so the
            // enclosing range is mapped: nothing outside it is pinned.
            MemorySegment raw = MemorySegment.ofAddress(start);
            int flags = cuda_runtime_h.cudaHostRegisterPortable() | cuda_runtime_h.cudaHostRegisterMapped()
                    | cuda_runtime_h.cudaHostRegisterReadOnly();
            int status = cuda_runtime_h.cudaHostRegister(raw, end - start, flags);
            if (status != cuda_runtime_h.cudaSuccess()) {
                cuda_runtime_h.cudaGetLastError(); // reported here: do not let the next launch report it
                throw new CudaException("cudaHostRegister", status, Cuda.errorName(status), Cuda.errorString(status),
                        "pinning " + (end - start) + " bytes of " + tensor.file() + " read-only for " + tensor.name()
                                + "; CheckpointHostTable.Placement.COPY copies the table into pinned memory instead");
            }
            return new HostAllocation(mapped, () -> {
                try {
                    Cuda.check("cudaHostUnregister", cuda_runtime_h.cudaHostUnregister(raw));
                } finally {
                    arena.close(); // invalidates the segment, then unmaps
                }
            });
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private MemorySegment map(Arena arena) {
        try (FileChannel ch = FileChannel.open(tensor.file(), StandardOpenOption.READ)) {
            long end = tensor.fileOffset() + tensor.byteSize();
            if (ch.size() < end) {
                throw new SafetensorsException(tensor.file(), tensor.name(), "the file holds " + ch.size()
                        + " bytes now, the tensor ends at " + end + " (was the file truncated or replaced?)");
            }
            return ch.map(FileChannel.MapMode.READ_ONLY, tensor.fileOffset(), tensor.byteSize(), arena);
        } catch (IOException e) {
            throw new SafetensorsException(tensor.file(), tensor.name(), "cannot map it for registration: " + e, e);
        }
    }

    private void requireSameBytes(MemorySegment mapped) {
        long n = Math.min(SAMPLE_BYTES, mapped.byteSize());
        long last = mapped.byteSize() - n;
        if (MemorySegment.mismatch(mapped, 0, n, checked, 0, n) != -1
                || MemorySegment.mismatch(mapped, last, last + n, checked, last, last + n) != -1) {
            throw new SafetensorsException(tensor.file(), tensor.name(), "the file's bytes differ from the open"
                    + " checkpoint's: was it replaced since the checkpoint was opened? Open it again");
        }
    }

    @Override
    public String toString() {
        return "registered read-only mapping of " + tensor;
    }
}
