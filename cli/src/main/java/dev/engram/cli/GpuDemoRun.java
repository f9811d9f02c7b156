package dev.engram.cli;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.EngramLayer;
import dev.engram.gpu.StageEvents;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ReferenceEngramLayer;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * The demo's GPU half: one {@link EngramLayer} forward after a warm-up, repeated and timed per stage with
 * CUDA events (medians), then checked against one forward of the double-precision CPU reference.
 */
final class GpuDemoRun {
    private GpuDemoRun() {}

    /** @return the GPU output widened to double, for the summary */
    static double[] run(PrintStream out, NgramHashMapping mapping, int layerId, EngramWeights weights, DType dtype,
                        DemoInputs in, int batch, int seqLen, int repeat) {
        int tokens = batch * seqLen;
        int activations = in.hidden().length;
        float[] hidden = new float[activations];
        for (int i = 0; i < activations; i++) hidden[i] = (float) in.hidden()[i];
        long t0 = System.nanoTime();
        float[][] stageMs = new float[repeat][];
        float[] totals = new float[repeat];
        double[] result = new double[activations];
        try (EngramLayer layer = EngramLayer.create(mapping, layerId, weights, dtype, tokens);
             StageEvents events = new StageEvents();
             CudaStream stream = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(tokens, DType.INT64);
             DeviceBuffer h = DeviceBuffer.allocate(activations, dtype);
             DeviceBuffer y = DeviceBuffer.allocate(activations, dtype)) {
            out.printf(Locale.ROOT, "gpu layer: %s, %.1f MiB of device memory, uploaded in %.1f ms%n", dtype,
                    layer.deviceBytes() / (double) (1 << 20), (System.nanoTime() - t0) / 1e6);
            ids.copyFrom(in.ids());
            if (dtype == DType.FLOAT32) h.copyFrom(hidden);
            else h.copyFrom(BFloat16.fromFloats(hidden));
            Cuda.deviceSynchronize();
            layer.forward(ids, batch, seqLen, h, y, stream, events); // warm-up: module load, cuBLAS heuristics
            events.stageMillis();
            for (int r = 0; r < repeat; r++) {
                layer.forward(ids, batch, seqLen, h, y, stream, events);
                stageMs[r] = events.stageMillis();
                totals[r] = events.totalMillis();
            }
            if (dtype == DType.FLOAT32) {
                float[] f = new float[activations];
                y.copyTo(f);
                for (int i = 0; i < activations; i++) result[i] = f[i];
            } else {
                short[] s = new short[activations];
                y.copyTo(s);
                for (int i = 0; i < activations; i++) result[i] = BFloat16.toFloat(s[i]);
            }
        }
        printStages(out, stageMs, totals, tokens);

        double[] refHidden = in.hidden();
        EngramWeights refWeights = weights;
        if (dtype == DType.BFLOAT16) { // the reference sees what the bf16 layer stores
            refWeights = weights.mapArrays(BFloat16::roundTrip);
            float[] rounded = BFloat16.roundTrip(hidden);
            refHidden = new double[activations];
            for (int i = 0; i < activations; i++) refHidden[i] = rounded[i];
        }
        double[] expected = new ReferenceEngramLayer(mapping, layerId, refWeights).forward(in.ids(), refHidden, batch, seqLen);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < activations; i++) {
            double d = Math.abs(result[i] - expected[i]);
            maxDiff = Double.isNaN(d) ? Double.NaN : Math.max(maxDiff, d);
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        out.printf(Locale.ROOT, "check: GPU vs CPU reference (double), norm-wise relative error %.2e (max |diff| %.2e)%n",
                maxDiff / maxRef, maxDiff);
        return result;
    }

    private static void printStages(PrintStream out, float[][] stageMs, float[] totals, int tokens) {
        out.printf(Locale.ROOT, "per-stage GPU time (CUDA events), median of %d forwards after 1 warm-up:%n", totals.length);
        double[] medians = new double[StageEvents.STAGES.size()];
        double sum = 0;
        for (int s = 0; s < medians.length; s++) {
            float[] v = new float[stageMs.length];
            for (int r = 0; r < v.length; r++) v[r] = stageMs[r][s];
            medians[s] = median(v);
            sum += medians[s];
        }
        for (int s = 0; s < medians.length; s++) {
            out.printf(Locale.ROOT, "  %-12s %10.4f ms  %5.1f%%%n", StageEvents.STAGES.get(s), medians[s], 100 * medians[s] / sum);
        }
        double total = median(totals);
        out.printf(Locale.ROOT, "  %-12s %10.4f ms  (median of the per-forward totals), %,.0f tokens/s%n", "total", total,
                tokens / (total / 1e3));
    }

    private static double median(float[] v) {
        float[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    }
}
