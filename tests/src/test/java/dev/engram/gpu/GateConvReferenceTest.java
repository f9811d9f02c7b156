package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ForwardTrace;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.testing.Compare;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

/**
 * The GPU tests' double-precision gate and ShortConv ({@link GateConvReference}) against
 * {@link ReferenceEngramLayer}'s trace (no GPU needed). The trace's key and value projections include
 * their biases, while {@code engram_gate} takes them without: the test subtracts the bias to build
 * {@code proj} and lets the reference add it back, so the bias path is checked too.
 */
class GateConvReferenceTest {
    private static final double TOL = 1e-12;

    @Test
    void smallConfig() {
        check(EngramConfig.small(), 15, 2, 37, 101L);
    }

    @Test
    void oneBranchKernel2Dilation5() {
        check(config(List.of(101L, 103L, 107L, 109L), 5, 12, 3, 2, 24, 1), 1, 3, 9, 102L);
    }

    @Test
    void kernel1ThreeBranches() {
        check(config(List.of(211L, 223L), 3, 8, 2, 1, 16, 3), 1, 2, 5, 103L);
    }

    private static EngramConfig config(List<Long> vocab, int maxNgram, int nEmbed, int nHead, int kernel, int hidden,
                                       int hcMult) {
        return new EngramConfig(vocab, maxNgram, nEmbed, nHead, List.of(1, 15), 2, 0, kernel, hidden, hcMult,
                OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    }

    private static void check(EngramConfig base, int layerId, int batch, int seqLen, long seed) {
        EngramConfig cfg = base.withCompressedVocabSize(500);
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(cfg);
        EngramWeights w = RandomWeights.create(cfg, mapping.layer(layerId), seed, 0.3);
        SplittableRandom r = new SplittableRandom(seed);
        int n = batch * seqLen, g = cfg.hcMult(), h = cfg.hiddenSize();
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextLong(500);
        double[] hidden = new double[n * g * h];
        for (int i = 0; i < hidden.length; i++) hidden[i] = r.nextDouble(-2, 2);
        ForwardTrace t = new ReferenceEngramLayer(mapping, layerId, w).trace(ids, hidden, batch, seqLen);

        double[] proj = new double[n * (g + 1) * h];
        for (int tok = 0; tok < n; tok++) {
            for (int br = 0; br < g; br++) {
                for (int i = 0; i < h; i++) {
                    proj[(tok * (g + 1) + br) * h + i] = t.keyProj()[(tok * g + br) * h + i] - w.keyBias()[br * h + i];
                }
            }
            for (int i = 0; i < h; i++) proj[(tok * (g + 1) + g) * h + i] = t.valueProj()[tok * h + i] - w.valueBias()[i];
        }
        GateConvReference.GateResult gate = GateConvReference.gate(proj, d(w.keyBias()), d(w.valueBias()), hidden,
                d(w.keyNormWeight()), d(w.queryNormWeight()), cfg.gateNormEps(), n, g, h);
        String what = "G=" + g + " H=" + h + " K=" + cfg.kernelSize() + " dil=" + cfg.convDilation() + " " + batch
                + "x" + seqLen + " seed " + seed;
        Compare.assertAllClose(gate.dot(), t.gateDot(), TOL, what + " gate dot");
        Compare.assertAllClose(gate.gate(), t.gate(), TOL, what + " gate");
        Compare.assertAllClose(gate.value(), t.value(), TOL, what + " value");

        double[] out = GateConvReference.shortConv(t.value(), d(w.convNormWeight()), d(w.convWeight()),
                cfg.convNormEps(), batch, seqLen, g, h, cfg.kernelSize(), cfg.convDilation());
        Compare.assertAllClose(out, t.output(), TOL, what + " short conv output");
    }

    private static double[] d(float[] f) {
        double[] x = new double[f.length];
        for (int i = 0; i < f.length; i++) x[i] = f[i];
        return x;
    }
}
