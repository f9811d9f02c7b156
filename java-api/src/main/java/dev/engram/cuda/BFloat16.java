package dev.engram.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * bfloat16 conversions (the upper 16 bits of an IEEE binary32), as CUDA's {@code __float2bfloat16} and
 * torch's {@code .to(torch.bfloat16)} do them: round to nearest, ties to even; NaN stays a (quiet) NaN.
 * Java holds a bfloat16 as the raw bits in a {@code short}.
 */
public final class BFloat16 {
    private BFloat16() {}

    /**
     * {@return the bfloat16 nearest to {@code f} (ties to even), as raw bits}
     *
     * @param f the float to round; a NaN gives a quiet NaN of the same sign
     */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7F80_0000) == 0x7F80_0000 && (bits & 0x007F_FFFF) != 0) {
            return (short) ((bits >>> 16) | 0x0040); // NaN: keep sign and top payload, force quiet
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /**
     * {@return the float with exactly the value of the bfloat16 {@code bits}}
     *
     * @param bits a bfloat16 as raw bits
     */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * {@return {@code src} rounded element by element, as raw bfloat16 bits}
     *
     * @param src the floats to round
     */
    public static short[] fromFloats(float[] src) {
        short[] out = new short[src.length];
        for (int i = 0; i < src.length; i++) out[i] = fromFloat(src[i]);
        return out;
    }

    /**
     * {@return {@code src} widened element by element}
     *
     * @param src bfloat16 values as raw bits
     */
    public static float[] toFloats(short[] src) {
        float[] out = new float[src.length];
        for (int i = 0; i < src.length; i++) out[i] = toFloat(src[i]);
        return out;
    }

    /**
     * {@return {@code src} rounded to bfloat16 and widened back: the float values a bfloat16 copy holds}
     *
     * @param src the floats to round
     */
    public static float[] roundTrip(float[] src) {
        float[] out = new float[src.length];
        for (int i = 0; i < src.length; i++) out[i] = toFloat(fromFloat(src[i]));
        return out;
    }

    /**
     * Rounds {@code count} floats of {@code src} starting at {@code srcIndex} into {@code dst} (native byte order
     * bfloat16, starting at byte 0): the staging step for uploading float weights as bfloat16 without a
     * second full-size Java array.
     *
     * @param src      the floats to round
     * @param srcIndex index in {@code src} of the first float
     * @param count    number of floats to round
     * @param dst      receives {@code count} bfloat16 values, 2 bytes each; at least {@code 2 * count} bytes
     * @throws IndexOutOfBoundsException if {@code src} or {@code dst} is too short
     */
    public static void fromFloats(float[] src, int srcIndex, int count, MemorySegment dst) {
        for (int i = 0; i < count; i++) {
            dst.setAtIndex(ValueLayout.JAVA_SHORT, i, fromFloat(src[srcIndex + i]));
        }
    }
}
