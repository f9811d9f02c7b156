package dev.engram.gpu;

import dev.engram.reference.ReferenceEngramLayer;

/**
 * The gate and the ShortConv in double precision, with exactly the inputs and layouts of {@link Gate} and
 * {@link ShortConv} (projections without bias, arbitrary kernel size and dilation), which
 * {@link ReferenceEngramLayer} does not take. {@link GateConvReferenceTest} checks both against
 * ReferenceEngramLayer's trace, so the GPU tests compare with the project's yardstick.
 */
final class GateConvReference {
    private GateConvReference() {}

    /**
     * @param value  [N, G, H] gate * (value projection + bias)
     * @param gate   [N, G]
     * @param dot    [N, G] sum(nk * nq) / sqrt(H)
     * @param absDot [N, G] sum(|nk * nq|) / sqrt(H): the scale of the dot's rounding error in fp32
     */
    record GateResult(double[] value, double[] gate, double[] dot, double[] absDot) {}

    /** {@code sigmoid(sign(dot) * sqrt(max(|dot|, 1e-6)))}: monotone non-decreasing in {@code dot}. */
    static double gateOf(double dot) {
        double s = Math.signum(dot) * Math.sqrt(Math.max(Math.abs(dot), ReferenceEngramLayer.GATE_CLAMP));
        return 1.0 / (1.0 + Math.exp(-s));
    }

    /** The gate of {@code engram_gate} for {@code proj [N, (G+1)*H]} without bias (see {@link Gate}). */
    static GateResult gate(double[] proj, double[] keyBias, double[] valueBias, double[] hidden, double[] keyNormWeight,
                           double[] queryNormWeight, double eps, int tokens, int g, int h) {
        double[] value = new double[tokens * g * h];
        double[] gate = new double[tokens * g], dot = new double[tokens * g], absDot = new double[tokens * g];
        double[] k = new double[h], nk = new double[h], nq = new double[h];
        for (int tok = 0; tok < tokens; tok++) {
            for (int br = 0; br < g; br++) {
                int item = tok * g + br;
                int projRow = tok * (g + 1) * h;
                for (int i = 0; i < h; i++) k[i] = proj[projRow + br * h + i] + keyBias[br * h + i];
                rmsNorm(k, 0, keyNormWeight, br * h, eps, nk, 0, h);
                rmsNorm(hidden, item * h, queryNormWeight, br * h, eps, nq, 0, h);
                double d = 0, a = 0;
                for (int i = 0; i < h; i++) {
                    d += nk[i] * nq[i];
                    a += Math.abs(nk[i] * nq[i]);
                }
                dot[item] = d / Math.sqrt(h);
                absDot[item] = a / Math.sqrt(h);
                gate[item] = gateOf(dot[item]);
                for (int i = 0; i < h; i++) {
                    value[item * h + i] = gate[item] * (proj[projRow + g * h + i] + valueBias[i]);
                }
            }
        }
        return new GateResult(value, gate, dot, absDot);
    }

    /**
     * The ShortConv of {@code engram_short_conv}: {@code out = value + SiLU(conv(RMSNorm(value) * normWeight))},
     * the depthwise conv causal per sequence: {@code y[t] = sum_k w[c, k] * xn[t - (K-1-k)*dilation]}, zero
     * before the sequence start.
     */
    static double[] shortConv(double[] value, double[] normWeight, double[] convWeight, double eps, int batch,
                              int seqLen, int g, int h, int kernelSize, int dilation) {
        int channels = g * h;
        double[] xn = new double[value.length];
        for (int row = 0; row < batch * seqLen * g; row++) {
            rmsNorm(value, row * h, normWeight, (row % g) * h, eps, xn, row * h, h);
        }
        double[] out = new double[value.length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seqLen; t++) {
                for (int c = 0; c < channels; c++) {
                    double y = 0;
                    for (int tap = 0; tap < kernelSize; tap++) {
                        long src = t - (long) (kernelSize - 1 - tap) * dilation;
                        if (src >= 0) y += convWeight[c * kernelSize + tap] * xn[(int) ((b * seqLen + src) * channels + c)];
                    }
                    int i = (b * seqLen + t) * channels + c;
                    out[i] = value[i] + y / (1.0 + Math.exp(-y));
                }
            }
        }
        return out;
    }

    /** out[outOff ..] = x[xOff ..] / sqrt(mean(x^2) + eps) * weight[wOff ..], over {@code len} elements. */
    private static void rmsNorm(double[] x, int xOff, double[] weight, int wOff, double eps, double[] out, int outOff,
                                int len) {
        double sumSq = 0;
        for (int i = 0; i < len; i++) sumSq += x[xOff + i] * x[xOff + i];
        double inv = 1.0 / Math.sqrt(sumSq / len + eps);
        for (int i = 0; i < len; i++) out[outOff + i] = x[xOff + i] * inv * weight[wOff + i];
    }
}
