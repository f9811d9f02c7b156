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

/**
 * {@link GateShortConv} on a GPU against {@link Gate} then {@link ShortConv} chained on the same device and
 * inputs (random, rounded to the storage dtype, fixed printed seeds). Every output is poisoned with NaN
 * before the launches, so an element a kernel does not write fails.
 *
 * <p>Error: {@code max_i |fused_i - chained_i| / max_i |chained_i|} per sequence, naming the worst index.
 * Out: at most 1e-5 in FLOAT32 and 1e-2 in BFLOAT16. Both paths round u to the storage dtype before the
 * conv; they differ only in the fp32 summation order of the gate's reductions (a 128-thread block in
 * engram_gate, one warp in the fused kernel), so in bf16 a u element may round to the neighbouring bf16
 * value: one bf16 ulp (2^-8 relative) of that element. Gates: 5e-5, not 1e-5, because near dot = 0 the
 * signed square root amplifies a 1-ulp difference in the dot (see {@link GateGpuVsCpuTest}).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class GateShortConvGpuTest {
    private static final long SEED = 20261123L;
    private static final float GATE_EPS = 0x1p-23f;
    private static final float CONV_EPS = 1e-5f;
    private static final double F32_TOL = 1e-5;
    private static final double BF16_TOL = 1e-2;
    private static final double GATE_TOL = 5e-5;

    /** One case, {@code offset} elements into each buffer (0: 16-byte aligned, 1: element-aligned only). */
    private record Case(DType dtype, int batch, int seqLen, int g, int h, int kernelSize, int dilation, int offset) {
        @Override
        public String toString() {
            return dtype + " B=" + batch + " T=" + seqLen + " G=" + g + " H=" + h + " K=" + kernelSize + " dil="
                    + dilation + (offset == 0 ? "" : " (offset " + offset + ")");
        }
    }

    @Test
    void shapesBothDtypes() {
        int[][] shapes = {
                {1, 1, 1, 64, 4, 3},      // one token
                {2, 5, 4, 64, 4, 3},      // T shorter than the receptive field (10)
                {3, 37, 4, 100, 4, 3},    // T not a multiple of the 32-step tile; H * 2 bytes not a multiple of 16
                {2, 100, 1, 50, 4, 1},    // dilation 1, element path
                {2, 150, 2, 64, 4, 40},   // dilation > 32: per-tap rows, every tap inside for t >= 120
                {2, 37, 2, 64, 4, 40},    // ... with T shorter than the receptive field (121)
                {2, 37, 4, 64, 1, 1},     // kernel size 1
                {2, 70, 4, 1024, 4, 3},   // the default G and H
                {1, 600, 1, 64, 16, 32},  // largest window: 512 rows of shared memory
                {1, 600, 1, 64, 16, 33},  // largest per-tap set: 512 rows
                {3, 33, 3, 1, 3, 2},      // H = 1
        };
        long seed = SEED;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (int[] s : shapes) check(new Case(dtype, s[0], s[1], s[2], s[3], s[4], s[5], 0), seed++);
        }
    }

    @Test
    void elementAlignedTensorsTakeTheElementPath() {
        long seed = SEED + 100;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            check(new Case(dtype, 2, 37, 4, 64, 4, 3, 1), seed++);
            check(new Case(dtype, 2, 50, 2, 1024, 4, 40, 1), seed++);
        }
    }

    @Test
    void defaultConfigurationShape() {
        // B * T = 4096 tokens of the default G = 4, H = 1024, K = 4, dilation 3.
        check(new Case(DType.BFLOAT16, 4, 1024, 4, 1024, 4, 3, 0), SEED + 200);
        check(new Case(DType.FLOAT32, 1, 1024, 4, 1024, 4, 3, 0), SEED + 201);
    }

    // ---------------------------------------------------------------- the comparison

    private static void check(Case c, long seed) {
        String what = "[gate short conv] " + c + " seed " + seed;
        SplittableRandom r = new SplittableRandom(seed);
        int b = c.batch(), t = c.seqLen(), g = c.g(), h = c.h(), k = c.kernelSize();
        int n = b * t;
        DType dt = c.dtype();
        float[] proj = DeviceTensors.uniform(r, n * (g + 1) * h, -1, 1, dt);
        float[] keyBias = DeviceTensors.uniform(r, g * h, -0.1, 0.1, dt);
        float[] valueBias = DeviceTensors.uniform(r, h, -0.1, 0.1, dt);
        float[] hidden = DeviceTensors.uniform(r, n * g * h, -1, 1, dt);
        if (n >= 2) Arrays.fill(hidden, g * h, g * h + h, 0f);  // token 1, branch 0: zero query, gate 0.5
        float[] keyNorm = DeviceTensors.uniform(r, g * h, 0.7, 1.3, dt);
        float[] queryNorm = DeviceTensors.uniform(r, g * h, 0.7, 1.3, dt);
        float[] convNorm = DeviceTensors.uniform(r, g * h, 0.7, 1.3, dt);
        float[] convWeight = DeviceTensors.uniform(r, g * h * k, -1 / Math.sqrt(k), 1 / Math.sqrt(k), dt);

        double[] fused, chained, fusedGates, chainedGates;
        try (DeviceTensors.Scope scope = new DeviceTensors.Scope(c.offset());
             CudaStream stream = CudaStream.create()) {
            DeviceArray dProj = scope.upload(proj, dt);
            DeviceArray dKeyBias = scope.upload(keyBias, dt);
            DeviceArray dValueBias = scope.upload(valueBias, dt);
            DeviceArray dHidden = scope.upload(hidden, dt);
            DeviceArray dKeyNorm = scope.upload(keyNorm, dt);
            DeviceArray dQueryNorm = scope.upload(queryNorm, dt);
            DeviceArray dConvNorm = scope.upload(convNorm, dt);
            DeviceArray dConvWeight = scope.upload(convWeight, dt);
            DeviceArray dValue = scope.poisoned((long) n * g * h, dt);
            DeviceArray dChained = scope.poisoned((long) n * g * h, dt);
            DeviceArray dFused = scope.poisoned((long) n * g * h, dt);
            DeviceArray dChainedGates = scope.poisoned((long) n * g, DType.FLOAT32);
            DeviceArray dFusedGates = scope.poisoned((long) n * g, DType.FLOAT32);
            Cuda.deviceSynchronize();  // the uploads ran on the legacy stream; the launches go on a non-blocking one
            Gate.launch().projections(dProj).keyBias(dKeyBias).valueBias(dValueBias).hidden(dHidden).keyNormWeight(dKeyNorm)
                    .queryNormWeight(dQueryNorm).eps(GATE_EPS).tokens(n).branches(g, h).valueOut(dValue)
                    .gateOut(dChainedGates).enqueue(stream);
            ShortConv.launch().value(dValue).normWeight(dConvNorm).convWeight(dConvWeight).eps(CONV_EPS).tokens(b, t)
                    .branches(g, h).kernel(k, c.dilation()).out(dChained).enqueue(stream);
            GateShortConv.launch().projections(dProj).keyBias(dKeyBias).valueBias(dValueBias).hidden(dHidden)
                    .keyNormWeight(dKeyNorm).queryNormWeight(dQueryNorm).gateEps(GATE_EPS).convNormWeight(dConvNorm)
                    .convWeight(dConvWeight).convEps(CONV_EPS).tokens(b, t).branches(g, h).kernel(k, c.dilation())
                    .out(dFused).gateOut(dFusedGates).enqueue(stream);
            stream.synchronize();
            fused = DeviceTensors.download(dFused);
            chained = DeviceTensors.download(dChained);
            fusedGates = DeviceTensors.download(dFusedGates);
            chainedGates = DeviceTensors.download(dChainedGates);
        }

        IntervalCompare.of(fusedGates, chainedGates).assertWithin(GATE_TOL, what + " gates ([T, G] row-major)");
        double tol = dt == DType.FLOAT32 ? F32_TOL : BF16_TOL;
        int perSeq = t * g * h;
        IntervalCompare worst = null;
        int worstSeq = 0;
        for (int s = 0; s < b; s++) {
            IntervalCompare e = IntervalCompare.of(Arrays.copyOfRange(fused, s * perSeq, (s + 1) * perSeq),
                    Arrays.copyOfRange(chained, s * perSeq, (s + 1) * perSeq));
            e.assertWithin(tol, what + " sequence " + s + " (index within the sequence, [T, G, H] row-major)");
            if (worst == null || e.error() > worst.error()) {
                worst = e;
                worstSeq = s;
            }
        }
        System.out.println(what + ": worst sequence " + worstSeq + ": " + worst);
    }
}
