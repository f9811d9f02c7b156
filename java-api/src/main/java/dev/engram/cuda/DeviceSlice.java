package dev.engram.cuda;

/**
 * A non-owning view of part of a {@link DeviceBuffer} (from {@link DeviceArray#slice(long, long)}). It is
 * not closeable; it becomes unusable ({@link IllegalStateException}) when its owning buffer is closed.
 */
public final class DeviceSlice extends DeviceArray {
    private final DeviceBuffer owner;

    DeviceSlice(DeviceBuffer owner, long address, long elementCount, DType dtype) {
        super(address, elementCount, dtype);
        this.owner = owner;
    }

    @Override
    DeviceBuffer owner() {
        return owner;
    }
}
