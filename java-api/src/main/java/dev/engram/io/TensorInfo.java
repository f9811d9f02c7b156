package dev.engram.io;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * Where one tensor of a safetensors file lies and what it holds: row-major (C order) elements of {@code dtype},
 * little-endian, {@code byteSize} bytes from {@code fileOffset}. A header's {@code data_offsets} are relative to
 * the data section, which starts after the 8-byte header length and the header; {@code fileOffset} is absolute,
 * so that a reader that does not map the file can seek straight to it.
 *
 * @param file       the file that holds the tensor (a shard, for a sharded checkpoint)
 * @param name       the tensor's full name
 * @param dtype      its element type
 * @param shape      its dimensions, outermost first; empty for a 0-d tensor (one element)
 * @param fileOffset the position of its first byte in {@code file}
 * @param byteSize   its size: the product of {@code shape} times {@code dtype.byteSize()}
 */
public record TensorInfo(Path file, String name, SafetensorsDType dtype, long[] shape, long fileOffset, long byteSize) {
    /**
     * Checks the fields and copies {@code shape}.
     *
     * @throws IllegalArgumentException when a dimension or the offset is negative, the element count or byte size
     *                                  overflows a {@code long}, or {@code byteSize} disagrees with the shape
     * @throws NullPointerException     when a reference is {@code null}
     */
    public TensorInfo {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        if (fileOffset < 0) throw new IllegalArgumentException(name + ": negative file offset " + fileOffset);
        long expected = byteSizeOf(dtype, shape);
        if (expected != byteSize) {
            throw new IllegalArgumentException(name + ": " + byteSize + " bytes, but " + dtype + " "
                    + Arrays.toString(shape) + " takes " + expected);
        }
    }

    /**
     * {@return the bytes a tensor of this dtype and shape takes}
     *
     * @param dtype the element type
     * @param shape the dimensions
     * @throws IllegalArgumentException when a dimension is negative or the size overflows a {@code long}
     */
    public static long byteSizeOf(SafetensorsDType dtype, long[] shape) {
        try {
            return Math.multiplyExact(elementCountOf(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype
                    + " takes more than 2^63 bytes");
        }
    }

    /**
     * {@return the number of elements of a tensor of this shape: 1 for a 0-d tensor}
     *
     * @param shape the dimensions
     * @throws IllegalArgumentException when a dimension is negative or the count overflows a {@code long}
     */
    public static long elementCountOf(long[] shape) {
        long count = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension " + d + " in shape " + Arrays.toString(shape));
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more than 2^63 elements");
            }
        }
        return count;
    }

    /**
     * {@return a copy of the dimensions, outermost first}
     */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * {@return the number of dimensions}
     */
    public int rank() {
        return shape.length;
    }

    /**
     * {@return whether {@link #fileOffset()} is a multiple of the element size, so that a mapping (which starts on
     * a page boundary) gives the tensor a naturally aligned address}
     */
    public boolean isNaturallyAligned() {
        return fileOffset % dtype.byteSize() == 0;
    }

    /**
     * {@return the number of elements: 1 for a 0-d tensor, 0 when a dimension is 0}
     */
    public long elementCount() {
        return elementCountOf(shape);
    }

    /**
     * {@return whether the other object is a {@code TensorInfo} with equal fields, shapes compared by content}
     *
     * @param o the object to compare with
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && file.equals(t.file) && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && fileOffset == t.fileOffset && byteSize == t.byteSize;
    }

    /**
     * {@return a hash of all fields, the shape by content}
     */
    @Override
    public int hashCode() {
        return Objects.hash(file, name, dtype, Arrays.hashCode(shape), fileOffset, byteSize);
    }

    /**
     * {@return the name, dtype, shape, size and place, e.g. {@code value_proj.weight F32 [64, 32] 8192 bytes at 128 in model.safetensors}}
     */
    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape) + " " + byteSize + " bytes at " + fileOffset
                + " in " + file;
    }
}
