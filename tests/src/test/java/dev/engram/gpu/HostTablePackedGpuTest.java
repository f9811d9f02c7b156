package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.PackedForwardGpuTest.Model;
import dev.engram.gpu.PackedForwardGpuTest.Plan;
import dev.engram.gpu.PackedForwardGpuTest.Seq;
import dev.engram.table.EmbeddingTables;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.PinnedHostMemory;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

import static dev.engram.gpu.PackedForwardGpuTest.assertGpuRunsAgree;
import static dev.engram.gpu.PackedForwardGpuTest.expectedHistory;
import static dev.engram.gpu.PackedForwardGpuTest.simCounter;
import static dev.engram.gpu.PackedForwardGpuTest.simulated;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link HostTableLayer} on packed batches with carried state (issue 12 item 6), on the {@code CPU},
 * {@code ZERO_COPY} and {@code AUTO} paths, FLOAT32 and BFLOAT16: sequences fed in random consecutive chunks (0, 1,
 * shorter and longer than the conv window), packed in shuffled order into shuffled slots with starts and continues
 * mixed, and decode loops, each step prefetched while the step before is still unconsumed (both staging slots in
 * flight). Every step must equal the device-table {@link EngramLayer}'s packed forward bit for bit (same rows, same
 * kernels), and every sequence its whole-sequence forward (bit for bit simulated, else within the dtype tolerance); the
 * host history must hold the last compressed ids. Also forks and resets through the state, and bad input rejected
 * before anything is queued or the history moves. Seeds are fixed and printed.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class HostTablePackedGpuTest {
    private static final long SEED = 20261206L;
    private static final List<DType> DTYPES = List.of(DType.FLOAT32, DType.BFLOAT16);

    /** A host-table layer of {@code m} with two gather threads and {@code AUTO}'s window of 1 to {@code zeroCopyMaxTokens}. */
    static HostTableLayer hostLayer(Model m, HostTable table, HostGatherPath path, int maxTokens, int zeroCopyMaxTokens) {
        return HostTableLayer.create(m.mapping(), m.layerId(), LayerWeights.of(m.weights().dense()), table,
                HostTableLayer.Options.of(path, maxTokens).withGatherThreads(2).withZeroCopyMaxTokens(zeroCopyMaxTokens)
                        .withZeroCopyMinTokens(0));
    }

    static HostTable pinnedTable(Model m) {
        return EmbeddingTables.fromWeights(m.weights(), m.dtype(), PinnedHostMemory.allocated(), 2);
    }

    /** Every step's packed batch, the steps' tokens back to back in {@code all}, and where each chunk went. */
    record Steps(List<PackedBatch> batches, int[] start, Seq all, int[][] where) {
        static Steps of(List<Plan> plans, Random r) {
            int sequences = plans.size();
            int steps = plans.stream().mapToInt(Plan::steps).max().orElse(0);
            List<PackedBatch> batches = new ArrayList<>();
            int[] start = new int[steps + 1];
            Seq all = new Seq(new long[0], new float[0]);
            int[][] where = new int[sequences][steps];
            for (int step = 0; step < steps; step++) {
                List<Integer> active = new ArrayList<>();
                for (int s = 0; s < sequences; s++) {
                    if (step >= plans.get(s).first() && step < plans.get(s).steps()) active.add(s);
                }
                Collections.shuffle(active, r);
                int n = active.size();
                int[] lengths = new int[n], slots = new int[n];
                boolean[] starts = new boolean[n];
                for (int k = 0; k < n; k++) {
                    Plan p = plans.get(active.get(k));
                    int chunk = step - p.first(), from = p.offset(chunk);
                    lengths[k] = p.chunks()[chunk];
                    slots[k] = p.slot();
                    starts[k] = chunk == 0;
                    where[active.get(k)][step] = all.length();
                    all = all.concat(p.seq().range(from, from + lengths[k]));
                }
                batches.add(PackedBatch.ofLengths(lengths, slots, starts));
                start[step + 1] = all.length();
            }
            return new Steps(batches, start, all, where);
        }

        int count() {
            return batches.size();
        }

        int tokens(int step) {
            return start[step + 1] - start[step];
        }

        long[] ids(int step) {
            return Arrays.copyOfRange(all.ids(), start[step], start[step + 1]);
        }

        /** Rows {@code [start, start + tokens)} of a {@code [tokens, width]} buffer of all steps. */
        DeviceArray slice(DeviceArray a, int step, int width) {
            return a.slice((long) start[step] * width, (long) tokens(step) * width);
        }
    }

    // ---------------------------------------------------------------- chunks and decode loops

    @Test
    void chunkedStepsPrefetchedAheadEqualTheDeviceTableLayerAndTheWholeSequence() {
        long seed = SEED;
        for (DType dtype : DTYPES) {
            for (HostGatherPath path : HostGatherPath.values()) {
                seed += 1000;
                checkChunked(Model.random(seed, dtype, true), path, seed);
            }
        }
    }

    private static void checkChunked(Model m, HostGatherPath path, long seed) {
        Random r = new Random(seed + 7);
        int sequences = 2 + r.nextInt(4), slots = sequences + 3, c = m.channels();
        List<Plan> plans = PackedForwardGpuTest.randomPlans(m, r, sequences, slots, seed);
        Steps steps = Steps.of(plans, r);
        int total = steps.all().length();
        int longest = plans.stream().mapToInt(p -> p.seq().length()).max().orElse(0);
        int largestStep = IntStream.range(0, steps.count()).map(steps::tokens).max().orElse(0);
        int maxTokens = Math.max(1, Math.max(largestStep, longest));
        int[] sizes = IntStream.range(0, steps.count()).map(steps::tokens).sorted().toArray();
        int zeroCopyMax = Math.max(1, sizes[sizes.length / 2]); // AUTO: the smaller half of the steps go zero-copy
        String what = m + " " + path + " seed " + seed;
        System.out.printf("host-table packed chunks %s: %d sequences, chunks %s, first steps %s, step tokens %s%n", what,
                sequences, plans.stream().map(p -> Arrays.toString(p.chunks())).toList(),
                plans.stream().map(Plan::first).toList(), Arrays.toString(steps.start()));
        try (EngramLayer device = m.layer(maxTokens);
             HostTable table = pinnedTable(m);
             HostTableLayer host = hostLayer(m, table, path, maxTokens, zeroCopyMax);
             EngramState hostState = host.newState(slots);
             EngramState deviceState = device.newState(slots);
             CudaStream stream = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(total, DType.INT64);
             DeviceBuffer hidden = DeviceBuffer.allocate((long) total * c, m.dtype());
             DeviceBuffer outHost = DeviceBuffer.allocate((long) total * c, m.dtype());
             DeviceBuffer outDevice = DeviceBuffer.allocate((long) total * c, m.dtype())) {
            assertTrue(hostState.historyOnHost());
            assertFalse(deviceState.historyOnHost());
            if (total > 0) {
                ids.copyFrom(steps.all().ids());
                DeviceTensors.upload(hidden, steps.all().hidden());
                DeviceTensors.poison(outHost);
                DeviceTensors.poison(outDevice);
            }
            Set<HostGatherPath> routes = EnumSet.noneOf(HostGatherPath.class);
            Prefetch next = host.prefetch(steps.batches().get(0), steps.ids(0), hostState);
            for (int k = 0; k < steps.count(); k++) {
                Prefetch current = next;
                // Step k+1's rows are fetched (and the host history advanced) before step k's forward is queued.
                if (k + 1 < steps.count()) next = host.prefetch(steps.batches().get(k + 1), steps.ids(k + 1), hostState);
                assertEquals(host.pathFor(steps.tokens(k)), current.path(), what + " step " + k);
                routes.add(current.path());
                host.forward(current, steps.slice(hidden, k, c), steps.slice(outHost, k, c), hostState, stream);
                assertTrue(current.isConsumed());
            }
            for (int k = 0; k < steps.count(); k++) {
                device.forward(steps.batches().get(k), steps.slice(ids, k, 1), steps.slice(hidden, k, c),
                        steps.slice(outDevice, k, c), deviceState, stream);
            }
            stream.synchronize();
            assertEquals(path == HostGatherPath.AUTO ? (largestStep > zeroCopyMax
                    ? EnumSet.of(HostGatherPath.CPU, HostGatherPath.ZERO_COPY) : EnumSet.of(HostGatherPath.ZERO_COPY))
                    : EnumSet.of(path), routes, what + ": paths taken");
            double[] gotHost = DeviceTensors.download(outHost);
            assertBitsEqual(DeviceTensors.download(outDevice), gotHost, what + ": every step vs the device-table layer");
            for (int s = 0; s < sequences; s++) {
                Plan p = plans.get(s);
                String seq = what + " sequence " + s + " (T=" + p.seq().length() + ", chunks "
                        + Arrays.toString(p.chunks()) + ")";
                assertArrayEquals(expectedHistory(m, p.seq()), hostState.history(p.slot(), stream), seq + ": host history");
                assertArrayEquals(deviceState.history(p.slot(), stream), hostState.history(p.slot(), stream),
                        seq + ": host history vs the device-table state's");
                assertArrayEquals(deviceState.convInputs(p.slot(), stream), hostState.convInputs(p.slot(), stream),
                        seq + ": conv window vs the device-table state's");
                if (p.seq().length() == 0) continue;
                float[] chunked = new float[p.seq().length() * c];
                for (int k = 0; k < p.chunks().length; k++) {
                    int at = steps.where()[s][p.first() + k];
                    for (int i = 0; i < p.chunks()[k] * c; i++) chunked[p.offset(k) * c + i] = (float) gotHost[at * c + i];
                }
                assertGpuRunsAgree(chunked, device.forward(p.seq().ids(), p.seq().hidden(), 1, p.seq().length()), m,
                        seq + ": chunked host-table vs whole rectangular");
            }
        }
    }

    @Test
    void decodeLoopPrefetchedAheadEqualsTheDeviceTableLayerAndTheWholeSequence() {
        long seed = SEED + 100;
        for (DType dtype : DTYPES) {
            for (HostGatherPath path : HostGatherPath.values()) {
                seed += 10;
                checkDecode(Model.random(seed, dtype, true), path, seed);
            }
        }
    }

    private static void checkDecode(Model m, HostGatherPath path, long seed) {
        int[] slots = {5, 0, 2};
        int[] prefill = {7, 0, 1};
        int sequences = slots.length, steps = m.window() + 4, c = m.channels();
        String what = m + " " + path + " seed " + seed;
        Seq[] seqs = new Seq[sequences];
        for (int s = 0; s < sequences; s++) seqs[s] = m.sequence(prefill[s] + steps, seed + 10 + s);
        Seq prefix = new Seq(new long[0], new float[0]);
        for (int s = 0; s < sequences; s++) prefix = prefix.concat(seqs[s].range(0, prefill[s]));
        long[] stepIds = new long[steps * sequences];
        float[] stepHidden = new float[steps * sequences * c];
        for (int k = 0; k < steps; k++) {
            for (int s = 0; s < sequences; s++) {
                stepIds[k * sequences + s] = seqs[s].ids()[prefill[s] + k];
                System.arraycopy(seqs[s].hidden(), (prefill[s] + k) * c, stepHidden, (k * sequences + s) * c, c);
            }
        }
        int maxTokens = Math.max(prefix.length(), Arrays.stream(prefill).max().orElse(0) + steps);
        int p = prefix.length();
        try (EngramLayer device = m.layer(maxTokens);
             HostTable table = pinnedTable(m);
             // AUTO: the decode steps (3 tokens) go zero-copy, the prefill (8 tokens) through the CPU gather.
             HostTableLayer host = hostLayer(m, table, path, maxTokens, sequences);
             EngramState hostState = host.newState(6);
             EngramState deviceState = device.newState(6);
             CudaStream stream = CudaStream.create();
             DeviceBatch decode = DeviceBatch.create(sequences);
             DeviceBuffer prefillIds = DeviceBuffer.allocate(p, DType.INT64);
             DeviceBuffer prefillHidden = DeviceBuffer.allocate((long) p * c, m.dtype());
             DeviceBuffer prefillHost = DeviceBuffer.allocate((long) p * c, m.dtype());
             DeviceBuffer prefillDevice = DeviceBuffer.allocate((long) p * c, m.dtype());
             DeviceBuffer ids = DeviceBuffer.allocate(stepIds.length, DType.INT64);
             DeviceBuffer hidden = DeviceBuffer.allocate(stepHidden.length, m.dtype());
             DeviceBuffer outHost = DeviceBuffer.allocate(stepHidden.length, m.dtype());
             DeviceBuffer outDevice = DeviceBuffer.allocate(stepHidden.length, m.dtype())) {
            prefillIds.copyFrom(prefix.ids());
            DeviceTensors.upload(prefillHidden, prefix.hidden());
            ids.copyFrom(stepIds);
            DeviceTensors.upload(hidden, stepHidden);
            for (DeviceBuffer b : List.of(prefillHost, prefillDevice, outHost, outDevice)) DeviceTensors.poison(b);

            PackedBatch prefillBatch = PackedBatch.ofLengths(prefill, slots, new boolean[] {true, true, true});
            PackedBatch step = PackedBatch.decode(slots); // the same object every step
            Prefetch prefilled = host.prefetch(prefillBatch, prefix.ids(), hostState);
            Prefetch next = host.prefetch(step, Arrays.copyOfRange(stepIds, 0, sequences), hostState);
            host.forward(prefilled, prefillHidden, prefillHost, hostState, stream);
            long deviceSyncs = simulated() ? simCounter("simDeviceSynchronizeCount") : 0;
            long legacySyncs = simulated() ? simCounter("simLegacyStreamSyncCount") : 0;
            for (int k = 0; k < steps; k++) {
                Prefetch current = next;
                if (k + 1 < steps) {
                    next = host.prefetch(step, Arrays.copyOfRange(stepIds, (k + 1) * sequences, (k + 2) * sequences),
                            hostState);
                }
                assertEquals(host.pathFor(sequences), current.path(), what + " step " + k);
                host.forward(current, hidden.slice((long) k * sequences * c, (long) sequences * c),
                        outHost.slice((long) k * sequences * c, (long) sequences * c), hostState, stream);
            }
            if (simulated()) {
                assertEquals(deviceSyncs, simCounter("simDeviceSynchronizeCount"), what + ": decode steps synced the device");
                assertEquals(legacySyncs, simCounter("simLegacyStreamSyncCount"), what + ": decode steps used the legacy stream");
            }
            device.forward(prefillBatch, prefillIds, prefillHidden, prefillDevice, deviceState, stream);
            decode.set(step, stream);
            for (int k = 0; k < steps; k++) {
                device.forward(decode, ids.slice((long) k * sequences, sequences),
                        hidden.slice((long) k * sequences * c, (long) sequences * c),
                        outDevice.slice((long) k * sequences * c, (long) sequences * c), deviceState, stream);
            }
            stream.synchronize();
            double[] gotPrefill = DeviceTensors.download(prefillHost);
            double[] got = DeviceTensors.download(outHost);
            assertBitsEqual(DeviceTensors.download(prefillDevice), gotPrefill, what + ": prefill vs the device-table layer");
            assertBitsEqual(DeviceTensors.download(outDevice), got, what + ": decode steps vs the device-table layer");
            int at = 0;
            for (int s = 0; s < sequences; s++) {
                Seq full = seqs[s];
                float[] decoded = new float[full.length() * c];
                for (int i = 0; i < prefill[s] * c; i++) decoded[i] = (float) gotPrefill[at * c + i];
                at += prefill[s];
                for (int k = 0; k < steps; k++) {
                    for (int i = 0; i < c; i++) decoded[(prefill[s] + k) * c + i] = (float) got[(k * sequences + s) * c + i];
                }
                String seq = what + " sequence " + s + " (prefill " + prefill[s] + ", " + steps + " decode steps)";
                assertGpuRunsAgree(decoded, device.forward(full.ids(), full.hidden(), 1, full.length()), m,
                        seq + ": prefill + decode vs whole");
                assertArrayEquals(expectedHistory(m, full), hostState.history(slots[s], stream), seq + ": history");
                assertArrayEquals(deviceState.convInputs(slots[s], stream), hostState.convInputs(slots[s], stream),
                        seq + ": conv window vs the device-table state's");
            }
        }
    }

    /**
     * A decode step reuses the layer's host arrays: with room for 2^16 tokens and 2^14 sequences, a step of 4 tokens
     * allocates far less on the calling thread than one array of that size (512 KiB), on both paths. (Small objects,
     * e.g. slices and the handle, remain; the bound is printed.)
     */
    @Test
    void decodeStepsAllocateNoArraysOfTheLayersCapacity() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        Model m = Model.random(SEED + 900, DType.FLOAT32, true);
        int[] slots = {3, 1, 0, 2};
        int sequences = slots.length, c = m.channels(), steps = 200;
        for (HostGatherPath path : List.of(HostGatherPath.CPU, HostGatherPath.AUTO)) {
            try (HostTable table = pinnedTable(m);
                 HostTableLayer host = HostTableLayer.create(m.mapping(), m.layerId(), LayerWeights.of(m.weights().dense()),
                         table, HostTableLayer.Options.of(path, 1 << 16).withGatherThreads(1).withMaxSequences(1 << 14));
                 EngramState state = host.newState(sequences);
                 CudaStream stream = CudaStream.create();
                 DeviceBuffer hidden = DeviceBuffer.allocate((long) sequences * c, DType.FLOAT32);
                 DeviceBuffer out = DeviceBuffer.allocate((long) sequences * c, DType.FLOAT32)) {
                PackedBatch step = PackedBatch.decode(slots);
                long[][] ids = new long[steps][];
                for (int k = 0; k < steps; k++) ids[k] = m.sequence(sequences, SEED + 901 + k).ids();
                long before = 0;
                for (int k = 0; k < steps; k++) {
                    if (k == steps / 2) before = threads.getThreadAllocatedBytes(Thread.currentThread().threadId());
                    host.forward(host.prefetch(step, ids[k], state), hidden, out, state, stream);
                }
                long perStep = (threads.getThreadAllocatedBytes(Thread.currentThread().threadId()) - before) / (steps / 2);
                stream.synchronize();
                System.out.printf("host-table decode step of %d tokens, %s path %s: %d bytes allocated per step on the "
                        + "calling thread%n", sequences, path, host.pathFor(sequences), perStep);
                assertTrue(perStep < 64 * 1024, path + ": " + perStep + " bytes allocated per decode step");
            }
        }
    }

    // ---------------------------------------------------------------- fork, reset

    @Test
    void aForkedSlotContinuesLikeTheOriginalAndAResetSlotLikeAFreshStart() {
        for (DType dtype : DTYPES) {
            long seed = SEED + (dtype == DType.FLOAT32 ? 400 : 500);
            Model m = Model.random(seed, dtype, true);
            int c = m.channels(), w = m.window();
            Seq prefix = m.sequence(w + 2, seed + 1);
            Seq a = m.sequence(3, seed + 2), b = m.sequence(3, seed + 3);
            try (EngramLayer device = m.layer(64);
                 HostTable table = pinnedTable(m);
                 HostTableLayer host = hostLayer(m, table, HostGatherPath.AUTO, 64, 4);
                 EngramState hostState = host.newState(4);
                 EngramState deviceState = device.newState(4);
                 CudaStream stream = CudaStream.create()) {
                Pair pair = new Pair(m, host, hostState, device, deviceState, stream);
                pair.run(PackedBatch.ofLengths(new int[] {prefix.length()}, new int[] {0}, new boolean[] {true}), prefix);
                hostState.copy(0, 3, stream);
                hostState.copy(3, 3, stream); // no-op
                deviceState.copy(0, 3, stream);
                assertArrayEquals(hostState.history(0, stream), hostState.history(3, stream), dtype + ": forked history");
                assertArrayEquals(hostState.convInputs(0, stream), hostState.convInputs(3, stream), dtype + ": forked window");

                // Both continue in one call: the fork (slot 3) with b, then slot 0 with a.
                float[] out = pair.run(PackedBatch.ofLengths(new int[] {3, 3}, new int[] {3, 0},
                        new boolean[] {false, false}), b.concat(a));
                float[] wholeA = device.forward(prefix.concat(a).ids(), prefix.concat(a).hidden(), 1, prefix.length() + 3);
                float[] wholeB = device.forward(prefix.concat(b).ids(), prefix.concat(b).hidden(), 1, prefix.length() + 3);
                int tail = prefix.length() * c;
                assertGpuRunsAgree(Arrays.copyOfRange(out, 0, 3 * c), Arrays.copyOfRange(wholeB, tail, wholeB.length), m,
                        dtype + ": the fork continued with b");
                assertGpuRunsAgree(Arrays.copyOfRange(out, 3 * c, 6 * c), Arrays.copyOfRange(wholeA, tail, wholeA.length),
                        m, dtype + ": the original continued with a");

                // Reset slot 0, then continue it (starts = false): the same as starting a.
                hostState.reset(0, stream);
                deviceState.reset(0, stream);
                long[] pads = new long[m.config().maxNgramSize() - 1];
                Arrays.fill(pads, m.mapping().padIdCompressed());
                assertArrayEquals(pads, hostState.history(0, stream), dtype + ": reset history");
                assertArrayEquals(new float[w * c], hostState.convInputs(0, stream), dtype + ": reset window");
                float[] afterReset = pair.run(PackedBatch.ofLengths(new int[] {3}, new int[] {0}, new boolean[] {false}), a);
                assertGpuRunsAgree(afterReset, device.forward(a.ids(), a.hidden(), 1, 3), m, dtype + ": continued after reset");

                // An empty starting chunk resets a slot too; an empty continuing chunk leaves it as it was.
                long[] before = hostState.history(3, stream);
                float[] windowBefore = hostState.convInputs(3, stream);
                pair.run(PackedBatch.ofLengths(new int[] {0, 0}, new int[] {3, 0}, new boolean[] {false, true}),
                        new Seq(new long[0], new float[0]));
                assertArrayEquals(before, hostState.history(3, stream), dtype + ": empty continuing chunk");
                assertArrayEquals(windowBefore, hostState.convInputs(3, stream), dtype + ": empty continuing chunk");
                assertArrayEquals(pads, hostState.history(0, stream), dtype + ": empty starting chunk");
                assertArrayEquals(new float[w * c], hostState.convInputs(0, stream), dtype + ": empty starting chunk");

                // While a prefetch of the state is outstanding its history is already past it: no reset or copy.
                PackedBatch one = PackedBatch.ofLengths(new int[] {1}, new int[] {1}, new boolean[] {true});
                Prefetch pending = host.prefetch(one, new long[] {a.ids()[0]}, hostState);
                var reset = assertThrows(IllegalStateException.class, () -> hostState.reset(1, stream));
                assertTrue(reset.getMessage().contains("not consumed"), reset.getMessage());
                assertThrows(IllegalStateException.class, () -> hostState.copy(1, 2, stream));
                try (DeviceBuffer h = DeviceBuffer.allocate(c, m.dtype()); DeviceBuffer o = DeviceBuffer.allocate(c, m.dtype())) {
                    DeviceTensors.upload(h, Arrays.copyOf(a.hidden(), c));
                    host.forward(pending, h, o, hostState, stream);
                    hostState.reset(1, stream); // consumed: allowed again
                    stream.synchronize();
                }
                assertArrayEquals(pads, hostState.history(1, stream), dtype + ": reset after the forward");
            }
        }
    }

    /** A host-table layer and a device-table layer run the same packed calls; each call's outputs must be equal. */
    private record Pair(Model m, HostTableLayer host, EngramState hostState, EngramLayer device, EngramState deviceState,
                        CudaStream stream) {
        float[] run(PackedBatch batch, Seq in) {
            int n = in.length(), c = m.channels();
            try (DeviceBuffer ids = DeviceBuffer.allocate(n, DType.INT64);
                 DeviceBuffer hidden = DeviceBuffer.allocate((long) n * c, m.dtype());
                 DeviceBuffer outHost = DeviceBuffer.allocate((long) n * c, m.dtype());
                 DeviceBuffer outDevice = DeviceBuffer.allocate((long) n * c, m.dtype())) {
                if (n > 0) {
                    ids.copyFrom(in.ids());
                    DeviceTensors.upload(hidden, in.hidden());
                    DeviceTensors.poison(outHost);
                    DeviceTensors.poison(outDevice);
                }
                host.forward(host.prefetch(batch, in.ids(), hostState), hidden, outHost, hostState, stream);
                device.forward(batch, ids, hidden, outDevice, deviceState, stream);
                stream.synchronize();
                double[] got = DeviceTensors.download(outHost);
                assertBitsEqual(DeviceTensors.download(outDevice), got, m + " " + batch + ": host vs device table");
                float[] out = new float[got.length];
                for (int i = 0; i < got.length; i++) out[i] = (float) got[i];
                return out;
            }
        }
    }

    // ---------------------------------------------------------------- bad input, ordering

    @Test
    void badInputIsRejectedBeforeAnythingIsQueuedOrTheHistoryMoves() {
        Model m = Model.random(SEED + 700, DType.FLOAT32, true);
        int c = m.channels();
        Seq in = m.sequence(4, SEED + 701);
        PackedBatch batch = PackedBatch.ofLengths(new int[] {3, 1}, new int[] {2, 0}, new boolean[] {true, true});
        try (EngramLayer device = m.layer(16);
             HostTable table = pinnedTable(m);
             HostTableLayer host = hostLayer(m, table, HostGatherPath.AUTO, 16, 2);
             HostTableLayer other = hostLayer(m, table, HostGatherPath.CPU, 16, 0);
             HostTableLayer fewSequences = HostTableLayer.create(m.mapping(), m.layerId(),
                     LayerWeights.of(m.weights().dense()), table,
                     HostTableLayer.Options.of(HostGatherPath.CPU, 16).withGatherThreads(1).withMaxSequences(1));
             EngramState state = host.newState(3);
             EngramState fewState = fewSequences.newState(3);
             EngramState otherState = other.newState(3);
             EngramState deviceState = device.newState(3);
             EngramState closed = host.newState(3);
             CudaStream stream = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(4, DType.INT64);
             DeviceBuffer hidden = DeviceBuffer.allocate(4L * c, DType.FLOAT32);
             DeviceBuffer out = DeviceBuffer.allocate(4L * c, DType.FLOAT32);
             DeviceBuffer shortOut = DeviceBuffer.allocate(3L * c, DType.FLOAT32);
             DeviceBuffer wrongDtype = DeviceBuffer.allocate(4L * c, DType.BFLOAT16)) {
            ids.copyFrom(in.ids());
            hidden.copyFrom(in.hidden());
            closed.close();
            long[] pads = new long[m.config().maxNgramSize() - 1];
            Arrays.fill(pads, m.mapping().padIdCompressed());
            long[] tooLarge = in.ids().clone();
            tooLarge[1] = m.mapping().compressionTable().size();

            var foreign = assertThrows(IllegalArgumentException.class, () -> host.prefetch(batch, in.ids(), otherState));
            assertTrue(foreign.getMessage().contains("another layer"), foreign.getMessage());
            var deviceTable = assertThrows(IllegalArgumentException.class, () -> host.prefetch(batch, in.ids(), deviceState));
            assertTrue(deviceTable.getMessage().contains("another layer"), deviceTable.getMessage());
            var hostToDevice = assertThrows(IllegalArgumentException.class,
                    () -> device.forward(batch, ids, hidden, out, state, stream));
            assertTrue(hostToDevice.getMessage().contains("another layer"), hostToDevice.getMessage());
            assertThrows(IllegalStateException.class, () -> host.prefetch(batch, in.ids(), closed));
            var slot = assertThrows(IllegalArgumentException.class, () -> host.prefetch(
                    PackedBatch.ofLengths(new int[] {3, 1}, new int[] {3, 0}, new boolean[] {true, false}), in.ids(), state));
            assertTrue(slot.getMessage().contains("out of range"), slot.getMessage());
            var length = assertThrows(IllegalArgumentException.class,
                    () -> host.prefetch(batch, Arrays.copyOf(in.ids(), 5), state));
            assertTrue(length.getMessage().contains("rawIds has 5"), length.getMessage());
            assertThrows(IllegalArgumentException.class, () -> host.prefetch(
                    PackedBatch.ofLengths(new int[] {17}, new int[] {0}, new boolean[] {true}), new long[17], state));
            var sequences = assertThrows(IllegalArgumentException.class,
                    () -> fewSequences.prefetch(batch, in.ids(), fewState));
            assertTrue(sequences.getMessage().contains("maxSequences"), sequences.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> host.prefetch(batch, tooLarge, state));
            assertThrows(NullPointerException.class, () -> host.prefetch(batch, null, state));
            for (int s = 0; s < 3; s++) assertArrayEquals(pads, state.history(s, stream), "history moved by bad input");
            assertEquals(0, state.hostPrefetches, "a rejected prefetch counted");

            // A good prefetch, then forwards with bad arguments: rejected, the handle still usable.
            Prefetch first = host.prefetch(batch, in.ids(), state);
            Prefetch second = host.prefetch(PackedBatch.ofLengths(new int[] {1}, new int[] {2}, new boolean[] {false}),
                    new long[] {in.ids()[0]}, state);
            var full = assertThrows(IllegalStateException.class, () -> host.prefetch(batch, in.ids(), state));
            assertTrue(full.getMessage().contains("forward it first"), full.getMessage());
            var order = assertThrows(IllegalStateException.class, () -> host.forward(second, hidden.slice(0, c),
                    out.slice(0, c), state, stream));
            assertTrue(order.getMessage().contains("order"), order.getMessage());
            assertThrows(IllegalArgumentException.class, () -> host.forward(first, hidden, shortOut, state, stream));
            assertThrows(IllegalArgumentException.class, () -> host.forward(first, hidden, wrongDtype, state, stream));
            assertThrows(IllegalArgumentException.class, () -> host.forward(first, hidden, out, otherState, stream));
            var rectangular = assertThrows(IllegalArgumentException.class, () -> host.forward(first, hidden, out, stream));
            assertTrue(rectangular.getMessage().contains("packed"), rectangular.getMessage());
            assertThrows(IllegalStateException.class, () -> other.forward(first, hidden, out, otherState, stream));
            assertFalse(first.isConsumed());

            DeviceTensors.poison(out);
            host.forward(first, hidden, out, state, stream);
            var twice = assertThrows(IllegalStateException.class, () -> host.forward(first, hidden, out, state, stream));
            assertTrue(twice.getMessage().contains("already used"), twice.getMessage());
            try (DeviceBuffer o = DeviceBuffer.allocate(c, DType.FLOAT32)) {
                host.forward(second, hidden.slice(0, c), o, state, stream);
                stream.synchronize();
            }
            try (EngramState expected = device.newState(3); DeviceBuffer o = DeviceBuffer.allocate(4L * c, DType.FLOAT32)) {
                device.forward(batch, ids, hidden, o, expected, stream);
                stream.synchronize();
                assertBitsEqual(DeviceTensors.download(o), DeviceTensors.download(out), "after the rejected calls");
            }

            // A rectangular prefetch is not a packed one.
            Prefetch rect = host.prefetch(in.ids(), 1, 4);
            var packedForRect = assertThrows(IllegalArgumentException.class,
                    () -> host.forward(rect, hidden, out, state, stream));
            assertTrue(packedForRect.getMessage().contains("rectangular"), packedForRect.getMessage());
            host.forward(rect, hidden, out, stream);
            stream.synchronize();

            // Unconsumed packed prefetches block their staging slots until forwarded, or until their state is closed.
            try (EngramState abandoned = host.newState(3)) {
                host.prefetch(batch, in.ids(), abandoned);
                host.prefetch(batch, in.ids(), abandoned);
                assertThrows(IllegalStateException.class, () -> host.prefetch(batch, in.ids(), state));
            }
            host.forward(host.prefetch(batch, in.ids(), state), hidden, out, state, stream);
            stream.synchronize();
            assertArrayEquals(expectedHistory(m, in.range(0, 3)), state.history(2, stream), "after the abandoned prefetches");
        }
    }

    // ---------------------------------------------------------------- AUTO

    @Test
    void autoChoosesZeroCopyForFewTokensAndFallsBackToCpuForATableThatIsNotMapped() {
        Model m = Model.random(SEED + 800, DType.FLOAT32, true);
        try (HostTable pinned = pinnedTable(m);
             HostTable plain = EmbeddingTables.fromWeights(m.weights(), DType.FLOAT32, HostMemory.plain(), 2);
             HostTableLayer mapped = hostLayer(m, pinned, HostGatherPath.AUTO, 32, 5);
             HostTableLayer unmapped = hostLayer(m, plain, HostGatherPath.AUTO, 32, 5);
             HostTableLayer never = hostLayer(m, pinned, HostGatherPath.AUTO, 32, 0);
             HostTableLayer byDefault = HostTableLayer.create(m.mapping(), m.layerId(), LayerWeights.of(m.weights().dense()),
                     pinned, HostGatherPath.AUTO, 128, 1)) {
            assertEquals(HostGatherPath.AUTO, mapped.path());
            assertEquals(HostGatherPath.ZERO_COPY, mapped.pathFor(1));
            assertEquals(HostGatherPath.ZERO_COPY, mapped.pathFor(5));
            assertEquals(HostGatherPath.CPU, mapped.pathFor(6));
            assertEquals(HostGatherPath.CPU, unmapped.pathFor(1));
            assertEquals(HostGatherPath.CPU, never.pathFor(1));
            assertEquals(HostGatherPath.ZERO_COPY, byDefault.pathFor(HostGatherPath.autoZeroCopyMaxTokens()));
            assertEquals(HostGatherPath.CPU, byDefault.pathFor(HostGatherPath.autoZeroCopyMaxTokens() + 1));
            assertEquals(HostGatherPath.ZERO_COPY, byDefault.pathFor(HostGatherPath.autoZeroCopyMinTokens()));
            assertEquals(HostGatherPath.CPU, byDefault.pathFor(HostGatherPath.autoZeroCopyMinTokens() - 1));
            try (HostTableLayer window = HostTableLayer.create(m.mapping(), m.layerId(), LayerWeights.of(m.weights().dense()),
                    pinned, HostTableLayer.Options.of(HostGatherPath.AUTO, 32).withGatherThreads(1)
                            .withZeroCopyMinTokens(3).withZeroCopyMaxTokens(5));
                 HostTableLayer empty = HostTableLayer.create(m.mapping(), m.layerId(), LayerWeights.of(m.weights().dense()),
                    pinned, HostTableLayer.Options.of(HostGatherPath.AUTO, 32).withGatherThreads(1)
                            .withZeroCopyMinTokens(9).withZeroCopyMaxTokens(5))) {
                assertEquals(List.of(HostGatherPath.CPU, HostGatherPath.ZERO_COPY, HostGatherPath.ZERO_COPY, HostGatherPath.CPU),
                        List.of(window.pathFor(2), window.pathFor(3), window.pathFor(5), window.pathFor(6)));
                for (int tokens = 1; tokens <= 32; tokens++) assertEquals(HostGatherPath.CPU, empty.pathFor(tokens));
            }
            var e = assertThrows(IllegalArgumentException.class,
                    () -> hostLayer(m, plain, HostGatherPath.ZERO_COPY, 32, 5));
            assertTrue(e.getMessage().contains("pinned, mapped host memory"), e.getMessage());
        }
        // The unmapped AUTO layer computes the same as the mapped one (both checked against the device table above).
        try (EngramLayer device = m.layer(32);
             HostTable plain = EmbeddingTables.fromWeights(m.weights(), DType.FLOAT32, HostMemory.plain(), 2);
             HostTableLayer unmapped = hostLayer(m, plain, HostGatherPath.AUTO, 32, 5);
             EngramState hostState = unmapped.newState(2);
             EngramState deviceState = device.newState(2);
             CudaStream stream = CudaStream.create()) {
            Pair pair = new Pair(m, unmapped, hostState, device, deviceState, stream);
            Seq s = m.sequence(6, SEED + 801);
            pair.run(PackedBatch.ofLengths(new int[] {4, 2}, new int[] {1, 0}, new boolean[] {true, true}), s);
            pair.run(PackedBatch.decode(new int[] {0, 1}), s.range(0, 2));
        }
    }

    /** Bit for bit, no NaN (outputs are NaN-poisoned before the forwards). */
    static void assertBitsEqual(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Double.isNaN(actual[i]) || Double.doubleToRawLongBits(expected[i]) != Double.doubleToRawLongBits(actual[i])) {
                throw new AssertionError(what + ": element " + i + " host-table " + actual[i] + " != device-table "
                        + expected[i]);
            }
        }
    }
}
