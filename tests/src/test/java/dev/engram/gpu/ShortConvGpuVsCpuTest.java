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
 * {@link ShortConv} on a GPU against {@link GateConvReference} (double precision) on the same inputs:
 * random, rounded to the storage dtype before both see them, with fixed printed seeds. The output is
 * poisoned with NaN before every launch, so an element the kernel does not write fails.
 *
 * <p>Error: {@code max_i |gpu_i - ref_i| / max_i |ref_i|}, taken <b>per sequence</b> (so a large sequence
 * cannot hide an error in a small one, and anything leaking across sequence boundaries shows), naming the
 * worst index; at most 1e-5 in FLOAT32 and 1e-2 in BFLOAT16 (fp32 arithmetic on the same bf16 inputs, then
 * one rounding to bf16: at most 2^-8 of each element).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class ShortConvGpuVsCpuTest {
    private static final long SEED = 20260416L;
    private static final float EPS = 1e-5f;
    private static final double F32_TOL = 1e-5;
    private static final double BF16_TOL = 1e-2;


    /**
     * One launch, {@code offset} elements into each buffer (0: 16-byte aligned, 1: element-aligned only).
     * The kernel keeps a window of rows when dilation <= 32 and per-tap rows above; H = 64, 1024, 2048 and 8
     * take its 16-byte path in both dtypes, H = 100 in FLOAT32 only, H = 50 and 1 in neither.
     */
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
                {3, 37, 4, 100, 4, 3},    // T not a multiple of the 32-step tile
                {2, 100, 1, 50, 4, 1},    // dilation 1
                {2, 100, 4, 64, 4, 40},   // dilation > 32: per-tap rows
                {2, 37, 2, 64, 4, 40},    // ... with T shorter than the receptive field (121)
                {2, 37, 4, 64, 1, 1},     // kernel size 1
                {2, 70, 4, 1024, 4, 3},   // the reference's H
                {1, 40, 1, 2048, 4, 3},
                {1, 600, 1, 64, 16, 32},  // largest window: 32 + 15 * 32 = 512 rows of shared memory
                {1, 600, 1, 64, 16, 33},  // largest per-tap set: 16 * 32 = 512 rows
                {2, 64, 2, 8, 4, 32},     // dilation exactly 32; T two full tiles
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
    void moreItemsThanTheKernelLaunchesBlocks() {
        // B * G * tiles = 1,049,600 > 2^20 blocks: some blocks loop over a second (b, g, tile).
        check(new Case(DType.FLOAT32, 16_400, 3, 64, 1, 4, 1, 0), SEED + 200);
        check(new Case(DType.BFLOAT16, 16_400, 1, 64, 8, 4, 1, 0), SEED + 201);
    }

    // ---------------------------------------------------------------- the comparison

    private static void check(Case c, long seed) {
        String what = "[short conv] " + c + " seed " + seed;
        SplittableRandom r = new SplittableRandom(seed);
        int b = c.batch(), t = c.seqLen(), g = c.g(), h = c.h(), k = c.kernelSize();
        DType dt = c.dtype();
        float[] value = new float[b * t * g * h];
        for (int row = 0; row < b * t * g; row++) {
            double scale = Math.exp(r.nextDouble(Math.log(0.05), Math.log(2)));  // RMSNorm must remove it
            for (int i = 0; i < h; i++) value[row * h + i] = DeviceTensors.rounded((float) (scale * r.nextDouble(-1, 1)), dt);
        }
        if (t >= 2) Arrays.fill(value, g * h, g * h + h, 0f);  // (b 0, t 1, g 0): a zero row, normed to zero
        float[] normWeight = DeviceTensors.uniform(r, g * h, 0.7, 1.3, dt);
        float[] convWeight = DeviceTensors.uniform(r, g * h * k, -1 / Math.sqrt(k), 1 / Math.sqrt(k), dt);

        double[] ref = GateConvReference.shortConv(DeviceTensors.toDouble(value), DeviceTensors.toDouble(normWeight),
                DeviceTensors.toDouble(convWeight), EPS, b, t, g, h, k, c.dilation());

        double[] got;
        try (DeviceTensors.Scope scope = new DeviceTensors.Scope(c.offset());
             CudaStream stream = CudaStream.create()) {
            DeviceArray dValue = scope.upload(value, dt);
            DeviceArray dNorm = scope.upload(normWeight, dt);
            DeviceArray dConv = scope.upload(convWeight, dt);
            DeviceArray dOut = scope.poisoned(value.length, dt);
            Cuda.deviceSynchronize();  // the uploads ran on the legacy stream; the launch goes on a non-blocking one
            ShortConv.launch().value(dValue).normWeight(dNorm).convWeight(dConv).eps(EPS).tokens(b, t).branches(g, h)
                    .kernel(k, c.dilation()).out(dOut).enqueue(stream);
            stream.synchronize();
            got = DeviceTensors.download(dOut);
        }

        double tol = dt == DType.FLOAT32 ? F32_TOL : BF16_TOL;
        int perSeq = t * g * h;
        IntervalCompare worst = null;
        int worstSeq = 0;
        for (int s = 0; s < b; s++) {
            IntervalCompare e = IntervalCompare.of(Arrays.copyOfRange(got, s * perSeq, (s + 1) * perSeq),
                    Arrays.copyOfRange(ref, s * perSeq, (s + 1) * perSeq));
            e.assertWithin(tol, what + " sequence " + s + " (index within the sequence, [T, G, H] row-major)");
            if (worst == null || e.error() > worst.error()) {
                worst = e;
                worstSeq = s;
            }
        }
        System.out.println(what + ": worst sequence " + worstSeq + ": " + worst);
    }
}
