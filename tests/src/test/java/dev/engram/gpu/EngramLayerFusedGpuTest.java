package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.testing.Compare;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link EngramLayer} with the fused gate + ShortConv kernel switched on ({@link EngramLayer#setFusedGateConv},
 * what {@code -Dengram.fusedGateConv=true} does): against the same layer with the two kernels and against
 * {@link ReferenceEngramLayer}, at the default config's dense shape; an in-place forward ({@code out} =
 * {@code hidden}) falls back to the two kernels; StageEvents time the fused kernel as the "gate" stage.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class EngramLayerFusedGpuTest {
    private static final long SEED = 20261124L;

    private static NgramHashMapping mapping() {
        // D = 64, 16 heads, E = 1024, H = 1024, G = 4, kernel 4, dilation 3.
        return NgramHashMapping.create(EngramLayerGpuVsCpuTest.config(List.of(20_011L, 20_021L), 3, 512, 8, 4, 1024, 4),
                EngramLayerGpuVsCpuTest.randomLut(SEED, 30_000, 25_000));
    }

    @Test
    void fusedForwardMatchesTheTwoKernelsAndTheReference() {
        NgramHashMapping mapping = mapping();
        EngramConfig c = mapping.config();
        long seed = SEED + 1;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (int[] bt : new int[][] {{2, 100}, {3, 5}}) {
                int b = bt[0], t = bt[1], tokens = b * t, act = tokens * c.hcMult() * c.hiddenSize();
                EngramWeights w = RandomWeights.create(c, mapping.layer(1), seed, 0.3);
                EngramLayerGpuVsCpuTest.Inputs in = EngramLayerGpuVsCpuTest.Inputs.random(mapping, tokens, act, seed + 1);
                seed += 2;
                if (dtype == DType.BFLOAT16) {
                    w = w.mapArrays(BFloat16::roundTrip);
                    in = new EngramLayerGpuVsCpuTest.Inputs(in.ids(), BFloat16.roundTrip(in.hidden()));
                }
                double[] hiddenD = new double[act];
                for (int i = 0; i < act; i++) hiddenD[i] = in.hidden()[i];
                double[] expected = new ReferenceEngramLayer(mapping, 1, w).forward(in.ids(), hiddenD, b, t);
                float[] two, one;
                try (EngramLayer layer = EngramLayer.create(mapping, 1, w, dtype, tokens)) {
                    layer.setFusedGateConv(false);
                    two = layer.forward(in.ids(), in.hidden(), b, t);
                    layer.setFusedGateConv(true);
                    one = layer.forward(in.ids(), in.hidden(), b, t);
                }
                String what = "fused EngramLayer " + dtype + " B=" + b + " T=" + t;
                boolean f32 = dtype == DType.FLOAT32;
                double vsTwo = Compare.normwiseRelativeError(toDouble(one), toDouble(two));
                System.out.printf("%s: norm-wise relative error vs the two kernels %.2e, vs the reference %.2e%n", what,
                        vsTwo, Compare.normwiseRelativeError(toDouble(one), expected));
                assertTrue(vsTwo <= (f32 ? 1e-5 : 1e-2), what + ": vs the two kernels " + vsTwo);
                Compare.assertAllClose(toDouble(one), expected,
                        f32 ? EngramLayerGpuVsCpuTest.FP32_TOL : EngramLayerGpuVsCpuTest.BF16_TOL, what);
            }
        }
    }

    @Test
    void inPlaceForwardFallsBackAndStageEventsTimeTheFusedKernelAsTheGate() {
        NgramHashMapping mapping = mapping();
        EngramConfig c = mapping.config();
        int b = 2, t = 64, tokens = b * t, act = tokens * c.hcMult() * c.hiddenSize();
        EngramWeights w = RandomWeights.create(c, mapping.layer(1), SEED + 50, 0.3);
        EngramLayerGpuVsCpuTest.Inputs in = EngramLayerGpuVsCpuTest.Inputs.random(mapping, tokens, act, SEED + 51);
        try (EngramLayer layer = EngramLayer.create(mapping, 1, w, DType.FLOAT32, tokens);
             CudaStream s = CudaStream.create();
             StageEvents events = new StageEvents();
             DeviceBuffer ids = DeviceBuffer.allocate(tokens, DType.INT64);
             DeviceBuffer h = DeviceBuffer.allocate(act, DType.FLOAT32);
             DeviceBuffer o = DeviceBuffer.allocate(act, DType.FLOAT32)) {
            layer.setFusedGateConv(false);
            float[] expected = layer.forward(in.ids(), in.hidden(), b, t);
            layer.setFusedGateConv(true);
            ids.copyFrom(in.ids());
            h.copyFrom(in.hidden());
            Cuda.deviceSynchronize();
            layer.forward(ids, b, t, h, o, s, events);
            float[] ms = events.stageMillis();
            assertTrue(ms[2] > 0, "gate + conv stage " + ms[2]);
            assertTrue(ms[3] < 0.05, "the short conv stage is empty when fused: " + ms[3]);
            layer.forward(ids, b, t, h, h, s); // out = hidden: the two kernels, in place
            s.synchronize();
            float[] inPlace = new float[act];
            h.copyTo(inPlace);
            for (int i = 0; i < act; i++) {
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(inPlace[i]),
                        "in-place forward with the fused kernel on differs from the two kernels at " + i);
            }
        }
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
