package dev.engram.io;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * The element types this library reads from safetensors files. Each constant's {@link #name()} is the string the
 * header's {@code "dtype"} holds. Other dtypes of the format (BOOL, I8, U16, F4, ...) are not supported: a header
 * that uses one is refused when the file is opened.
 *
 * <p>The fp8 types are raw bytes here: {@link #F8_E4M3} is OCP FP8 E4M3 ("e4m3fn": no infinities, largest finite
 * 448), {@link #F8_E5M2} OCP FP8 E5M2, {@link #F8_E8M0} an unsigned power-of-two exponent ("ue8m0", a block scale
 * {@code 2^(b - 127)}, 255 is NaN). Decoding them is the job of the code that uses the tensor.
 */
public enum SafetensorsDType {
    /** IEEE 754 binary64. */
    F64(8, 19),
    /** IEEE 754 binary32. */
    F32(4, 17),
    /** IEEE 754 binary16. */
    F16(2, 13),
    /** bfloat16: the upper half of a binary32. */
    BF16(2, 14),
    /** Two's complement 64-bit integer. */
    I64(8, 20),
    /** Two's complement 32-bit integer. */
    I32(4, 15),
    /** Unsigned 8-bit integer. */
    U8(1, 4),
    /** OCP FP8 E4M3 (e4m3fn). */
    F8_E4M3(1, 7),
    /** OCP FP8 E5M2. */
    F8_E5M2(1, 6),
    /** E8M0 (ue8m0): an unsigned exponent byte, the block scale of fp8 tables. */
    F8_E8M0(1, 8);

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final int byteSize;
    /** Position in the reference implementation's {@code Dtype} enum, whose order its writer sorts by. */
    private final int referenceOrder;

    SafetensorsDType(int byteSize, int referenceOrder) {
        this.byteSize = byteSize;
        this.referenceOrder = referenceOrder;
    }

    /**
     * {@return the bytes one element takes}
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The layout to read or write one element of a tensor's {@link java.lang.foreign.MemorySegment}: little-endian,
     * as the format specifies, and <em>unaligned</em>, because the format does not promise aligned offsets (see
     * {@link SafetensorsFile}). The 16-bit floats and the fp8 types come back as their raw bits ({@code short} or
     * {@code byte}).
     *
     * @return {@code JAVA_DOUBLE_UNALIGNED}, {@code JAVA_FLOAT_UNALIGNED}, {@code JAVA_SHORT_UNALIGNED},
     *         {@code JAVA_LONG_UNALIGNED} or {@code JAVA_INT_UNALIGNED} in little-endian order, or {@code JAVA_BYTE}
     */
    public ValueLayout elementLayout() {
        return switch (this) {
            case F64 -> ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(LE);
            case F32 -> ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
            case F16, BF16 -> ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
            case I64 -> ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
            case I32 -> ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
            case U8, F8_E4M3, F8_E5M2, F8_E8M0 -> ValueLayout.JAVA_BYTE;
        };
    }

    /**
     * {@return the dtype a header names, or empty when this library does not support it}
     *
     * @param headerName the header's {@code "dtype"} string, e.g. {@code "BF16"} (case-sensitive, as in the format)
     */
    public static Optional<SafetensorsDType> byHeaderName(String headerName) {
        for (SafetensorsDType t : values()) {
            if (t.name().equals(headerName)) return Optional.of(t);
        }
        return Optional.empty();
    }

    /** The reference writer's order: larger alignment first (ties in the reference's enum order). */
    int referenceOrder() {
        return referenceOrder;
    }
}
