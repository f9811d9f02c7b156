package dev.engram.table;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * E4M3 encoding (round to nearest, ties to even, saturating) and the per-block quantization of SEMANTICS.md §9:
 * constructed ties, saturation at 448 · s, a brute-force nearest search on random values, the scale's minimality,
 * and the round trip's error bounds.
 */
class Fp8QuantizeTest {

    @Test
    void everyFiniteCodeEncodesToItself() {
        for (int code = 0; code < 256; code++) {
            if (Fp8.isE4m3NaN((byte) code)) continue;
            assertEquals((byte) code, Fp8.encodeE4m3(Fp8.e4m3ToFloat((byte) code)), "code 0x" + Integer.toHexString(code));
        }
    }

    @Test
    void tiesGoToTheEvenCodeBetweenEveryNeighbouringPair() {
        for (int code = 0; code < 126; code++) {
            double below = Fp8.e4m3ToFloat((byte) code), above = Fp8.e4m3ToFloat((byte) (code + 1));
            double mid = (below + above) / 2;
            int even = (code & 1) == 0 ? code : code + 1;
            String what = "between codes " + code + " and " + (code + 1);
            assertEquals((byte) even, Fp8.encodeE4m3(mid), what);
            assertEquals((byte) (0x80 | even), Fp8.encodeE4m3(-mid), what);
            assertEquals((byte) code, Fp8.encodeE4m3(Math.nextDown(mid)), what);
            assertEquals((byte) (code + 1), Fp8.encodeE4m3(Math.nextUp(mid)), what);
        }
        assertEquals((byte) 0x38, Fp8.encodeE4m3(1 + 1.0 / 16)); // tie between 1 (m=0) and 1.125 (m=1): down
        assertEquals((byte) 0x3A, Fp8.encodeE4m3(1 + 3.0 / 16)); // tie between 1.125 (m=1) and 1.25 (m=2): up
        assertEquals((byte) 0x08, Fp8.encodeE4m3(15 * 0x1p-10)); // tie between the largest subnormal and 2^-6: up
        assertEquals((byte) 0x00, Fp8.encodeE4m3(0x1p-10)); // half the smallest subnormal: to zero
        assertEquals((byte) 0x80, Fp8.encodeE4m3(-0x1p-11)); // to -0
        assertEquals((byte) 0x80, Fp8.encodeE4m3(-0.0));
    }

    @Test
    void largeMagnitudesSaturate() {
        for (double x : new double[] {448, 450, 464, 480, 1e9, Double.MAX_VALUE, Double.POSITIVE_INFINITY}) {
            assertEquals(Fp8.E4M3_MAX_CODE, Fp8.encodeE4m3(x), "value " + x);
            assertEquals((byte) 0xFE, Fp8.encodeE4m3(-x), "value " + -x);
        }
        assertEquals((byte) 0x7D, Fp8.encodeE4m3(Math.nextDown(432.0))); // just below the tie 416|448 midpoint 432
        assertEquals((byte) 0x7E, Fp8.encodeE4m3(432.0)); // tie: 448 is 0x7E, even
        assertThrows(IllegalArgumentException.class, () -> Fp8.encodeE4m3(Double.NaN));
    }

    @Test
    void randomValuesGoToTheNearestCode() {
        SplittableRandom r = new SplittableRandom(13);
        for (int i = 0; i < 100_000; i++) {
            double x = Math.scalb(r.nextDouble(-2, 2), r.nextInt(-14, 11));
            assertEquals(nearestByScan(x), Fp8.encodeE4m3(x), "value " + x);
        }
    }

    /** Nearest finite code by scanning all 254, ties to the even code; beyond 448 saturate. */
    private static byte nearestByScan(double x) {
        int sign = x < 0 ? 0x80 : 0;
        double a = Math.abs(x);
        if (a > 448) return (byte) (sign | 0x7E);
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int code = 0; code < 127; code++) {
            double d = Math.abs(a - Fp8.e4m3ToFloat((byte) code));
            if (d < bestDistance || (d == bestDistance && (code & 1) == 0)) {
                best = code;
                bestDistance = d;
            }
        }
        return (byte) (sign | best);
    }

    @Test
    void scaleIsTheSmallestPowerOfTwoThatFits() {
        assertEquals(127, Fp8.scaleByteFor(448));
        assertEquals(128, Fp8.scaleByteFor(Math.nextUp(448.0)));
        assertEquals(119, Fp8.scaleByteFor(1)); // 1 / 2^-8 = 256 <= 448 < 512 = 1 / 2^-9
        assertEquals(127 + 20, Fp8.scaleByteFor(448 * 0x1p20));
        assertEquals(0, Fp8.scaleByteFor(0)); // all-zero block: the smallest scale
        assertEquals(0, Fp8.scaleByteFor(0x1p-140)); // below 448 · 2^-127: clamped to the smallest scale
        assertEquals(0, Fp8.scaleByteFor(448 * 0x1p-127));
        assertEquals(1, Fp8.scaleByteFor(Math.nextUp(448 * 0x1p-127)));
        assertEquals(254, Fp8.scaleByteFor(448 * 0x1p127));
        assertThrows(IllegalArgumentException.class, () -> Fp8.scaleByteFor(Math.nextUp(448 * 0x1p127)));
        assertThrows(IllegalArgumentException.class, () -> Fp8.scaleByteFor(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Fp8.scaleByteFor(Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> Fp8.scaleByteFor(-1));
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 20_000; i++) {
            float amax = Float.intBitsToFloat(r.nextInt(1, 0x7F80_0000)); // any positive finite float
            assertEquals(smallestFittingScale(amax), Fp8.scaleByteFor(amax), "amax " + amax);
        }
    }

    /** By trying every byte from the smallest up. */
    private static int smallestFittingScale(double amax) {
        for (int b = 0; b < 255; b++) {
            if (amax / Math.scalb(1.0, b - 127) <= 448) return b;
        }
        throw new AssertionError("no scale for " + amax);
    }

    @Test
    void constructedBlockRoundsTiesToEvenUnderAnyScale() {
        for (int shift : new int[] {0, -20, 30, -118}) {
            float[] block = {448, 1 + 1f / 16, 1 + 3f / 16, -(1 + 1f / 16), 0, -0f};
            for (int i = 0; i < block.length; i++) block[i] = Math.scalb(block[i], shift);
            byte[] q = new byte[block.length];
            byte b = Fp8.quantizeBlock(block, 0, block.length, q, 0);
            assertEquals(127 + shift, b & 0xFF, "shift " + shift);
            assertArrayEquals(new byte[] {0x7E, 0x38, 0x3A, (byte) 0xB8, 0x00, (byte) 0x80}, q, "shift " + shift);
        }
    }

    @Test
    void saturationAtTheBlockScale() {
        // With a given scale s, values beyond 448 · s come back as 448 · s.
        byte b = (byte) 120;
        double s = Fp8.scale(b);
        for (double x : new double[] {448 * s, 449 * s, 1e3 * s, 1e30 * s}) {
            assertEquals(448 * s, Fp8.dequantize(Fp8.encodeE4m3(x / s), b), "value " + x);
            assertEquals(-448 * s, Fp8.dequantize(Fp8.encodeE4m3(-x / s), b), "value " + -x);
        }
    }

    @Test
    void allZeroBlockGetsTheSmallestScale() {
        byte[] q = new byte[4];
        assertEquals(0, Fp8.quantizeBlock(new float[] {0, -0f, 0, 0}, 0, 4, q, 0));
        assertArrayEquals(new byte[] {0, (byte) 0x80, 0, 0}, q);
    }

    @Test
    void nonFiniteValuesAreRefused() {
        byte[] q = new byte[3];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Fp8.quantizeBlock(new float[] {1, 2, Float.NaN, 4}, 1, 3, q, 0));
        assertTrue(e.getMessage().contains("index 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Fp8.quantizeBlock(new float[] {Float.NEGATIVE_INFINITY}, 0, 1, new byte[1], 0));
        assertThrows(IllegalArgumentException.class, () -> Fp8.quantizeBlock(new float[2], 0, 0, q, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> Fp8.quantizeBlock(new float[2], 1, 2, q, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> Fp8.quantizeBlock(new float[8], 0, 4, q, 0));
    }

    @Test
    void roundTripErrorIsBounded() {
        SplittableRandom r = new SplittableRandom(21);
        int block = 32;
        float[] src = new float[block];
        byte[] q = new byte[block];
        for (int trial = 0; trial < 5_000; trial++) {
            int exponent = r.nextInt(-140, 120);
            for (int i = 0; i < block; i++) {
                // Magnitudes spread over several binades so some values land in E4M3's subnormal range.
                src[i] = (float) Math.scalb(r.nextDouble(-1, 1), exponent - r.nextInt(0, 12));
            }
            int b = Fp8.quantizeBlock(src, 0, block, q, 0) & 0xFF;
            double s = Fp8.scale((byte) b), amax = 0;
            for (float v : src) amax = Math.max(amax, Math.abs(v));
            assertTrue(amax / s <= 448, "amax fits");
            if (b > 0) assertTrue(amax / (s / 2) > 448, "a smaller scale would not fit");
            for (int i = 0; i < block; i++) {
                double x = src[i], y = Fp8.dequantize(q[i], (byte) b), err = Math.abs(y - x);
                String what = "trial " + trial + ", value " + x + ", scale byte " + b;
                if (Math.abs(x / s) >= 0x1p-6) assertTrue(err <= Math.abs(x) * 0x1p-4, what); // normal: half ulp
                else assertTrue(err <= 0x1p-10 * s, what); // subnormal: half the step 2^-9 · s
                assertEquals(Fp8.encodeE4m3(x / s), q[i], what);
            }
        }
    }
}
