package dev.engram.gpu;

import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link Gate} on a GPU against {@link GateConvReference} (double precision) on the same inputs: random,
 * rounded to the storage dtype before both see them, with fixed printed seeds. Outputs are poisoned with
 * NaN before every launch, so an element the kernel does not write fails.
 *
 * <p>Error: {@code max_i |gpu_i - ref_i| / max_i |ref_i|} per tensor, naming the worst index; at most 1e-5
 * for fp32 results (gateOut always, valueOut in FLOAT32) and 1e-2 for valueOut in BFLOAT16 (the only
 * difference there is the final rounding to bf16, at most 2^-8 of each element). One refinement keeps that
 * sound where the gate is ill-conditioned: near {@code dot = 0} the signed square root has unbounded slope,
 * so the fp32 rounding of the dot (bounded below) may move the gate by far more than 1e-5. The reference
 * is therefore the interval {@code [gate(dot - δ), gate(dot + δ)]} (the gate is monotone in the dot), and
 * the value's interval follows from it; away from zero the interval is a point within rounding.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class GateGpuVsCpuTest {
    private static final long SEED = 20260415L;
    private static final float EPS = 0x1p-23f;
    private static final double F32_TOL = 1e-5;
    private static final double BF16_TOL = 1e-2;


    /**
     * One launch: {@code offset} elements into each buffer (0: 16-byte aligned, 1: element-aligned only).
     * H = 64, 1024, 2048 and 8 take the 16-byte path in both dtypes, H = 100 in FLOAT32 only (400 bytes;
     * 200 in bf16 is not a multiple of 16), H = 50 and 1 in neither.
     */
    private record Case(DType dtype, int tokens, int g, int h, boolean withGateOut, int offset) {
        @Override
        public String toString() {
            return dtype + " N=" + tokens + " G=" + g + " H=" + h + (withGateOut ? "" : " (no gateOut)")
                    + (offset == 0 ? "" : " (offset " + offset + ")");
        }
    }

    @Test
    void shapesBothDtypes() {
        int[][] shapes = {{1, 1, 64}, {1, 4, 64}, {37, 4, 64}, {100, 1, 100}, {37, 4, 100}, {37, 4, 50}, {7, 2, 8},
                {5, 3, 1}, {37, 4, 1024}, {20, 4, 2048}};
        long seed = SEED;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (int[] s : shapes) check(new Case(dtype, s[0], s[1], s[2], true, 0), seed++);
        }
    }

    @Test
    void withoutGateOutTheValueIsStillWritten() {
        long seed = SEED + 100;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            check(new Case(dtype, 37, 4, 64, false, 0), seed++);
            check(new Case(dtype, 9, 1, 50, false, 0), seed++);
        }
    }

    @Test
    void elementAlignedTensorsTakeTheElementPath() {
        long seed = SEED + 200;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            check(new Case(dtype, 37, 4, 64, true, 1), seed++);
            check(new Case(dtype, 5, 2, 1024, true, 1), seed++);
        }
    }

    @Test
    void moreItemsThanTheKernelLaunchesBlocks() {
        // tokens * G = 1,049,600 > 2^20 blocks: some blocks loop over a second (token, branch).
        check(new Case(DType.FLOAT32, 16_400, 64, 1, true, 0), SEED + 300);
        check(new Case(DType.BFLOAT16, 16_400, 64, 8, true, 0), SEED + 301);
    }

    // ---------------------------------------------------------------- the comparison

    private static void check(Case c, long seed) {
        String what = "[gate] " + c + " seed " + seed;
        SplittableRandom r = new SplittableRandom(seed);
        int n = c.tokens(), g = c.g(), h = c.h();
        DType dt = c.dtype();
        float[] proj = DeviceTensors.uniform(r, n * (g + 1) * h, -1, 1, dt);
        float[] keyBias = DeviceTensors.uniform(r, g * h, -0.2, 0.2, dt);
        float[] valueBias = DeviceTensors.uniform(r, h, -0.2, 0.2, dt);
        float[] hidden = new float[n * g * h];
        for (int row = 0; row < n * g; row++) {
            double scale = Math.exp(r.nextDouble(Math.log(0.05), Math.log(2)));  // RMSNorm must remove it
            for (int i = 0; i < h; i++) hidden[row * h + i] = DeviceTensors.rounded((float) (scale * r.nextDouble(-1, 1)), dt);
        }
        int zeroRow = n >= 2 ? g : -1;  // token 1, branch 0: a zero query gives dot 0, gate exactly 0.5
        if (zeroRow >= 0) Arrays.fill(hidden, zeroRow * h, zeroRow * h + h, 0f);
        float[] keyNorm = DeviceTensors.uniform(r, g * h, 0.7, 1.3, dt);
        float[] queryNorm = DeviceTensors.uniform(r, g * h, 0.7, 1.3, dt);

        GateConvReference.GateResult ref = GateConvReference.gate(DeviceTensors.toDouble(proj),
                DeviceTensors.toDouble(keyBias), DeviceTensors.toDouble(valueBias), DeviceTensors.toDouble(hidden),
                DeviceTensors.toDouble(keyNorm), DeviceTensors.toDouble(queryNorm), EPS, n, g, h);

        double[] gotValue, gotGate = null;
        try (DeviceTensors.Scope scope = new DeviceTensors.Scope(c.offset());
             CudaStream stream = CudaStream.create()) {
            DeviceArray dProj = scope.upload(proj, dt), dKeyBias = scope.upload(keyBias, dt);
            DeviceArray dValueBias = scope.upload(valueBias, dt), dHidden = scope.upload(hidden, dt);
            DeviceArray dKeyNorm = scope.upload(keyNorm, dt), dQueryNorm = scope.upload(queryNorm, dt);
            DeviceArray dValueOut = scope.poisoned((long) n * g * h, dt);
            DeviceArray dGateOut = c.withGateOut() ? scope.poisoned((long) n * g, DType.FLOAT32) : null;
            Cuda.deviceSynchronize();  // the uploads ran on the legacy stream; the launch goes on a non-blocking one
            Gate.launch().projections(dProj).keyBias(dKeyBias).valueBias(dValueBias).hidden(dHidden).keyNormWeight(dKeyNorm)
                    .queryNormWeight(dQueryNorm).eps(EPS).tokens(n).branches(g, h).valueOut(dValueOut).gateOut(dGateOut)
                    .enqueue(stream);
            stream.synchronize();
            gotValue = DeviceTensors.download(dValueOut);
            if (dGateOut != null) gotGate = DeviceTensors.download(dGateOut);
        }

        // The gate interval per (token, branch), and the value interval it implies.
        double[] gLo = new double[n * g], gHi = new double[n * g];
        double slack = dotSlack(h);
        for (int i = 0; i < n * g; i++) {
            double delta = slack * ref.absDot()[i];
            gLo[i] = GateConvReference.gateOf(ref.dot()[i] - delta);
            gHi[i] = GateConvReference.gateOf(ref.dot()[i] + delta);
        }
        double[] vLo = new double[n * g * h], vHi = new double[n * g * h];
        for (int tok = 0; tok < n; tok++) {
            for (int br = 0; br < g; br++) {
                int item = tok * g + br;
                for (int i = 0; i < h; i++) {
                    double v = (double) proj[(tok * (g + 1) + g) * h + i] + valueBias[i];
                    vLo[item * h + i] = Math.min(gLo[item] * v, gHi[item] * v);
                    vHi[item * h + i] = Math.max(gLo[item] * v, gHi[item] * v);
                }
            }
        }

        StringBuilder report = new StringBuilder(what);
        if (gotGate != null) {
            IntervalCompare e = IntervalCompare.of(gotGate, gLo, gHi, ref.gate()).assertWithin(F32_TOL, what + " gateOut");
            report.append(": gate ").append(e).append(", point error ").append(pointError(gotGate, ref.gate()));
            if (zeroRow >= 0) assertEquals(0.5, gotGate[zeroRow], what + ": a zero query row must give gate 0.5");
        }
        double tol = dt == DType.FLOAT32 ? F32_TOL : BF16_TOL;
        IntervalCompare e = IntervalCompare.of(gotValue, vLo, vHi, ref.value()).assertWithin(tol, what + " valueOut");
        report.append("; value ").append(e).append(", point error ").append(pointError(gotValue, ref.value()));
        System.out.println(report);
    }

    /**
     * δ / (sum|nk * nq| / sqrt(H)): a first-order worst-case bound on the kernel's fp32 error in the dot,
     * with u = 2^-24. The sum is about {@code d = ceil(H/128) + 8} roundings deep (a chain of fma's per
     * thread, 5 warp-shuffle and 3 cross-warp additions) plus 3 inside each term: off by at most
     * {@code (d + 3) u sum|terms|}. Each inverse RMS (an all-positive sum of the same depth, the mean, eps,
     * sqrt, reciprocal) is off by at most {@code (d/2 + 4) u}, the final products and rsqrt(H) by 7u: in all
     * {@code (2d + 18) u}. {@code 4 (ceil(H/128) + 12) u} is 1.5 to 1.7 times that for H <= 2048.
     */
    private static double dotSlack(int h) {
        int m = (h + 127) / 128 + 12;
        return 4.0 * m * 0x1p-24;
    }

    private static String pointError(double[] actual, double[] ref) {
        return String.format("%.2e", IntervalCompare.of(actual, ref).error());
    }
}
