package dev.engram.table;

import dev.engram.cuda.BFloat16;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fp8 decoders against independent decodes built from the bit fields (SEMANTICS.md §9), and the exactness of
 * {@code e4m3(q) · 2^(b − 127)} in double, float32 and bf16 for every pair of bytes.
 */
class Fp8CodecTest {

    /** E4M3 from its fields: normals by placing exponent and mantissa into binary32 bits, subnormals m/512. */
    static float e4m3Independent(int code) {
        int sign = code >>> 7, exponent = (code >>> 3) & 0xF, mantissa = code & 7;
        if (exponent == 0xF && mantissa == 7) return Float.NaN;
        float magnitude = exponent == 0 ? mantissa / 512f // exact: m/8 · 2^-6
                : Float.intBitsToFloat((exponent - 7 + 127) << 23 | mantissa << 20);
        return sign == 1 ? -magnitude : magnitude;
    }

    @Test
    void everyE4m3CodeMatchesItsBitFields() {
        Set<Float> finite = new HashSet<>();
        for (int code = 0; code < 256; code++) {
            float got = Fp8.e4m3ToFloat((byte) code), expected = e4m3Independent(code);
            String what = "code 0x" + Integer.toHexString(code);
            if (code == 0x7F || code == 0xFF) {
                assertTrue(Float.isNaN(got), what);
                assertTrue(Fp8.isE4m3NaN((byte) code), what);
                continue;
            }
            assertFalse(Fp8.isE4m3NaN((byte) code), what);
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(got), what);
            finite.add(Math.abs(got));
        }
        assertEquals(127, finite.size()); // 0 plus 126 positive magnitudes: no code lost, no duplicate but ±0
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(Fp8.e4m3ToFloat((byte) 0x80)));
        assertEquals(448f, Fp8.e4m3ToFloat((byte) 0x7E));
        assertEquals(-448f, Fp8.e4m3ToFloat((byte) 0xFE));
        assertEquals(0x1p-9f, Fp8.e4m3ToFloat((byte) 0x01)); // smallest subnormal
        assertEquals(7 * 0x1p-9f, Fp8.e4m3ToFloat((byte) 0x07)); // largest subnormal
        assertEquals(0x1p-6f, Fp8.e4m3ToFloat((byte) 0x08)); // smallest normal
        assertEquals(1f, Fp8.e4m3ToFloat((byte) 0x38));
        assertEquals(1.125f, Fp8.e4m3ToFloat((byte) 0x39));
        assertEquals(-240f, Fp8.e4m3ToFloat((byte) 0xF7)); // 1.0111.111 = -(1 + 7/8) · 2^7
        for (int code = 1; code < 127; code++) {
            assertTrue(Fp8.e4m3ToFloat((byte) code) > Fp8.e4m3ToFloat((byte) (code - 1)), "ascending at " + code);
        }
    }

    @Test
    void everyE5m2CodeMatchesBinary16() {
        // E5M2 is the upper byte of an IEEE binary16: same sign, exponent (bias 15) and top mantissa bits.
        for (int code = 0; code < 256; code++) {
            float expected = Float.float16ToFloat((short) (code << 8));
            float got = Fp8.e5m2ToFloat((byte) code);
            String what = "code 0x" + Integer.toHexString(code);
            if (Float.isNaN(expected)) assertTrue(Float.isNaN(got), what);
            else assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(got), what);
        }
        assertEquals(57344f, Fp8.e5m2ToFloat((byte) 0x7B));
        assertEquals(Float.NEGATIVE_INFINITY, Fp8.e5m2ToFloat((byte) 0xFC));
        assertEquals(0x1p-16f, Fp8.e5m2ToFloat((byte) 0x01));
    }

    @Test
    void namedScaleBytes() {
        assertScale(0, Float.intBitsToFloat(0x0040_0000)); // 2^-127: a float32 subnormal, still exact
        assertScale(1, Float.MIN_NORMAL); // 2^-126
        assertScale(126, 0.5f);
        assertScale(127, 1f);
        assertScale(128, 2f);
        assertScale(254, Float.intBitsToFloat(0x7F00_0000)); // 2^127
        assertTrue(Double.isNaN(Fp8.scale((byte) 255)));
        assertTrue(Float.isNaN(Fp8.scaleFloat((byte) 255)));
        for (int q = 0; q < 256; q++) {
            assertTrue(Double.isNaN(Fp8.dequantize((byte) q, (byte) 255)), "code " + q + " with scale 255");
            assertTrue(Float.isNaN(Fp8.dequantizeFloat((byte) q, (byte) 255)), "code " + q + " with scale 255");
        }
    }

    private static void assertScale(int b, float expected) {
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(Fp8.scaleFloat((byte) b)), "byte " + b);
        // The double from its bit fields: exponent field 1023 + (b - 127), mantissa 0.
        double d = Double.longBitsToDouble((long) (1023 + b - 127) << 52);
        assertEquals(Double.doubleToRawLongBits(d), Double.doubleToRawLongBits(Fp8.scale((byte) b)), "byte " + b);
        assertEquals(d, (double) expected);
    }

    @Test
    void productIsExactForEveryPair() {
        int overflowing = 0;
        for (int b = 0; b < 255; b++) {
            for (int q = 0; q < 256; q++) {
                String what = "code 0x" + Integer.toHexString(q) + ", scale " + b;
                double exact = Math.scalb((double) e4m3Independent(q), b - 127); // exact: doubles reach 2^-1074
                double got = Fp8.dequantize((byte) q, (byte) b);
                float gotFloat = Fp8.dequantizeFloat((byte) q, (byte) b);
                if (Double.isNaN(exact)) {
                    assertTrue(Double.isNaN(got) && Float.isNaN(gotFloat), what);
                    continue;
                }
                assertEquals(Double.doubleToRawLongBits(exact), Double.doubleToRawLongBits(got), what);
                if (Math.abs(exact) > Float.MAX_VALUE) {
                    overflowing++;
                    assertTrue(b >= 247, what); // only the largest scales leave float32's range
                    assertEquals(Math.copySign(Float.POSITIVE_INFINITY, (float) exact), gotFloat, what);
                } else {
                    assertEquals(Double.doubleToRawLongBits(exact), Double.doubleToRawLongBits(gotFloat), what);
                }
            }
        }
        assertTrue(overflowing > 0);
    }

    @Test
    void bf16IsTheNearestEvenOfTheProduct() {
        for (int b = 0; b < 255; b++) {
            for (int q = 0; q < 256; q++) {
                if (Fp8.isE4m3NaN((byte) q)) continue;
                double x = Fp8.dequantize((byte) q, (byte) b);
                int got = Fp8.dequantizeBf16((byte) q, (byte) b) & 0xFFFF;
                String what = "code 0x" + Integer.toHexString(q) + ", scale " + b;
                if (Math.abs(x) > Float.MAX_VALUE) {
                    assertEquals(Float.floatToRawIntBits(Math.copySign(Float.POSITIVE_INFINITY, (float) x)) >>> 16, got, what);
                    continue;
                }
                assertEquals(nearestEvenBf16(x), got, what);
                if (Math.abs(x) >= 0x1p-126 || x == 0) {
                    // 4 significant bits fit bf16's 8: no rounding in bf16's normal range.
                    assertEquals(Float.floatToRawIntBits((float) x), got << 16, what);
                }
            }
        }
        // Products below bf16's subnormal step 2^-133 round: 2^-136 to 0, 2^-134 (a tie) to 0 (even),
        // 3 · 2^-134 (a tie between 1 and 2 steps) to 2 steps.
        assertEquals(0x0000, Fp8.dequantizeBf16((byte) 0x01, (byte) 0) & 0xFFFF);
        assertEquals(0x0000, Fp8.dequantizeBf16((byte) 0x04, (byte) 0) & 0xFFFF);
        assertEquals(0x0002, Fp8.dequantizeBf16((byte) 0x0C, (byte) 0) & 0xFFFF);
        assertEquals(0x8002, Fp8.dequantizeBf16((byte) 0x8C, (byte) 0) & 0xFFFF);
        assertEquals(BFloat16.fromFloat(0x1p-120f), Fp8.dequantizeBf16((byte) 0x38, (byte) 7));
    }

    /** The bf16 bits nearest to a finite double within float range, ties to the even bit pattern, by comparison. */
    private static int nearestEvenBf16(double x) {
        int sign = x < 0 || Double.doubleToRawLongBits(x) < 0 ? 0x8000 : 0;
        double a = Math.abs(x);
        // bf16 bit patterns are ordered like their magnitudes: walk to the last one not above a.
        int lo = 0, hi = 0x7F80; // 0x7F80 is infinity
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (BFloat16.toFloat((short) mid) <= a) lo = mid;
            else hi = mid - 1;
        }
        double down = BFloat16.toFloat((short) lo);
        if (down == a) return sign | lo;
        double up = BFloat16.toFloat((short) (lo + 1));
        double dDown = a - down, dUp = up - a; // exact: all three are close multiples of a power of two
        int bits = dDown < dUp ? lo : dUp < dDown ? lo + 1 : ((lo & 1) == 0 ? lo : lo + 1);
        return sign | bits;
    }
}
