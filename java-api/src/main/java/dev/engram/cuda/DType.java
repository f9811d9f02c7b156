package dev.engram.cuda;

/** Element types of device and host buffers, with their size in bytes. */
public enum DType {
    /** IEEE 754 binary32. */
    FLOAT32(4),
    /** bfloat16 (the upper 16 bits of a binary32); Java holds it as {@code short}. */
    BFLOAT16(2),
    /** Signed 32-bit integer. */
    INT32(4),
    /** Signed 64-bit integer (token ids, hash indices). */
    INT64(8),
    /**
     * OCP FP8 E4M3 ("e4m3fn") codes, one byte each: the values of an fp8 embedding table (SEMANTICS.md 9). A storage
     * type only: 1 sign, 4 exponent (bias 7) and 3 mantissa bits, no infinities, {@code S.1111.111} is NaN, largest
     * finite 448. Java holds a code as the raw bits in a {@code byte}.
     */
    FP8_E4M3(1),
    /**
     * E8M0 ("ue8m0") scales, one unsigned byte {@code b} each, meaning {@code 2^(b - 127)} ({@code 255} is NaN): the
     * block scales of an {@link #FP8_E4M3} table. Java holds a scale as the raw bits in a {@code byte}.
     */
    FP8_E8M0(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** {@return the size of one element in bytes} */
    public int byteSize() {
        return byteSize;
    }

    /**
     * {@return {@code elements * byteSize()}}
     * @param elements element count, {@code >= 0}
     * @throws IllegalArgumentException for a negative count or a byte size that overflows a {@code long}
     */
    public long bytesFor(long elements) {
        if (elements < 0) {
            throw new IllegalArgumentException("element count must be >= 0, got " + elements + " (" + this + ")");
        }
        try {
            return Math.multiplyExact(elements, (long) byteSize);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(elements + " elements of " + this + " overflow a byte size");
        }
    }
}
