package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Structural properties of the reference forward on fresh random inputs and weights (fixed seeds). */
class ReferencePropertiesTest {
    private static final long VOCAB = 5000;
    private static final EngramConfig CONFIG = EngramConfig.small().withCompressedVocabSize(VOCAB);
    private static final NgramHashMapping MAPPING = NgramHashMapping.forCompressedIds(CONFIG);
    private static final int LAYER = 15;
    private static final int GH = CONFIG.hcMult() * CONFIG.hiddenSize();

    private static ReferenceEngramLayer layer(long seed) {
        return new ReferenceEngramLayer(MAPPING, LAYER, RandomWeights.create(CONFIG, MAPPING.layer(LAYER), seed, 0.3));
    }

    private static long[] ids(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        return r.longs(n, 0, VOCAB).toArray();
    }

    private static double[] hidden(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        return r.doubles((long) n * GH, -2, 2).toArray();
    }

    @ParameterizedTest(name = "prefix length {0}")
    @ValueSource(ints = {1, 2, 5, 9, 10, 11, 31})
    void outputIsCausal(int prefix) {
        // Receptive field of the defaults: hash looks 2 back, conv taps t-3, t-6, t-9. A prefix's output
        // must equal the full sequence's output on that prefix, also when T is shorter than the field.
        ReferenceEngramLayer engram = layer(1);
        int t = 31;
        long[] ids = ids(2, t);
        double[] h = hidden(3, t);
        double[] full = engram.forward(ids, h, 1, t);
        double[] part = engram.forward(Arrays.copyOf(ids, prefix), Arrays.copyOf(h, prefix * GH), 1, prefix);
        assertArrayEquals(Arrays.copyOf(full, prefix * GH), part, 0.0);
    }

    @Test
    void batchRowsAreIndependent() {
        ReferenceEngramLayer engram = layer(4);
        int b = 3, t = 17;
        long[] ids = ids(5, b * t);
        double[] h = hidden(6, b * t);
        double[] all = engram.forward(ids, h, b, t);
        for (int row = 0; row < b; row++) {
            double[] alone = engram.forward(Arrays.copyOfRange(ids, row * t, (row + 1) * t),
                    Arrays.copyOfRange(h, row * t * GH, (row + 1) * t * GH), 1, t);
            assertArrayEquals(alone, Arrays.copyOfRange(all, row * t * GH, (row + 1) * t * GH), 0.0, "row " + row);
        }
    }

    @Test
    void zeroQueryGivesGateOneHalf() {
        ReferenceEngramLayer engram = layer(7);
        double[] h = hidden(8, 4);
        Arrays.fill(h, GH + CONFIG.hiddenSize(), GH + 2 * CONFIG.hiddenSize(), 0.0);  // token 1, branch 1
        ForwardTrace trace = engram.trace(ids(9, 4), h, 1, 4);
        assertEquals(0.0, trace.gateDot()[CONFIG.hcMult() + 1]);
        assertEquals(0.5, trace.gate()[CONFIG.hcMult() + 1]);
    }

    @Test
    void gateClampsTinyDots() {
        ReferenceEngramLayer engram = layer(10);
        ForwardTrace trace = engram.trace(ids(11, 8), hidden(12, 8), 1, 8);
        for (int i = 0; i < trace.gate().length; i++) {
            double s = trace.gateSignedSqrt()[i];
            assertTrue(Math.abs(s) >= Math.sqrt(ReferenceEngramLayer.GATE_CLAMP) || s == 0, "signed sqrt " + s);
            assertEquals(1 / (1 + Math.exp(-s)), trace.gate()[i], 1e-15);
        }
    }

    @Test
    void convTapsLineUpWithDilation() {
        // Only the oldest tap (k = 0) is non-zero: it reads t - (K-1)*dil = t - 9, so the first 9
        // outputs see zero padding and the short conv contributes SiLU(0) = 0 there.
        EngramConfig c = new EngramConfig(List.of(101L, 103L), 3, 8, 2, List.of(0), 2, 0, 4, 8, 1,
                OptionalLong.of(50), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
        NgramHashMapping m = NgramHashMapping.forCompressedIds(c);
        EngramWeights w = RandomWeights.create(c, m.layer(0), 13, 0.2);
        float[] conv = w.convWeight();
        for (int ch = 0; ch < 8; ch++) {
            for (int k = 1; k < 4; k++) conv[ch * 4 + k] = 0f;
        }
        ForwardTrace trace = new ReferenceEngramLayer(m, 0, w).trace(new SplittableRandom(14).longs(12, 0, 50).toArray(),
                new SplittableRandom(15).doubles(12 * 8, -1, 1).toArray(), 1, 12);
        for (int t = 0; t < 12; t++) {
            for (int ch = 0; ch < 8; ch++) {
                double expected = t < 9 ? 0.0 : conv[ch * 4] * trace.convInNormed()[(t - 9) * 8 + ch];
                assertEquals(expected, trace.convOutFull()[ch * (12 + 9) + t], 1e-15, "t=" + t + " ch=" + ch);
            }
        }
    }

    @Test
    void outputsAreFiniteForLargeInputs() {
        double[] h = hidden(16, 20);
        for (int i = 0; i < h.length; i++) h[i] *= 1e6;
        double[] y = layer(17).forward(ids(18, 20), h, 1, 20);
        for (double v : y) assertTrue(Double.isFinite(v));
    }
}
