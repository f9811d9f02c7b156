package dev.engram.table;

import dev.engram.cuda.BFloat16;

import java.util.Arrays;
import java.util.Objects;

/**
 * The 8-bit float formats of fp8 tables (SEMANTICS.md §9), one byte each, held in Java as a {@code byte}:
 * <ul>
 *   <li><b>E4M3</b> (OCP "e4m3fn"): sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0 is subnormal
 *       ({@code m/8 · 2^-6}); no infinities; {@code S.1111.111} is NaN; largest finite ±448; {@code 0x80} is -0.</li>
 *   <li><b>E5M2</b> (OCP): sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like (infinities and NaNs);
 *       decoded only.</li>
 *   <li><b>E8M0</b> (OCP "ue8m0"), a block scale: unsigned byte {@code b} stands for {@code 2^(b - 127)};
 *       {@code b = 255} is NaN.</li>
 * </ul>
 * A table value is {@code x = e4m3(q) · 2^(b − 127)}. That product is exact in double for every pair of bytes, and
 * exact in float32 unless it exceeds {@link Float#MAX_VALUE} (possible only for scale bytes {@code >= 247}, where
 * float32 gives ±Infinity): float32 subnormals reach {@code 2^-149}, below the smallest product {@code 2^-136}.
 * A bf16 value is the round-to-nearest-even of the float32 product; it differs from it only for products below
 * bf16's normal range (scale bytes near 0), since an E4M3 significand has 4 bits and bf16's 8.
 */
public final class Fp8 {
    /** The largest finite E4M3 value. */
    public static final double E4M3_MAX = 448.0;
    /** The E4M3 byte of +448; {@code 0xFE} is -448. */
    public static final byte E4M3_MAX_CODE = 0x7E;
    /** The E8M0 byte of a scale of 1. */
    public static final int SCALE_BIAS = 127;
    /** The E8M0 byte that is NaN. */
    public static final int SCALE_NAN = 255;

    /** E4M3 byte (as unsigned) to value. */
    private static final float[] E4M3 = new float[256];
    /** Values of the non-negative finite codes 0x00..0x7E, ascending: what the encoder searches. */
    private static final double[] E4M3_POSITIVE = new double[127];

    static {
        for (int code = 0; code < 256; code++) {
            int exponent = (code >>> 3) & 0xF, mantissa = code & 7;
            double magnitude;
            if (exponent == 0xF && mantissa == 7) magnitude = Double.NaN;
            else if (exponent == 0) magnitude = Math.scalb((double) mantissa, -9); // m/8 · 2^-6
            else magnitude = Math.scalb((double) (8 + mantissa), exponent - 7 - 3); // (1 + m/8) · 2^(e-7)
            E4M3[code] = (float) ((code & 0x80) != 0 ? -magnitude : magnitude);
        }
        for (int code = 0; code < 127; code++) E4M3_POSITIVE[code] = E4M3[code];
    }

    private Fp8() {}

    /**
     * {@return the value of an E4M3 byte, exactly}
     *
     * @param q the E4M3 byte; {@code 0x7F} and {@code 0xFF} give NaN, {@code 0x80} gives -0.0
     */
    public static float e4m3ToFloat(byte q) {
        return E4M3[q & 0xFF];
    }

    /**
     * {@return whether an E4M3 byte is NaN ({@code S.1111.111})}
     *
     * @param q the E4M3 byte
     */
    public static boolean isE4m3NaN(byte q) {
        return (q & 0x7F) == 0x7F;
    }

    /**
     * {@return the value of an E5M2 byte, exactly}
     *
     * @param q the E5M2 byte: exponent 0 is subnormal ({@code m/4 · 2^-14}), exponent 31 is ±Infinity (mantissa 0)
     *          or NaN
     */
    public static float e5m2ToFloat(byte q) {
        int exponent = (q >>> 2) & 0x1F, mantissa = q & 3;
        float magnitude;
        if (exponent == 0x1F) magnitude = mantissa == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        else if (exponent == 0) magnitude = Math.scalb((float) mantissa, -16); // m/4 · 2^-14
        else magnitude = Math.scalb((float) (4 + mantissa), exponent - 15 - 2); // (1 + m/4) · 2^(e-15)
        return (q & 0x80) != 0 ? -magnitude : magnitude;
    }

    /**
     * {@return the scale an E8M0 byte stands for, {@code 2^(b - 127)}, exactly}
     *
     * @param b the E8M0 byte, read unsigned; 255 gives NaN
     */
    public static double scale(byte b) {
        int u = b & 0xFF;
        return u == SCALE_NAN ? Double.NaN : Math.scalb(1.0, u - SCALE_BIAS);
    }

    /**
     * {@return the scale an E8M0 byte stands for, as a float32: exact for every byte but 255 (NaN); byte 0 gives
     * {@code 2^-127}, a float32 subnormal}
     *
     * @param b the E8M0 byte, read unsigned
     */
    public static float scaleFloat(byte b) {
        int u = b & 0xFF;
        return u == SCALE_NAN ? Float.NaN : Math.scalb(1.0f, u - SCALE_BIAS);
    }

    /**
     * {@return the table value {@code e4m3(q) · 2^(b − 127)}, exact in double}
     *
     * @param q the E4M3 value byte
     * @param b the E8M0 scale byte; 255 gives NaN
     */
    public static double dequantize(byte q, byte b) {
        return (double) e4m3ToFloat(q) * scale(b);
    }

    /**
     * {@return the table value in float32, the product of the two float32 factors as a GPU computes it}: equal to
     * {@link #dequantize} unless that exceeds {@link Float#MAX_VALUE} (then ±Infinity)
     *
     * @param q the E4M3 value byte
     * @param b the E8M0 scale byte; 255 gives NaN
     */
    public static float dequantizeFloat(byte q, byte b) {
        return e4m3ToFloat(q) * scaleFloat(b);
    }

    /**
     * {@return the table value in bf16 (raw bits): {@link #dequantizeFloat} rounded to nearest even}
     *
     * @param q the E4M3 value byte
     * @param b the E8M0 scale byte; 255 gives a NaN
     */
    public static short dequantizeBf16(byte q, byte b) {
        return BFloat16.fromFloat(dequantizeFloat(q, b));
    }

    /**
     * {@return the E4M3 byte nearest to {@code x}, ties to the even code (mantissa bit 0 clear)}, saturating: a
     * magnitude above 448 (±Infinity included) gives ±448. The sign is kept, so -0.0 and negative values that round
     * to zero give {@code 0x80}.
     *
     * @param x the value to encode
     * @throws IllegalArgumentException for NaN
     */
    public static byte encodeE4m3(double x) {
        if (Double.isNaN(x)) throw new IllegalArgumentException("NaN has no saturating E4M3 encoding");
        int sign = Double.doubleToRawLongBits(x) < 0 ? 0x80 : 0;
        double a = Math.abs(x);
        int code;
        if (a >= E4M3_MAX) {
            code = E4M3_MAX_CODE;
        } else {
            int i = Arrays.binarySearch(E4M3_POSITIVE, a);
            if (i >= 0) {
                code = i;
            } else {
                int above = -i - 1, below = above - 1; // E4M3_POSITIVE[below] < a < E4M3_POSITIVE[above]
                double mid = (E4M3_POSITIVE[below] + E4M3_POSITIVE[above]) / 2; // exact: few significant bits
                if (a < mid) code = below;
                else if (a > mid) code = above;
                else code = (below & 1) == 0 ? below : above;
            }
        }
        return (byte) (sign | code);
    }

    /**
     * {@return the E8M0 byte of the smallest power of two {@code s} with {@code amax / s <= 448}} (SEMANTICS.md §9),
     * clamped below at byte 0 ({@code s = 2^-127}): so an all-zero block, and any block with
     * {@code amax <= 448 · 2^-127}, gets byte 0.
     *
     * @param amax the largest magnitude in the block, finite and {@code >= 0}
     * @throws IllegalArgumentException for a negative or non-finite {@code amax}, or one above {@code 448 · 2^127}
     *                                  (no E8M0 scale reaches it; no float32 is that large)
     */
    public static int scaleByteFor(double amax) {
        if (!(amax >= 0) || Double.isInfinite(amax)) {
            throw new IllegalArgumentException("block amax must be finite and >= 0, got " + amax);
        }
        if (amax == 0) return 0;
        // amax = f · 2^E with 1 <= f < 2 and 448 = 1.75 · 2^8: s = 2^(E-8) when f <= 1.75, else 2^(E-7).
        int e = Math.getExponent(amax) - 8;
        if (amax > Math.scalb(E4M3_MAX, e)) e++;
        if (e < -SCALE_BIAS) return 0;
        if (e > SCALE_NAN - 1 - SCALE_BIAS) {
            throw new IllegalArgumentException("block amax " + amax + " exceeds 448 * 2^127, the largest fp8 value");
        }
        return e + SCALE_BIAS;
    }

    /**
     * Quantizes one block: chooses its scale with {@link #scaleByteFor} and writes {@code length} E4M3 bytes, each
     * value divided by the scale (exactly) and rounded by {@link #encodeE4m3}.
     *
     * @param src       the values
     * @param srcOffset index in {@code src} of the block's first value
     * @param length    values in the block, {@code >= 1}
     * @param dst       receives the E4M3 bytes
     * @param dstOffset index in {@code dst} of the first byte
     * @return the block's E8M0 scale byte, {@code 0..254}
     * @throws IllegalArgumentException  for a NaN or infinite value (its index named), or {@code length < 1}
     * @throws IndexOutOfBoundsException when the block does not fit in {@code src} or {@code dst}
     */
    public static byte quantizeBlock(float[] src, int srcOffset, int length, byte[] dst, int dstOffset) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(dst, "dst");
        if (length < 1) throw new IllegalArgumentException("block length must be >= 1, got " + length);
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        double amax = 0;
        for (int i = srcOffset; i < srcOffset + length; i++) {
            float v = src[i];
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("value " + v + " at index " + i + " cannot be quantized to fp8");
            }
            amax = Math.max(amax, Math.abs(v));
        }
        int b = scaleByteFor(amax);
        double s = Math.scalb(1.0, b - SCALE_BIAS);
        for (int i = 0; i < length; i++) dst[dstOffset + i] = encodeE4m3(src[srcOffset + i] / s);
        return (byte) b;
    }
}
