package dev.engram.cuda;

/**
 * A non-owning view of part of a {@link DeviceBuffer} or {@link DeviceView} (from
 * {@link DeviceArray#slice(long, long)}), on the same device. It is not closeable; it becomes unusable
 * ({@link IllegalStateException}) when the buffer or view it was cut from is closed.
 */
public final class DeviceSlice extends DeviceArray {
    private final DeviceArray owner;

    DeviceSlice(DeviceArray owner, long address, long elementCount, DType dtype, int device) {
        super(address, elementCount, dtype, device);
        this.owner = owner;
    }

    @Override
    DeviceArray owner() {
        return owner;
    }

    @Override
    boolean released() {
        return owner.released();
    }
}
