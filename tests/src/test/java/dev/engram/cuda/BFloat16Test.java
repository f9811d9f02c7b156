package dev.engram.cuda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Round-to-nearest-even bfloat16 against an independent BigDecimal-free definition: the nearer neighbour. */
class BFloat16Test {

    @Test
    void exactValuesRoundTrip() {
        for (float f : new float[] {0f, -0f, 1f, -2.5f, 0.15625f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            assertEquals(Float.floatToRawIntBits(f), Float.floatToRawIntBits(BFloat16.toFloat(BFloat16.fromFloat(f))),
                    "value " + f);
        }
    }

    @Test
    void tiesGoToEven() {
        // 1 + 2^-8 lies halfway between 1 (even mantissa) and 1 + 2^-7 (odd): rounds down.
        assertEquals(1f, BFloat16.toFloat(BFloat16.fromFloat(1f + 0x1p-8f)));
        // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
        assertEquals(1f + 0x1p-6f, BFloat16.toFloat(BFloat16.fromFloat(1f + 3 * 0x1p-8f)));
        // Largest finite float rounds to infinity, as in CUDA.
        assertEquals(Float.POSITIVE_INFINITY, BFloat16.toFloat(BFloat16.fromFloat(Float.MAX_VALUE)));
    }

    @Test
    void nanStaysNan() {
        assertTrue(Float.isNaN(BFloat16.toFloat(BFloat16.fromFloat(Float.NaN))));
        // A NaN whose payload sits only in the low 16 bits must not become infinity.
        assertTrue(Float.isNaN(BFloat16.toFloat(BFloat16.fromFloat(Float.intBitsToFloat(0x7F80_0001)))));
    }

    @Test
    void randomValuesRoundToTheNearerNeighbour() {
        Random r = new Random(7);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f) || Float.isInfinite(f)) continue;
            int bits = Float.floatToRawIntBits(f);
            int downBits = bits & 0xFFFF_0000, upBits = downBits + 0x1_0000; // upBits may be infinity's
            double down = Float.intBitsToFloat(downBits);
            double up = down + Math.copySign(Math.ulp(Float.intBitsToFloat(downBits)) * 65536.0, down); // exact in double
            short got = BFloat16.fromFloat(f);
            double dDown = Math.abs(f - down), dUp = Math.abs(up - f);
            int expected = dDown < dUp ? downBits : dUp < dDown ? upBits
                    : (((bits >>> 16) & 1) == 0 ? downBits : upBits);
            assertEquals(expected >>> 16, got & 0xFFFF, "input bits " + Integer.toHexString(bits));
        }
    }

    @Test
    void segmentStagingMatchesScalar() {
        float[] src = {1.1f, -3.3f, 7e-3f, 65504f, 1e30f};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(3 * 2L);
            BFloat16.fromFloats(src, 1, 3, dst);
            for (int i = 0; i < 3; i++) assertEquals(BFloat16.fromFloat(src[1 + i]), dst.getAtIndex(ValueLayout.JAVA_SHORT, i));
        }
    }
}
