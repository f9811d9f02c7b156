package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ForwardTrace;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.reference.ReferenceState;
import dev.engram.testing.Compare;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * Packed forwards with carried state on a GPU (SEMANTICS.md §8): sequences fed in random consecutive chunks (0, 1,
 * shorter and longer than the conv window), packed in shuffled order into shuffled slots with starting and continuing
 * sequences mixed, give the outputs of the GPU's whole-sequence rectangular forward and of the double-precision CPU
 * reference (rectangular on the whole sequence, and packed on the same steps with its {@link ReferenceState}); so does a decode loop of 1-token steps through one {@link DeviceBatch}; forks ({@link EngramState#copy})
 * and resets; the state read back holds the last compressed ids and the last gated values.
 *
 * <p>GPU chunked vs GPU whole: bit for bit under the CUDA simulator (its GEMM sums each output row alike whatever
 * the number of rows), else within the dtype tolerance (cuBLAS may pick another algorithm for another row count).
 * GPU vs CPU reference: {@link EngramLayerGpuVsCpuTest}'s tolerances. Hash ids and gathered rows: exact everywhere.
 * Seeds are fixed and printed.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class PackedForwardGpuTest {
    private static final long SEED = 20261204L;

    // ---------------------------------------------------------------- model and inputs

    /** A layer's mapping and weights (rounded to bf16 for a BFLOAT16 run, so the reference sees the same values). */
    record Model(NgramHashMapping mapping, int layerId, EngramWeights weights, DType dtype) {
        static Model random(long seed, DType dtype, boolean forceWindow) {
            Random r = new Random(seed);
            int maxNgram = 2 + r.nextInt(3);
            int nHead = 1 + r.nextInt(2), headDim = 4 * (1 + r.nextInt(2));
            int kernel = forceWindow ? 2 + r.nextInt(3) : 1 + r.nextInt(4);
            int hidden = 8 * (1 + r.nextInt(3));
            int hc = List.of(1, 2, 4).get(r.nextInt(3));
            List<Long> vocab = List.of(211L, 223L, 227L).subList(0, maxNgram - 1);
            EngramConfig c = new EngramConfig(vocab, maxNgram, nHead * headDim, nHead, List.of(1, 15), 2, 0, kernel,
                    hidden, hc, OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
            NgramHashMapping mapping = NgramHashMapping.create(c, EngramLayerGpuVsCpuTest.randomLut(seed + 1, 300, 250));
            EngramWeights w = RandomWeights.create(c, mapping.layer(1), seed + 2, 0.3);
            if (dtype == DType.BFLOAT16) w = w.mapArrays(BFloat16::roundTrip);
            return new Model(mapping, 1, w, dtype);
        }

        EngramConfig config() {
            return mapping.config();
        }

        int channels() {
            return config().hcMult() * config().hiddenSize();
        }

        int window() {
            return (config().kernelSize() - 1) * config().convDilation();
        }

        EngramLayer layer(int maxTokens) {
            return EngramLayer.create(mapping, layerId, weights, dtype, maxTokens);
        }

        /** Random ids (largest, pad and negative ids among them) and hidden states representable in the dtype. */
        Seq sequence(int tokens, long seed) {
            var in = EngramLayerGpuVsCpuTest.Inputs.random(mapping, tokens, tokens * channels(), seed);
            return new Seq(in.ids(), dtype == DType.BFLOAT16 ? BFloat16.roundTrip(in.hidden()) : in.hidden());
        }

        ForwardTrace reference(Seq s) {
            return new ReferenceEngramLayer(mapping, layerId, weights).trace(s.ids, DeviceTensors.toDouble(s.hidden), 1,
                    s.length());
        }

        double tolerance() {
            return dtype == DType.FLOAT32 ? EngramLayerGpuVsCpuTest.FP32_TOL : EngramLayerGpuVsCpuTest.BF16_TOL;
        }

        /**
         * For the gated values u alone: in bf16 the gate's signed square root amplifies the rounding of the stored
         * projections (up to ~2.5e-2 norm-wise over a few rows, where the output's residual and conv dilute it), so
         * 5e-2; a misplaced or foreign row is an O(1) error either way.
         */
        double windowTolerance() {
            return dtype == DType.FLOAT32 ? EngramLayerGpuVsCpuTest.FP32_TOL : 5e-2;
        }

        @Override
        public String toString() {
            EngramConfig c = config();
            return dtype + " N=" + c.maxNgramSize() + " K=" + c.kernelSize() + " W=" + window() + " G=" + c.hcMult()
                    + " H=" + c.hiddenSize() + " D=" + c.headDim() + " heads=" + mapping.layer(layerId).heads();
        }
    }

    /** One sequence's ids {@code [T]} and hidden states {@code [T, G, H]}. */
    record Seq(long[] ids, float[] hidden) {
        int length() {
            return ids.length;
        }

        Seq range(int from, int to) {
            int c = hidden.length / Math.max(1, ids.length);
            return new Seq(Arrays.copyOfRange(ids, from, to), Arrays.copyOfRange(hidden, from * c, to * c));
        }

        Seq concat(Seq o) {
            long[] i = Arrays.copyOf(ids, ids.length + o.ids.length);
            System.arraycopy(o.ids, 0, i, ids.length, o.ids.length);
            float[] h = Arrays.copyOf(hidden, hidden.length + o.hidden.length);
            System.arraycopy(o.hidden, 0, h, hidden.length, o.hidden.length);
            return new Seq(i, h);
        }
    }

    /** A sequence cut into consecutive chunks, fed from step {@code first} on, in state slot {@code slot}. */
    record Plan(Seq seq, int slot, int first, int[] chunks) {
        int steps() {
            return first + chunks.length;
        }

        int offset(int chunk) {
            int o = 0;
            for (int k = 0; k < chunk; k++) o += chunks[k];
            return o;
        }
    }

    /** Chunk lengths: 0, 1, shorter than the window, longer than it; 1 to 5 chunks. */
    static int[] randomChunks(Random r, int window) {
        int[] chunks = new int[1 + r.nextInt(5)];
        for (int k = 0; k < chunks.length; k++) {
            chunks[k] = switch (r.nextInt(4)) {
                case 0 -> 0;
                case 1 -> 1;
                case 2 -> 2 + r.nextInt(Math.max(1, window - 2));
                default -> window + 1 + r.nextInt(6);
            };
        }
        return chunks;
    }

    static List<Plan> randomPlans(Model m, Random r, int sequences, int slots, long seed) {
        List<Integer> free = new ArrayList<>();
        for (int s = 0; s < slots; s++) free.add(s);
        Collections.shuffle(free, r);
        List<Plan> plans = new ArrayList<>();
        for (int s = 0; s < sequences; s++) {
            int[] chunks = randomChunks(r, m.window());
            plans.add(new Plan(m.sequence(Arrays.stream(chunks).sum(), seed + 100 + s), free.get(s), r.nextInt(3), chunks));
        }
        return plans;
    }

    /** Whether the CUDA simulator (tests/cuda-sim) stands in for the GPU: it exports a counter a real libcudart lacks. */
    static boolean simulated() {
        return SymbolLookup.loaderLookup().find("simDeviceSynchronizeCount").isPresent();
    }

    static long simCounter(String symbol) {
        var f = SymbolLookup.loaderLookup().find(symbol).orElseThrow();
        try {
            return (long) Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_LONG)).invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** GPU vs GPU: bit for bit under the simulator, else within the dtype tolerance. */
    static void assertGpuRunsAgree(float[] actual, float[] expected, Model m, String what) {
        if (simulated()) {
            assertArrayEquals(expected, actual, what + " (simulated: bit for bit)");
        } else {
            Compare.assertAllClose(DeviceTensors.toDouble(actual), DeviceTensors.toDouble(expected), m.tolerance(), what);
        }
    }

    static long[] expectedHistory(Model m, Seq s) {
        int hist = m.config().maxNgramSize() - 1;
        long[] compressed = m.mapping().compress(s.ids);
        long[] h = new long[hist];
        for (int j = 0; j < hist; j++) {
            int p = s.length() - hist + j;
            h[j] = p >= 0 ? compressed[p] : m.mapping().padIdCompressed();
        }
        return h;
    }

    /** The reference's gated values u of the last W tokens, zero rows where the sequence is shorter. */
    static double[] expectedWindow(Model m, Seq s, ForwardTrace trace) {
        int w = m.window(), c = m.channels();
        double[] out = new double[w * c];
        for (int j = 0; j < w; j++) {
            int p = s.length() - w + j;
            if (p >= 0) System.arraycopy(trace.value(), p * c, out, j * c, c);
        }
        return out;
    }

    // ---------------------------------------------------------------- tests

    @Test
    void chunkedPackedRunsEqualTheWholeSequenceOnTheGpuAndTheReference() {
        long seed = SEED;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (int config = 0; config < 3; config++, seed += 1000) {
                checkChunked(Model.random(seed, dtype, config == 0), new Random(seed + 7), seed);
            }
        }
    }

    private static void checkChunked(Model m, Random r, long seed) {
        int sequences = 2 + r.nextInt(4), slots = sequences + 3;
        List<Plan> plans = randomPlans(m, r, sequences, slots, seed);
        int total = plans.stream().mapToInt(p -> p.seq.length()).sum();
        int steps = plans.stream().mapToInt(Plan::steps).max().orElse(0);
        int c = m.channels();
        System.out.printf("packed chunks %s seed %d: %d sequences, chunks %s, first steps %s%n", m, seed, sequences,
                plans.stream().map(p -> Arrays.toString(p.chunks)).toList(), plans.stream().map(Plan::first).toList());
        float[][] chunked = new float[sequences][];
        double[][] referenceChunked = new double[sequences][]; // the CPU reference's packed forward, same steps
        for (int s = 0; s < sequences; s++) {
            chunked[s] = new float[plans.get(s).seq.length() * c];
            referenceChunked[s] = new double[plans.get(s).seq.length() * c];
        }
        ReferenceEngramLayer reference = new ReferenceEngramLayer(m.mapping(), m.layerId(), m.weights());
        ReferenceState referenceState = reference.newState(slots);

        try (EngramLayer layer = m.layer(Math.max(1, total));
             EngramState state = layer.newState(slots);
             EngramState whole = layer.newState(slots);
             CudaStream stream = CudaStream.create()) {
            for (int step = 0; step < steps; step++) {
                List<Integer> active = new ArrayList<>();
                for (int s = 0; s < sequences; s++) {
                    Plan p = plans.get(s);
                    if (step >= p.first && step < p.steps()) active.add(s);
                }
                Collections.shuffle(active, r);
                int n = active.size();
                int[] lengths = new int[n], batchSlots = new int[n];
                boolean[] starts = new boolean[n];
                Seq packed = new Seq(new long[0], new float[0]);
                for (int k = 0; k < n; k++) {
                    Plan p = plans.get(active.get(k));
                    int chunk = step - p.first, from = p.offset(chunk);
                    lengths[k] = p.chunks[chunk];
                    batchSlots[k] = p.slot;
                    starts[k] = chunk == 0;
                    packed = packed.concat(p.seq.range(from, from + lengths[k]));
                }
                PackedBatch batch = PackedBatch.ofLengths(lengths, batchSlots, starts);
                float[] out = layer.forward(batch, packed.ids, packed.hidden, state);
                double[] referenceOut = reference.forward(batch, packed.ids, DeviceTensors.toDouble(packed.hidden),
                        referenceState);
                assertEquals(packed.hidden.length, out.length);
                int at = 0;
                for (int k = 0; k < n; k++) {
                    Plan p = plans.get(active.get(k));
                    int from = p.offset(step - p.first);
                    System.arraycopy(out, at * c, chunked[active.get(k)], from * c, lengths[k] * c);
                    System.arraycopy(referenceOut, at * c, referenceChunked[active.get(k)], from * c, lengths[k] * c);
                    at += lengths[k];
                }
            }

            // Every sequence whole, in one packed call (all starting) and one rectangular call each.
            int[] lengths = new int[sequences], wholeSlots = new int[sequences];
            boolean[] starts = new boolean[sequences];
            Seq all = new Seq(new long[0], new float[0]);
            for (int s = 0; s < sequences; s++) {
                lengths[s] = plans.get(s).seq.length();
                wholeSlots[s] = plans.get(s).slot;
                starts[s] = true;
                all = all.concat(plans.get(s).seq);
            }
            float[] packedWhole = layer.forward(PackedBatch.ofLengths(lengths, wholeSlots, starts), all.ids, all.hidden,
                    whole);
            int at = 0;
            for (int s = 0; s < sequences; s++) {
                Plan p = plans.get(s);
                String what = m + " seed " + seed + " sequence " + s + " (T=" + p.seq.length() + ", chunks "
                        + Arrays.toString(p.chunks) + ")";
                float[] onePacked = Arrays.copyOfRange(packedWhole, at * c, (at + p.seq.length()) * c);
                at += p.seq.length();
                long[] expectedHistory = expectedHistory(m, p.seq);
                assertArrayEquals(expectedHistory, state.history(p.slot, stream), what + ": history after the chunks");
                assertArrayEquals(referenceState.history(p.slot), state.history(p.slot, stream),
                        what + ": history vs the CPU reference's packed state");
                assertArrayEquals(expectedHistory, whole.history(p.slot, stream), what + ": history after one call");
                assertGpuRunsAgree(state.convInputs(p.slot, stream), whole.convInputs(p.slot, stream), m,
                        what + ": conv window after the chunks vs after one call");
                if (p.seq.length() == 0) {
                    assertArrayEquals(new float[m.window() * c], state.convInputs(p.slot, stream), what + ": empty window");
                    continue;
                }
                float[] rectangular = layer.forward(p.seq.ids, p.seq.hidden, 1, p.seq.length());
                assertGpuRunsAgree(chunked[s], rectangular, m, what + ": chunked vs whole rectangular");
                assertGpuRunsAgree(onePacked, rectangular, m, what + ": one packed call vs whole rectangular");
                ForwardTrace ref = m.reference(p.seq);
                Compare.assertAllClose(DeviceTensors.toDouble(chunked[s]), ref.output(), m.tolerance(),
                        what + ": chunked vs the CPU reference (whole)");
                Compare.assertAllClose(DeviceTensors.toDouble(chunked[s]), referenceChunked[s], m.tolerance(),
                        what + ": chunked vs the CPU reference's packed forward of the same steps");
                double[] window = DeviceTensors.toDouble(state.convInputs(p.slot, stream));
                double[] expectedWindow = expectedWindow(m, p.seq, ref);
                Compare.assertAllClose(window, expectedWindow, m.windowTolerance(), what + ": conv window vs the reference's u");
                for (int i = 0; i < window.length; i++) {
                    if (expectedWindow[i] == 0 && i < (m.window() - p.seq.length()) * c) {
                        assertEquals(0.0, window[i], what + ": window row before the sequence start must be zero");
                    }
                }
            }
        }
    }

    @Test
    void packedGatherAndCommitGiveTheWholeSequencesHashIdsAndRowsExactly() {
        Model m = Model.random(SEED + 50, DType.FLOAT32, true);
        Random r = new Random(SEED + 51);
        EngramConfig c = m.config();
        LayerHashing hashing = m.mapping().layer(m.layerId());
        int heads = hashing.heads(), d = c.headDim(), hist = c.maxNgramSize() - 1, sequences = 4, slots = 6;
        List<Plan> plans = randomPlans(m, r, sequences, slots, SEED + 52);
        int steps = plans.stream().mapToInt(Plan::steps).max().orElse(0);
        float[] tableValues = DeviceTensors.uniform(new SplittableRandom(SEED + 53),
                Math.toIntExact(hashing.totalRows() * d), -1, 1, DType.FLOAT32);
        long[][] hashIds = new long[sequences][];
        float[][] rows = new float[sequences][];
        for (int s = 0; s < sequences; s++) {
            hashIds[s] = new long[plans.get(s).seq.length() * heads];
            rows[s] = new float[plans.get(s).seq.length() * heads * d];
        }
        long[] pads = new long[slots * hist];
        Arrays.fill(pads, m.mapping().padIdCompressed());
        try (CudaStream stream = CudaStream.create();
             DeviceBatch batch = DeviceBatch.create(sequences);
             DeviceBuffer lut = DeviceBuffer.allocate(m.mapping().compressionTable().size(), DType.INT64);
             DeviceBuffer table = DeviceBuffer.allocate(tableValues.length, DType.FLOAT32);
             DeviceBuffer history = DeviceBuffer.allocate(pads.length, DType.INT64)) {
            lut.copyFrom(m.mapping().compressionTable().toArray());
            table.copyFrom(tableValues);
            history.copyFrom(pads);
            for (int step = 0; step < steps; step++) {
                List<Integer> active = new ArrayList<>();
                for (int s = 0; s < sequences; s++) {
                    if (step >= plans.get(s).first && step < plans.get(s).steps()) active.add(s);
                }
                Collections.shuffle(active, r);
                int n = active.size();
                int[] lengths = new int[n], batchSlots = new int[n];
                boolean[] starts = new boolean[n];
                Seq packed = new Seq(new long[0], new float[0]);
                for (int k = 0; k < n; k++) {
                    Plan p = plans.get(active.get(k));
                    int chunk = step - p.first, from = p.offset(chunk);
                    lengths[k] = p.chunks[chunk];
                    batchSlots[k] = p.slot;
                    starts[k] = chunk == 0;
                    packed = packed.concat(p.seq.range(from, from + lengths[k]));
                }
                int tokens = packed.length();
                batch.set(PackedBatch.ofLengths(lengths, batchSlots, starts), stream);
                try (DeviceBuffer ids = DeviceBuffer.allocate(tokens, DType.INT64);
                     DeviceBuffer out = DeviceBuffer.allocate((long) tokens * heads * d, DType.FLOAT32);
                     DeviceBuffer hashOut = DeviceBuffer.allocate((long) tokens * heads, DType.INT64)) {
                    ids.copyFrom(packed.ids);
                    DeviceTensors.poison(out);
                    HashedGather.launch().rawIds(ids).batch(batch).history(history, slots).lut(lut)
                            .padIdCompressed(m.mapping().padIdCompressed()).layer(hashing)
                            .headsPerNgram(c.nHeadPerNgram()).table(table).headDim(d).out(out).hashIdsOut(hashOut)
                            .enqueue(stream);
                    StateCommit.launch().batch(batch).slots(slots).rawIds(ids).lut(lut)
                            .padIdCompressed(m.mapping().padIdCompressed()).maxNgramSize(c.maxNgramSize())
                            .history(history).enqueue(stream);
                    stream.synchronize();
                    long[] gotHash = new long[tokens * heads];
                    float[] gotRows = new float[tokens * heads * d];
                    hashOut.copyTo(gotHash);
                    out.copyTo(gotRows);
                    int at = 0;
                    for (int k = 0; k < n; k++) {
                        Plan p = plans.get(active.get(k));
                        int from = p.offset(step - p.first);
                        System.arraycopy(gotHash, at * heads, hashIds[active.get(k)], from * heads, lengths[k] * heads);
                        System.arraycopy(gotRows, at * heads * d, rows[active.get(k)], from * heads * d,
                                lengths[k] * heads * d);
                        at += lengths[k];
                    }
                }
            }
            for (int s = 0; s < sequences; s++) {
                Plan p = plans.get(s);
                String what = "sequence " + s + " chunks " + Arrays.toString(p.chunks);
                int t = p.seq.length();
                long[] expected = t == 0 ? new long[0] : m.mapping().hash(p.seq.ids, 1, t, m.layerId());
                assertArrayEquals(expected, hashIds[s], what + ": hash ids");
                float[] expectedRows = new float[t * heads * d];
                for (int i = 0; i < t; i++) {
                    for (int h = 0; h < heads; h++) {
                        long row = hashing.offsets()[h] + expected[i * heads + h];
                        System.arraycopy(tableValues, Math.toIntExact(row * d), expectedRows, (i * heads + h) * d, d);
                    }
                }
                assertArrayEquals(expectedRows, rows[s], what + ": gathered rows");
                long[] gotHistory = new long[hist];
                history.slice((long) p.slot * hist, hist).copyTo(gotHistory);
                assertArrayEquals(expectedHistory(m, p.seq), gotHistory, what + ": committed history");
            }
        }
    }

    @Test
    void decodeLoopThroughOneDeviceBatchEqualsTheWholeSequence() {
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            long seed = SEED + (dtype == DType.FLOAT32 ? 200 : 300);
            Model m = Model.random(seed, dtype, true);
            int[] slots = {5, 0, 2};
            int[] prefill = {7, 0, 1};
            int sequences = slots.length, steps = m.window() + 4, c = m.channels();
            Seq[] seqs = new Seq[sequences];
            for (int s = 0; s < sequences; s++) seqs[s] = m.sequence(prefill[s] + steps, seed + 10 + s);
            // Step k's ids and hidden states, sequence after sequence, in one device buffer each.
            long[] stepIds = new long[steps * sequences];
            float[] stepHidden = new float[steps * sequences * c];
            for (int k = 0; k < steps; k++) {
                for (int s = 0; s < sequences; s++) {
                    stepIds[k * sequences + s] = seqs[s].ids[prefill[s] + k];
                    System.arraycopy(seqs[s].hidden, (prefill[s] + k) * c, stepHidden, (k * sequences + s) * c, c);
                }
            }
            int maxTokens = Math.max(Arrays.stream(prefill).sum(), Arrays.stream(prefill).max().orElse(0) + steps);
            try (EngramLayer layer = m.layer(maxTokens);
                 EngramState state = layer.newState(6);
                 CudaStream stream = CudaStream.create();
                 DeviceBatch decode = DeviceBatch.create(sequences);
                 DeviceBuffer ids = DeviceBuffer.allocate(stepIds.length, DType.INT64);
                 DeviceBuffer hidden = DeviceBuffer.allocate(stepHidden.length, dtype);
                 DeviceBuffer out = DeviceBuffer.allocate(stepHidden.length, dtype)) {
                ids.copyFrom(stepIds);
                DeviceTensors.upload(hidden, stepHidden);
                DeviceTensors.poison(out);
                Seq prefix = new Seq(new long[0], new float[0]);
                for (int s = 0; s < sequences; s++) prefix = prefix.concat(seqs[s].range(0, prefill[s]));
                float[] prefillOut = layer.forward(PackedBatch.ofLengths(prefill, slots, new boolean[] {true, true, true}),
                        prefix.ids, prefix.hidden, state);

                PackedBatch step = PackedBatch.decode(slots);
                decode.set(step, stream);
                long deviceSyncs = simulated() ? simCounter("simDeviceSynchronizeCount") : 0;
                long legacySyncs = simulated() ? simCounter("simLegacyStreamSyncCount") : 0;
                for (int k = 0; k < steps; k++) {
                    layer.forward(decode, ids.slice((long) k * sequences, sequences),
                            hidden.slice((long) k * sequences * c, (long) sequences * c),
                            out.slice((long) k * sequences * c, (long) sequences * c), state, stream);
                }
                if (simulated()) {
                    assertEquals(deviceSyncs, simCounter("simDeviceSynchronizeCount"), "decode steps synchronized the device");
                    assertEquals(legacySyncs, simCounter("simLegacyStreamSyncCount"), "decode steps used the legacy stream");
                }
                assertSame(step, decode.batch());
                stream.synchronize();
                double[] got = DeviceTensors.download(out);
                int at = 0;
                for (int s = 0; s < sequences; s++) {
                    String what = m + " seed " + seed + " sequence " + s + " (prefill " + prefill[s] + ", " + steps
                            + " decode steps)";
                    Seq full = seqs[s];
                    float[] whole = layer.forward(full.ids, full.hidden, 1, full.length());
                    float[] decoded = new float[full.length() * c];
                    System.arraycopy(prefillOut, at * c, decoded, 0, prefill[s] * c);
                    at += prefill[s];
                    for (int k = 0; k < steps; k++) {
                        for (int i = 0; i < c; i++) {
                            decoded[(prefill[s] + k) * c + i] = (float) got[(k * sequences + s) * c + i];
                        }
                    }
                    assertGpuRunsAgree(decoded, whole, m, what + ": prefill + decode vs whole");
                    Compare.assertAllClose(DeviceTensors.toDouble(decoded), m.reference(full).output(), m.tolerance(),
                            what + ": prefill + decode vs the CPU reference");
                    assertArrayEquals(expectedHistory(m, full), state.history(slots[s], stream), what + ": history");
                }
            }
        }
    }

    /**
     * Chunked prefill through the fast path with one {@link DeviceBatch} re-set every step and no host
     * synchronization in between: each {@link DeviceBatch#set} must wait for the previous upload to leave the pinned
     * staging (else the simulator reports a hazard and a step reads another step's descriptors).
     */
    @Test
    void pipelinedStepsThroughOneReSetDeviceBatchEqualTheWholeSequences() {
        long seed = SEED + 600;
        Model m = Model.random(seed, DType.FLOAT32, true);
        Random r = new Random(seed + 1);
        int sequences = 4, slots = 5, c = m.channels();
        List<Plan> plans = randomPlans(m, r, sequences, slots, seed + 2);
        int steps = plans.stream().mapToInt(Plan::steps).max().orElse(0);
        // Every step's packed tokens back to back in one buffer; step k starts at token stepStart[k].
        List<PackedBatch> batches = new ArrayList<>();
        int[] stepStart = new int[steps + 1];
        Seq all = new Seq(new long[0], new float[0]);
        int[][] where = new int[sequences][steps]; // token of sequence s's chunk in step k
        for (int step = 0; step < steps; step++) {
            List<Integer> active = new ArrayList<>();
            for (int s = 0; s < sequences; s++) {
                if (step >= plans.get(s).first && step < plans.get(s).steps()) active.add(s);
            }
            Collections.shuffle(active, r);
            int n = active.size();
            int[] lengths = new int[n], batchSlots = new int[n];
            boolean[] starts = new boolean[n];
            for (int k = 0; k < n; k++) {
                Plan p = plans.get(active.get(k));
                int chunk = step - p.first, from = p.offset(chunk);
                lengths[k] = p.chunks[chunk];
                batchSlots[k] = p.slot;
                starts[k] = chunk == 0;
                where[active.get(k)][step] = all.length();
                all = all.concat(p.seq.range(from, from + lengths[k]));
            }
            batches.add(PackedBatch.ofLengths(lengths, batchSlots, starts));
            stepStart[step + 1] = all.length();
        }
        int longest = plans.stream().mapToInt(p -> p.seq.length()).max().orElse(1);
        try (EngramLayer layer = m.layer(Math.max(1, Math.max(all.length(), longest)));
             EngramState state = layer.newState(slots);
             CudaStream stream = CudaStream.create();
             DeviceBatch batch = DeviceBatch.create(sequences);
             DeviceBuffer ids = DeviceBuffer.allocate(all.length(), DType.INT64);
             DeviceBuffer hidden = DeviceBuffer.allocate((long) all.length() * c, DType.FLOAT32);
             DeviceBuffer out = DeviceBuffer.allocate((long) all.length() * c, DType.FLOAT32)) {
            ids.copyFrom(all.ids);
            hidden.copyFrom(all.hidden);
            DeviceTensors.poison(out);
            for (int step = 0; step < steps; step++) {
                long from = stepStart[step], n = stepStart[step + 1] - from;
                batch.set(batches.get(step), stream);
                layer.forward(batch, ids.slice(from, n), hidden.slice(from * c, n * c), out.slice(from * c, n * c), state,
                        stream);
            }
            stream.synchronize();
            float[] got = new float[all.length() * c];
            out.copyTo(got);
            for (int s = 0; s < sequences; s++) {
                Plan p = plans.get(s);
                if (p.seq.length() == 0) continue;
                float[] chunked = new float[p.seq.length() * c];
                for (int k = 0; k < p.chunks.length; k++) {
                    System.arraycopy(got, where[s][p.first + k] * c, chunked, p.offset(k) * c, p.chunks[k] * c);
                }
                assertGpuRunsAgree(chunked, layer.forward(p.seq.ids, p.seq.hidden, 1, p.seq.length()), m,
                        m + " seed " + seed + " sequence " + s + " chunks " + Arrays.toString(p.chunks));
            }
        }
    }

    @Test
    void aForkedSlotContinuesLikeTheOriginalAndAResetSlotLikeAFreshStart() {
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            long seed = SEED + (dtype == DType.FLOAT32 ? 400 : 500);
            Model m = Model.random(seed, dtype, true);
            int c = m.channels(), w = m.window();
            Seq prefix = m.sequence(w + 2, seed + 1);
            Seq a = m.sequence(3, seed + 2), b = m.sequence(3, seed + 3);
            try (EngramLayer layer = m.layer(64);
                 EngramState state = layer.newState(4);
                 CudaStream stream = CudaStream.create()) {
                layer.forward(PackedBatch.ofLengths(new int[] {prefix.length()}, new int[] {0}, new boolean[] {true}),
                        prefix.ids, prefix.hidden, state);
                state.copy(0, 3, stream);
                state.copy(3, 3, stream); // no-op
                assertArrayEquals(state.history(0, stream), state.history(3, stream), dtype + ": forked history");
                assertArrayEquals(state.convInputs(0, stream), state.convInputs(3, stream), dtype + ": forked window");
                stream.synchronize(); // the host-array forward runs on the layer's own stream

                // Both continue in one call: the fork (slot 3) with b, then slot 0 with a.
                Seq ba = b.concat(a);
                float[] out = layer.forward(PackedBatch.ofLengths(new int[] {3, 3}, new int[] {3, 0},
                        new boolean[] {false, false}), ba.ids, ba.hidden, state);
                float[] wholeA = layer.forward(prefix.concat(a).ids, prefix.concat(a).hidden, 1, prefix.length() + 3);
                float[] wholeB = layer.forward(prefix.concat(b).ids, prefix.concat(b).hidden, 1, prefix.length() + 3);
                int tail = prefix.length() * c;
                assertGpuRunsAgree(Arrays.copyOfRange(out, 0, 3 * c), Arrays.copyOfRange(wholeB, tail, wholeB.length), m,
                        dtype + ": the fork continued with b");
                assertGpuRunsAgree(Arrays.copyOfRange(out, 3 * c, 6 * c), Arrays.copyOfRange(wholeA, tail, wholeA.length),
                        m, dtype + ": the original continued with a");
                assertEquals(6 * c, out.length);

                // Reset slot 0, then continue it (starts = false): the same as starting a.
                state.reset(0, stream);
                long[] pads = new long[m.config().maxNgramSize() - 1];
                Arrays.fill(pads, m.mapping().padIdCompressed());
                assertArrayEquals(pads, state.history(0, stream), dtype + ": reset history");
                assertArrayEquals(new float[w * c], state.convInputs(0, stream), dtype + ": reset window");
                float[] afterReset = layer.forward(PackedBatch.ofLengths(new int[] {3}, new int[] {0},
                        new boolean[] {false}), a.ids, a.hidden, state);
                assertGpuRunsAgree(afterReset, layer.forward(a.ids, a.hidden, 1, 3), m, dtype + ": continued after reset");

                // An empty starting chunk resets a slot too; an empty continuing chunk leaves it as it was.
                long[] before = state.history(3, stream);
                float[] windowBefore = state.convInputs(3, stream);
                stream.synchronize();
                layer.forward(PackedBatch.ofLengths(new int[] {0, 0}, new int[] {3, 0}, new boolean[] {false, true}),
                        new long[0], new float[0], state);
                assertArrayEquals(before, state.history(3, stream), dtype + ": empty continuing chunk");
                assertArrayEquals(windowBefore, state.convInputs(3, stream), dtype + ": empty continuing chunk");
                assertArrayEquals(pads, state.history(0, stream), dtype + ": empty starting chunk");
                assertArrayEquals(new float[w * c], state.convInputs(0, stream), dtype + ": empty starting chunk");
            }
        }
    }
}
