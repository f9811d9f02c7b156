package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.testing.Compare;
import dev.engram.testing.Golden;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link EngramLayer} end to end on a GPU against the double-precision {@link ReferenceEngramLayer}, on fresh
 * random weights, ids and hidden states (fixed, printed seeds). Error measure: norm-wise relative
 * ({@link Compare}). FLOAT32: ≤ {@value #FP32_TOL} (fp32 arithmetic and cuBLAS fp32 accumulation; the signed
 * square root of the gate amplifies dot-product rounding near its 1e-6 clamp, hence not 1e-6). BFLOAT16: the
 * reference gets the same bf16-rounded weights and hidden states, so only bf16 storage of the intermediates
 * (projections, gated value, output) differs: ≤ {@value #BF16_TOL}. Outputs are NaN-poisoned before each forward.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class EngramLayerGpuVsCpuTest {
    static final double FP32_TOL = 2e-5;
    static final double BF16_TOL = 2e-2;
    private static final long SEED = 20261123L;

    static EngramConfig config(List<Long> vocab, int maxNgram, int nEmbed, int nHead, int kernel, int hidden, int hc) {
        return new EngramConfig(vocab, maxNgram, nEmbed, nHead, List.of(1, 15), 2, 0, kernel, hidden, hc,
                OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    }

    /** A random LUT of {@code size} raw ids onto {@code [0, compressedVocab)}, the last id mapping to the largest. */
    static CompressionTable randomLut(long seed, int size, long compressedVocab) {
        Random r = new Random(seed);
        long[] lut = new long[size];
        for (int i = 0; i < size; i++) lut[i] = r.nextLong(compressedVocab);
        lut[size - 1] = compressedVocab - 1;
        return CompressionTable.of(lut);
    }

    @Test
    void smallConfigGoldenLutEveryShapeBothDtypes() {
        CompressionTable lut = CompressionTable.load(Golden.dir().resolve("forward/main/tokenizer/lookup_table.i64.bin"));
        NgramHashMapping mapping = NgramHashMapping.create(EngramConfig.small(), lut);
        long seed = SEED;
        for (int layerId : mapping.layerIds()) {
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                for (int[] bt : new int[][] {{1, 1}, {2, 9}, {3, 37}}) {
                    check("small L" + layerId, mapping, layerId, dtype, bt[0], bt[1], seed++);
                }
            }
        }
    }

    @Test
    void referenceShapeWithASmallerTable() {
        // D = 64, 16 heads, E = 1024, H = 1024, G = 4, kernel 4, dilation 3: the default config's dense shape.
        NgramHashMapping mapping = NgramHashMapping.create(config(List.of(20_011L, 20_021L), 3, 512, 8, 4, 1024, 4),
                randomLut(SEED + 10, 30_000, 25_000));
        long seed = SEED + 20;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            check("H=1024 G=4", mapping, 15, dtype, 2, 100, seed++);
            check("H=1024 G=4, T < receptive field", mapping, 1, dtype, 3, 5, seed++);
        }
    }

    @Test
    void oneBranchWideHiddenAndOddHidden() {
        NgramHashMapping wide = NgramHashMapping.create(config(List.of(5003L, 4001L), 3, 256, 4, 4, 2048, 1),
                randomLut(SEED + 30, 6000, 4500));
        // H = 100: 400-byte fp32 rows take the 16-byte path, 200-byte bf16 rows the element path;
        // D = 48 (96 / 2 heads), kernel 1 (the conv is a per-channel scale).
        NgramHashMapping odd = NgramHashMapping.create(config(List.of(3001L, 2503L), 3, 96, 2, 1, 100, 2),
                randomLut(SEED + 40, 500, 300));
        long seed = SEED + 50;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            check("H=2048 G=1", wide, 1, dtype, 2, 33, seed++);
            check("H=100 G=2 K=1 D=48", odd, 15, dtype, 3, 37, seed++);
        }
    }

    @Test
    void fourGramsDilationFour() {
        // N = 4: dilation 4, 3 orders x 2 heads, D = 5 (the element-wise gather path), H = 64.
        NgramHashMapping mapping = NgramHashMapping.create(config(List.of(101L, 103L, 107L), 4, 10, 2, 4, 64, 4),
                randomLut(SEED + 60, 90, 80));
        long seed = SEED + 70;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            check("N=4 D=5", mapping, 1, dtype, 4, 17, seed++);
        }
    }

    @Test
    void forwardsOnTwoStreamsDoNotShareScratchInFlight() {
        NgramHashMapping mapping = NgramHashMapping.create(config(List.of(5003L, 4001L), 3, 256, 4, 4, 512, 4),
                randomLut(SEED + 80, 6000, 4500));
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(1), SEED + 81, 0.2);
        int b = 4, t = 256, tokens = b * t, act = tokens * 4 * 512;
        Inputs in1 = Inputs.random(mapping, tokens, act, SEED + 82), in2 = Inputs.random(mapping, tokens, act, SEED + 83);
        try (EngramLayer layer = EngramLayer.create(mapping, 1, w, DType.FLOAT32, tokens)) {
            float[] alone1 = layer.forward(in1.ids, in1.hidden, b, t);
            float[] alone2 = layer.forward(in2.ids, in2.hidden, b, t);
            try (CudaStream s1 = CudaStream.create(); CudaStream s2 = CudaStream.create();
                 DeviceBuffer ids1 = DeviceBuffer.allocate(tokens, DType.INT64);
                 DeviceBuffer ids2 = DeviceBuffer.allocate(tokens, DType.INT64);
                 DeviceBuffer h1 = DeviceBuffer.allocate(act, DType.FLOAT32);
                 DeviceBuffer h2 = DeviceBuffer.allocate(act, DType.FLOAT32);
                 DeviceBuffer o1 = poisoned(act, DType.FLOAT32);
                 DeviceBuffer o2 = poisoned(act, DType.FLOAT32)) {
                ids1.copyFrom(in1.ids);
                ids2.copyFrom(in2.ids);
                h1.copyFrom(in1.hidden);
                h2.copyFrom(in2.hidden);
                Cuda.deviceSynchronize();
                for (int rep = 0; rep < 5; rep++) {
                    layer.forward(ids1, b, t, h1, o1, s1);
                    layer.forward(ids2, b, t, h2, o2, s2);
                }
                s1.synchronize();
                s2.synchronize();
                float[] got1 = new float[act], got2 = new float[act];
                o1.copyTo(got1);
                o2.copyTo(got2);
                assertArrayEquals(alone1, got1, "stream 1");
                assertArrayEquals(alone2, got2, "stream 2");
            }
        }
    }

    @Test
    void stageEventsTimeEveryStage() {
        NgramHashMapping mapping = NgramHashMapping.create(EngramConfig.small(), randomLut(SEED + 90, 4000, 3000));
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(1), SEED + 91);
        int b = 2, t = 64, tokens = b * t, act = tokens * mapping.config().hcMult() * mapping.config().hiddenSize();
        Inputs in = Inputs.random(mapping, tokens, act, SEED + 92);
        try (EngramLayer layer = EngramLayer.create(mapping, 1, w, DType.BFLOAT16, tokens);
             StageEvents events = new StageEvents();
             CudaStream s = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(tokens, DType.INT64);
             DeviceBuffer h = DeviceBuffer.allocate(act, DType.BFLOAT16);
             DeviceBuffer o = DeviceBuffer.allocate(act, DType.BFLOAT16)) {
            assertThrows(IllegalStateException.class, events::stageMillis);
            ids.copyFrom(in.ids);
            h.copyFrom(BFloat16.fromFloats(in.hidden));
            Cuda.deviceSynchronize();
            layer.forward(ids, b, t, h, o, s, events);
            float[] ms = events.stageMillis();
            float total = events.totalMillis();
            double sum = 0;
            for (float m : ms) {
                assertTrue(m >= 0, "stage time " + m);
                sum += m;
            }
            assertEquals(total, sum, 1e-3 + 1e-3 * total, "stages add up to the total");
        }
    }

    @Test
    void badCallsThrowBeforeAnythingIsQueued() {
        NgramHashMapping mapping = NgramHashMapping.create(EngramConfig.small(), randomLut(SEED + 100, 4000, 3000));
        EngramConfig c = mapping.config();
        EngramWeights w = RandomWeights.create(c, mapping.layer(1), SEED + 101);
        int act = 8 * c.hcMult() * c.hiddenSize();
        EngramLayer closedLayer;
        try (EngramLayer layer = EngramLayer.create(mapping, 1, w, DType.FLOAT32, 8);
             CudaStream s = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(8, DType.INT64);
             DeviceBuffer ids16 = DeviceBuffer.allocate(16, DType.INT64);
             DeviceBuffer h = DeviceBuffer.allocate(act, DType.FLOAT32);
             DeviceBuffer hBf16 = DeviceBuffer.allocate(act, DType.BFLOAT16);
             DeviceBuffer o = DeviceBuffer.allocate(act, DType.FLOAT32);
             DeviceBuffer o16 = DeviceBuffer.allocate(2 * act, DType.FLOAT32);
             DeviceBuffer h16 = DeviceBuffer.allocate(2 * act, DType.FLOAT32)) {
            var tooMany = assertThrows(IllegalArgumentException.class, () -> layer.forward(ids16, 2, 8, h16, o16, s));
            assertTrue(tooMany.getMessage().contains("maxTokens 8"), tooMany.getMessage());
            var dtype = assertThrows(IllegalArgumentException.class, () -> layer.forward(ids, 2, 4, hBf16, o, s));
            assertTrue(dtype.getMessage().contains("hidden must be FLOAT32"), dtype.getMessage());
            // 2 x 4 tokens match h and o, so the ids' count is what is wrong (with 1 x 4, h would fail first).
            var count = assertThrows(IllegalArgumentException.class, () -> layer.forward(ids16, 2, 4, h, o, s));
            assertTrue(count.getMessage().contains("rawIds has 16 elements"), count.getMessage());
            long[] badIds = new long[8];
            badIds[3] = mapping.compressionTable().size(); // one past the table
            // CompressionTable.compress reports it as an IndexOutOfBoundsException (reference/BadInputTest).
            assertThrows(IndexOutOfBoundsException.class, () -> layer.forward(badIds, new float[act], 2, 4));
            closedLayer = layer;
        }
        assertTrue(closedLayer.isClosed());
        assertThrows(IllegalStateException.class, () -> closedLayer.forward(new long[8], new float[act], 2, 4));
        closedLayer.close(); // idempotent
    }

    // ---------------------------------------------------------------- helpers

    record Inputs(long[] ids, float[] hidden) {
        static Inputs random(NgramHashMapping mapping, int tokens, int activations, long seed) {
            Random r = new Random(seed);
            int lutSize = mapping.compressionTable().size();
            long[] ids = new long[tokens];
            for (int i = 0; i < tokens; i++) {
                int kind = r.nextInt(20);
                ids[i] = kind == 0 ? lutSize - 1                          // the largest id the table maps
                        : kind == 1 ? mapping.config().padId()
                        : kind == 2 ? -1 - r.nextInt(1000)                // negative ids pass through uncompressed
                        : r.nextInt(lutSize);
            }
            float[] hidden = new float[activations];
            for (int i = 0; i < activations; i++) hidden[i] = (float) r.nextGaussian();
            return new Inputs(ids, hidden);
        }
    }

    private static void check(String what, NgramHashMapping mapping, int layerId, DType dtype, int b, int t, long seed) {
        EngramConfig c = mapping.config();
        LayerHashing hashing = mapping.layer(layerId);
        EngramWeights w = RandomWeights.create(c, hashing, seed, 0.3);
        int tokens = b * t, act = tokens * c.hcMult() * c.hiddenSize();
        Inputs in = Inputs.random(mapping, tokens, act, seed + 1);
        if (dtype == DType.BFLOAT16) {
            w = w.mapArrays(BFloat16::roundTrip);
            in = new Inputs(in.ids, BFloat16.roundTrip(in.hidden));
        }
        double[] hiddenD = new double[act];
        for (int i = 0; i < act; i++) hiddenD[i] = in.hidden[i];
        double[] expected = new ReferenceEngramLayer(mapping, layerId, w).forward(in.ids, hiddenD, b, t);

        double[] actual;
        try (EngramLayer layer = EngramLayer.create(mapping, layerId, w, dtype, tokens + 3)) {
            actual = runPoisoned(layer, in, b, t, dtype);
            float[] convenient = layer.forward(in.ids, in.hidden, b, t);
            for (int i = 0; i < act; i++) {
                assertEquals(Float.floatToRawIntBits((float) actual[i]), Float.floatToRawIntBits(convenient[i]),
                        what + ": host-array forward differs from the device forward at " + i);
            }
        }
        double tol = dtype == DType.FLOAT32 ? FP32_TOL : BF16_TOL;
        double err = Compare.normwiseRelativeError(actual, expected);
        System.out.printf("EngramLayer %s layer %d %s B=%d T=%d seed %d: norm-wise relative error %.2e (tol %.0e)%n",
                what, layerId, dtype, b, t, seed, err, tol);
        Compare.assertAllClose(actual, expected, tol, what + " " + dtype + " B=" + b + " T=" + t + " seed " + seed);
    }

    /** The device-API forward with a NaN-poisoned output buffer. */
    private static double[] runPoisoned(EngramLayer layer, Inputs in, int b, int t, DType dtype) {
        int act = in.hidden.length;
        try (CudaStream s = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(in.ids.length, DType.INT64);
             DeviceBuffer h = DeviceBuffer.allocate(act, dtype);
             DeviceBuffer o = poisoned(act, dtype)) {
            ids.copyFrom(in.ids);
            if (dtype == DType.FLOAT32) h.copyFrom(in.hidden);
            else h.copyFrom(BFloat16.fromFloats(in.hidden));
            Cuda.deviceSynchronize();
            layer.forward(ids, b, t, h, o, s);
            s.synchronize();
            double[] out = new double[act];
            if (dtype == DType.FLOAT32) {
                float[] f = new float[act];
                o.copyTo(f);
                for (int i = 0; i < act; i++) out[i] = f[i];
            } else {
                short[] bits = new short[act];
                o.copyTo(bits);
                for (int i = 0; i < act; i++) out[i] = BFloat16.toFloat(bits[i]);
            }
            return out;
        }
    }

    /** A device buffer filled with 0xFF bytes: NaN in FLOAT32 and BFLOAT16 alike. */
    static DeviceBuffer poisoned(long elements, DType dtype) {
        DeviceBuffer buf = DeviceBuffer.allocate(elements, dtype);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment nan = arena.allocate(buf.byteSize());
            nan.fill((byte) 0xFF);
            buf.copyFrom(nan);
        }
        return buf;
    }
}
