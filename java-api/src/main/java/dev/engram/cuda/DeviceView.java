package dev.engram.cuda;

import dev.engram.bindings.cudaPointerAttributes;
import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A non-owning view of memory another stack allocated ({@link DeviceArray#wrap}). {@link #close()} marks the view
 * closed (later use is an {@link IllegalStateException}) and never frees the memory: its owner does, after the
 * last use of the view. Slices of a view share its lifetime.
 */
public final class DeviceView extends DeviceArray implements AutoCloseable {
    /** What kind of memory a view is over, from {@code cudaPointerGetAttributes}. */
    public enum MemoryKind {
        /** {@code cudaMemoryTypeDevice}: memory of one device. */
        DEVICE,
        /** {@code cudaMemoryTypeManaged}: managed (unified) memory. */
        MANAGED,
        /** {@code cudaMemoryTypeHost} with a device alias: pinned host memory mapped for the GPU (zero-copy). */
        MAPPED_HOST
    }

    private final MemoryKind kind;
    private final AtomicBoolean closed = new AtomicBoolean();

    private DeviceView(long address, long elementCount, DType dtype, int device, MemoryKind kind) {
        super(address, elementCount, dtype, device);
        this.kind = kind;
    }

    static DeviceView create(MemorySegment address, long elements, DType dtype) {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(dtype, "dtype");
        long bytes = dtype.bytesFor(elements); // negative or overflowing sizes are IllegalArgumentException here
        if (address.address() == 0) {
            throw new IllegalArgumentException("DeviceArray.wrap: NULL address");
        }
        if (address.address() % dtype.byteSize() != 0) {
            throw new IllegalArgumentException("DeviceArray.wrap: address 0x" + Long.toHexString(address.address())
                    + " is not aligned to " + dtype + "'s " + dtype.byteSize() + " bytes");
        }
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attributes = cudaPointerAttributes.allocate(arena);
            Found first = query(attributes, address.address(), "its first byte");
            if (first == null) {
                throw new IllegalArgumentException("DeviceArray.wrap: 0x" + Long.toHexString(address.address())
                        + " is not device memory: unregistered host memory, freed memory or no allocation at all");
            }
            if (bytes > 1) {
                Found last = query(attributes, address.address() + bytes - 1, "its last byte");
                if (last == null || last.kind != first.kind || last.device != first.device
                        || last.deviceAddress - first.deviceAddress != bytes - 1) {
                    throw new IllegalArgumentException("DeviceArray.wrap: " + elements + " x " + dtype + " from 0x"
                            + Long.toHexString(address.address()) + " ends in other memory ("
                            + (last == null ? "none: no allocation" : last.describe()) + ") than it starts in ("
                            + first.describe() + "): more elements than the allocation holds");
                }
            }
            return new DeviceView(first.deviceAddress, elements, dtype, first.device, first.kind);
        }
    }

    /** What cudaPointerGetAttributes says of one byte. */
    private record Found(MemoryKind kind, int device, long deviceAddress) {
        String describe() {
            return kind + (device == ANY_DEVICE ? "" : " of device " + device);
        }
    }

    /** What CUDA knows of one byte, or null for memory it does not know (checked by type, not by the pointers). */
    private static Found query(MemorySegment attributes, long address, String which) {
        int code = cuda_runtime_h.cudaPointerGetAttributes(attributes, MemorySegment.ofAddress(address));
        if (code == cuda_runtime_h.cudaErrorInvalidValue()) {
            cuda_runtime_h.cudaGetLastError(); // reported here; do not leave it for the next launch
            throw new IllegalArgumentException("DeviceArray.wrap: 0x" + Long.toHexString(address) + " (" + which
                    + ") is not memory CUDA knows (cudaPointerGetAttributes: cudaErrorInvalidValue)");
        }
        Cuda.check("cudaPointerGetAttributes", code);
        int type = cudaPointerAttributes.type(attributes);
        long devicePointer = cudaPointerAttributes.devicePointer(attributes).address();
        if (type == cuda_runtime_h.cudaMemoryTypeDevice()) {
            return new Found(MemoryKind.DEVICE, cudaPointerAttributes.device(attributes), devicePointer);
        }
        if (type == cuda_runtime_h.cudaMemoryTypeManaged()) {
            return new Found(MemoryKind.MANAGED, cudaPointerAttributes.device(attributes), devicePointer);
        }
        if (type == cuda_runtime_h.cudaMemoryTypeHost()) {
            if (devicePointer == 0) {
                throw new IllegalArgumentException("DeviceArray.wrap: 0x" + Long.toHexString(address) + " (" + which
                        + ") is pinned host memory without a device mapping (register it with cudaHostRegisterMapped)");
            }
            return new Found(MemoryKind.MAPPED_HOST, ANY_DEVICE, devicePointer); // portable: every device reaches it
        }
        return null; // cudaMemoryTypeUnregistered: plain host memory, freed memory, or nothing
    }

    /** {@return the kind of memory viewed} */
    public MemoryKind kind() {
        return kind;
    }

    @Override
    DeviceArray owner() {
        return this;
    }

    @Override
    boolean released() {
        return closed.get();
    }

    /** {@return whether this view has been closed} */
    public boolean isClosed() {
        return closed.get();
    }

    /** Marks the view closed; the memory stays allocated (it belongs to whoever allocated it). Idempotent. */
    @Override
    public void close() {
        closed.set(true);
    }
}
