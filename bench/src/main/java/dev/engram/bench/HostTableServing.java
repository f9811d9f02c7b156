package dev.engram.bench;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.bench.ServingBench.CheckRun;
import dev.engram.bench.ServingBench.Options;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.EngramLayer;
import dev.engram.gpu.EngramState;
import dev.engram.gpu.HostGatherPath;
import dev.engram.gpu.HostTableLayer;
import dev.engram.gpu.LayerWeights;
import dev.engram.gpu.ParameterTensor;
import dev.engram.gpu.Prefetch;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.PinnedHostMemory;
import dev.engram.table.RandomRows;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static dev.engram.bench.ServingBench.CHECK_LENGTHS;
import static dev.engram.bench.ServingBench.CHECK_PREFIX;
import static dev.engram.bench.ServingBench.CHECK_SLOTS;
import static dev.engram.bench.ServingBench.dtypeName;
import static dev.engram.bench.ServingBench.fillHidden;
import static dev.engram.bench.Stats.median;
import static dev.engram.bench.Stats.min;
import static dev.engram.bench.ServingBench.pickSlots;
import static dev.engram.bench.ServingBench.read;
import static dev.engram.bench.ServingBench.write;

/**
 * {@link ServingBench} with {@code --table host}: one {@link HostTableLayer} per path ({@code CPU}, then
 * {@code ZERO_COPY}), its table of {@code --host-table-gib} GiB in pinned, mapped host memory (huge-page mmap +
 * {@code cudaHostRegister}, as {@link HostTableBench} makes it; the reference default's head layout, rows per head
 * sized to the GiB), filled with random rows. For each path:
 * <ul>
 * <li><b>check</b>: the device-table check's sequences, the prefix prefilled packed, then decoded token by token with
 *     step {@code t+1} prefetched before step {@code t}'s forward, against each sequence's whole-sequence forward
 *     of a device-table {@link EngramLayer} made from the same host table and dense weights (within the same
 *     tolerance as the device-table check).</li>
 * <li><b>lookup</b> ({@code "bench": "lookup"}): for each {@code S}, a 1-token-per-sequence step's
 *     {@code prefetch(PackedBatch, long[], EngramState)} alone, nothing else in flight: the host time until it returns,
 *     and until its rows are on the device (host clock, after {@code prefetch.ready().synchronize()}: the layer's
 *     ready event has no timing). Median and minimum of {@code --blocks x --steps} lookups, beside issue 12's target
 *     for a 1-token step ({@value #LOOKUP_TARGET_US} µs; printed, not asserted).</li>
 * <li><b>decode</b>: the whole step, pipelined as a server would run it (step {@code k+1}'s prefetch issued before
 *     step {@code k}'s forward): blocks of {@code --steps} steps from idle streams until the compute stream has
 *     finished, on the host clock (the CPU path gathers on the calling thread, so the host is part of the step),
 *     µs per step, median and minimum of {@code --blocks}; beside it the CUDA events around the block on the compute
 *     stream, and the host's time per step (prefetch + queueing the forward).</li>
 * <li><b>prefill</b>: the {@code --prefill} packed batch, prefetched and forwarded; host clock until the compute
 *     stream has finished, median of {@code --reps}, tokens/s; and the lookup alone (prefetch until its rows are on
 *     the device).</li>
 * </ul>
 */
final class HostTableServing {
    /** Issue 12's target for the lookup of a 1-token decode step, µs. */
    static final double LOOKUP_TARGET_US = 10.0;
    private static final List<HostGatherPath> PATHS = List.of(HostGatherPath.CPU, HostGatherPath.ZERO_COPY);

    private HostTableServing() {}

    /** A path's layer, its state, and what every measurement shares. */
    private record Rig(HostTableLayer layer, EngramState state, int slots, CudaStream stream, CudaEvent start,
                       CudaEvent end, DeviceBuffer hidden, DeviceBuffer out, int row, String device, Options o,
                       HostGatherPath path) {}

    /**
     * Builds the table, checks and measures each path; {@return how many checks or measurements failed}
     *
     * @param o      the options
     * @param device the current device, in words
     */
    static int run(Options o, String device) {
        EngramConfig config = sizedConfig(o);
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        int[] lengths = PrefillLengths.draw(o.prefillCount(), o.prefillMin(), o.prefillMax(), o.seed());
        int prefillTokens = Math.toIntExact(Arrays.stream(lengths).asLongStream().sum());
        int checkTokens = Arrays.stream(CHECK_LENGTHS).sum();
        int maxTokens = Math.max(Math.max(prefillTokens, o.maxSequences()), checkTokens);
        int slots = Math.max(Math.max(o.maxSequences(), o.prefillCount()), 8);
        int row = config.hcMult() * config.hiddenSize();
        int threads = Runtime.getRuntime().availableProcessors();
        DenseWeights dense = RandomWeights.createDense(config, 1, 0.0);

        long t0 = System.nanoTime();
        HostMemory memory = PinnedHostMemory.registered(HostMemory.anonymousMapping(true));
        int failures = 0;
        try (HostTable table = HostTable.allocate(mapping.layer(o.layerId()).totalRows(), config.headDim(), o.dtype(), memory);
             CudaStream stream = CudaStream.create();
             CudaEvent start = CudaEvent.create();
             CudaEvent end = CudaEvent.create();
             DeviceBuffer hidden = DeviceBuffer.allocate((long) maxTokens * row, o.dtype());
             DeviceBuffer out = DeviceBuffer.allocate((long) maxTokens * row, o.dtype())) {
            RandomRows.fill(table, 7, 1.0, threads);
            fillHidden(hidden, o.dtype(), 3);
            System.out.printf(Locale.ROOT, "ServingBench: %s, %s, layer %d, host table %,d rows x %d = %.3f GiB pinned and"
                            + " mapped, %d state slots, %d gather threads, setup %.1f s%n", device, dtypeName(o.dtype()),
                    o.layerId(), table.rows(), table.rowElements(), table.byteSize() / (double) (1L << 30), slots, threads,
                    (System.nanoTime() - t0) / 1e9);
            float[][] whole = null;
            if (o.check()) {
                try {
                    whole = wholeSequences(mapping, o, dense, table, stream, row);
                } catch (RuntimeException e) {
                    failures += error(device, o, null, "check", CHECK_LENGTHS.length, "device-table reference: ", e);
                }
            }
            float[][] ref = whole;
            for (HostGatherPath path : PATHS) {
                HostTableLayer.Options options = HostTableLayer.Options.of(path, maxTokens).withMaxSequences(slots);
                HostTableLayer layer;
                try {
                    layer = HostTableLayer.create(mapping, o.layerId(), LayerWeights.of(dense), table, options);
                } catch (RuntimeException e) {
                    failures += error(device, o, path, "decode", 0, "layer: ", e);
                    continue;
                }
                try (HostTableLayer l = layer; EngramState state = l.newState(slots)) {
                    Rig r = new Rig(l, state, slots, stream, start, end, hidden, out, row, device, o, path);
                    failures += guarded(r, "check", CHECK_LENGTHS.length, () -> ref == null ? 0 : check(r, ref));
                    for (int s : o.sequences()) {
                        failures += guarded(r, "decode", s, () -> decode(r, s));
                    }
                    if (o.prefillCount() > 0) failures += guarded(r, "prefill", o.prefillCount(), () -> prefill(r, lengths));
                }
            }
        }
        return failures;
    }

    /**
     * The reference default config with the same head layout, each head's rows sized so the table is about
     * {@code --host-table-gib} GiB (at least 1000 rows a head), {@code --layer} its one layer.
     */
    private static EngramConfig sizedConfig(Options o) {
        EngramConfig base = EngramConfig.referenceDefault();
        long rowBytes = (long) base.headDim() * o.dtype().byteSize();
        long perHead = Math.max(1000, (long) (o.hostTableGib() * (1L << 30) / base.headsPerLayer() / rowBytes));
        return new EngramConfig(Collections.nCopies(base.maxNgramSize() - 1, perHead), base.maxNgramSize(), base.nEmbedPerNgram(), base.nHeadPerNgram(),
                List.of(o.layerId()), base.padId(), base.seed(), base.kernelSize(), base.hiddenSize(), base.hcMult(),
                OptionalLong.of(o.vocab()), base.gateNormEps(), base.convNormEps());
    }

    @FunctionalInterface
    private interface Measure {
        int run();
    }

    /** A measurement whose exception still ends as a JSON line. */
    private static int guarded(Rig r, String bench, int sequences, Measure m) {
        try {
            return m.run();
        } catch (RuntimeException e) {
            return error(r.device(), r.o(), r.path(), bench, sequences, "", e);
        }
    }

    // ---- check -----------------------------------------------------------------------------------------------

    /** The check's inputs, drawn as the device-table check draws them. */
    private record CheckInputs(long[][] ids, float[][] hidden) {
        static CheckInputs draw(Options o, int row) {
            SplittableRandom rnd = new SplittableRandom(7);
            int seqs = CHECK_LENGTHS.length;
            long[][] ids = new long[seqs][];
            float[][] hid = new float[seqs][];
            for (int i = 0; i < seqs; i++) {
                ids[i] = rnd.longs(CHECK_LENGTHS[i], 0, o.vocab()).toArray();
                hid[i] = new float[CHECK_LENGTHS[i] * row];
                for (int j = 0; j < hid[i].length; j++) hid[i][j] = (float) rnd.nextDouble(-1.7320508, 1.7320508);
            }
            return new CheckInputs(ids, hid);
        }
    }

    /** Each check sequence whole, as a rectangular [1, L] forward of a device-table layer with the same rows. */
    private static float[][] wholeSequences(NgramHashMapping mapping, Options o, DenseWeights d, HostTable table,
                                            CudaStream stream, int row) {
        CheckInputs in = CheckInputs.draw(o, row);
        LayerWeights weights = LayerWeights.builder().table(ParameterTensor.ofHost(table.segment(), table.dtype()))
                .keyWeight(ParameterTensor.of(d.keyWeight())).keyBias(ParameterTensor.of(d.keyBias()))
                .valueWeight(ParameterTensor.of(d.valueWeight())).valueBias(ParameterTensor.of(d.valueBias()))
                .keyNormWeight(ParameterTensor.of(d.keyNormWeight()))
                .queryNormWeight(ParameterTensor.of(d.queryNormWeight()))
                .convNormWeight(ParameterTensor.of(d.convNormWeight())).convWeight(ParameterTensor.of(d.convWeight()))
                .build();
        int longest = Arrays.stream(CHECK_LENGTHS).max().orElse(1);
        float[][] ref = new float[CHECK_LENGTHS.length][];
        try (EngramLayer layer = EngramLayer.create(mapping, o.layerId(), weights,
                EngramLayer.Options.of(longest).withDtype(o.dtype()));
             DeviceBuffer ids = DeviceBuffer.allocate(longest, DType.INT64);
             DeviceBuffer hid = DeviceBuffer.allocate((long) longest * row, o.dtype());
             DeviceBuffer out = DeviceBuffer.allocate((long) longest * row, o.dtype())) {
            for (int i = 0; i < ref.length; i++) {
                int len = CHECK_LENGTHS[i];
                DeviceArray ri = ids.slice(0, len), rh = hid.slice(0, (long) len * row), ro = out.slice(0, (long) len * row);
                ri.copyFrom(in.ids()[i]);
                write(rh, in.hidden()[i], o.dtype());
                layer.forward(ri, 1, len, rh, ro, stream);
                ref[i] = read(ro, o.dtype());
            }
        }
        return ref;
    }

    /** The prefix prefilled packed, then the rest decoded with each step prefetched before the previous forward. */
    private static int check(Rig r, float[][] ref) {
        Options o = r.o();
        int row = r.row(), seqs = CHECK_LENGTHS.length, steps = CHECK_LENGTHS[0] - CHECK_PREFIX[0];
        CheckInputs in = CheckInputs.draw(o, row);
        PackedBatch prefix = PackedBatch.ofLengths(CHECK_PREFIX, CHECK_SLOTS, new boolean[] {true, true, true, true});
        PackedBatch step = PackedBatch.decode(CHECK_SLOTS);
        int p = prefix.tokens();
        long[] pIds = new long[p];
        float[] pHid = new float[p * row];
        long[][] stepIds = new long[steps][seqs];
        float[] stepHid = new float[steps * seqs * row];
        for (int i = 0, at = 0; i < seqs; at += CHECK_PREFIX[i++]) {
            System.arraycopy(in.ids()[i], 0, pIds, at, CHECK_PREFIX[i]);
            System.arraycopy(in.hidden()[i], 0, pHid, at * row, CHECK_PREFIX[i] * row);
            for (int t = 0; t < steps; t++) {
                stepIds[t][i] = in.ids()[i][CHECK_PREFIX[i] + t];
                System.arraycopy(in.hidden()[i], (CHECK_PREFIX[i] + t) * row, stepHid, (t * seqs + i) * row, row);
            }
        }
        long stepElements = (long) seqs * row;
        try (DeviceBuffer ph = DeviceBuffer.allocate((long) p * row, o.dtype());
             DeviceBuffer po = DeviceBuffer.allocate((long) p * row, o.dtype());
             DeviceBuffer sh = DeviceBuffer.allocate(steps * stepElements, o.dtype());
             DeviceBuffer so = DeviceBuffer.allocate(steps * stepElements, o.dtype())) {
            write(ph, pHid, o.dtype());
            write(sh, stepHid, o.dtype());
            r.layer().forward(r.layer().prefetch(prefix, pIds, r.state()), ph, po, r.state(), r.stream());
            Prefetch next = r.layer().prefetch(step, stepIds[0], r.state());
            for (int t = 0; t < steps; t++) {
                Prefetch current = next;
                if (t + 1 < steps) next = r.layer().prefetch(step, stepIds[t + 1], r.state());
                r.layer().forward(current, sh.slice(t * stepElements, stepElements), so.slice(t * stepElements, stepElements),
                        r.state(), r.stream());
            }
            r.stream().synchronize();
            float[] prefixOut = read(po, o.dtype()), all = read(so, o.dtype());
            float[][] dec = new float[steps][];
            for (int t = 0; t < steps; t++) {
                dec[t] = Arrays.copyOfRange(all, (int) (t * stepElements), (int) ((t + 1) * stepElements));
            }
            Map<String, Object> json = head(r.device(), o, r.path(), "check");
            json.put("lengths", CHECK_LENGTHS);
            json.put("prefix", CHECK_PREFIX);
            json.put("pipelined", true);
            boolean ok = CheckRun.putComparison(json, row, ref, prefixOut, dec, o.dtype());
            System.out.println(JsonLine.of(json));
            return ok ? 0 : 1;
        }
    }

    // ---- decode: the lookup alone, then the pipelined step ----------------------------------------------------

    private static int decode(Rig r, int s) {
        Options o = r.o();
        int[] slots = pickSlots(r.slots(), s, 100 + s);
        PackedBatch step = PackedBatch.decode(slots);
        DeviceArray hidden = r.hidden().slice(0, (long) s * r.row()), out = r.out().slice(0, (long) s * r.row());
        long[][] pool = new long[o.idSets()][];
        SplittableRandom rnd = new SplittableRandom(200 + s);
        for (int k = 0; k < pool.length; k++) pool[k] = rnd.longs(s, 0, o.vocab()).toArray();
        // Every slot a fresh sequence: one starting token each.
        int[] ones = new int[s];
        boolean[] starts = new boolean[s];
        Arrays.fill(ones, 1);
        Arrays.fill(starts, true);
        PackedBatch first = PackedBatch.ofLengths(ones, slots, starts);
        r.layer().forward(r.layer().prefetch(first, pool[0], r.state()), hidden, out, r.state(), r.stream());

        int failures = guarded(r, "lookup", s, () -> lookup(r, s, step, pool, hidden, out));
        failures += guarded(r, "decode", s, () -> pipelined(r, s, step, pool, hidden, out));
        return failures;
    }

    /** One step's prefetch alone, nothing else in flight: until it returns, and until its rows are on the device. */
    private static int lookup(Rig r, int s, PackedBatch step, long[][] pool, DeviceArray hidden, DeviceArray out) {
        Options o = r.o();
        long warmEnd = System.nanoTime() + o.warmupNanos();
        for (int w = 0; w < o.warmup() || System.nanoTime() < warmEnd; w++) {
            r.layer().forward(r.layer().prefetch(step, pool[w % pool.length], r.state()), hidden, out, r.state(), r.stream());
            if (w % 64 == 63) r.stream().synchronize();
        }
        int n = o.blocks() * o.steps();
        double[] hostUs = new double[n], readyUs = new double[n];
        for (int i = 0; i < n; i++) {
            r.stream().synchronize(); // the previous forward (and with it the side stream's work) is done
            long t0 = System.nanoTime();
            Prefetch p = r.layer().prefetch(step, pool[i % pool.length], r.state());
            long t1 = System.nanoTime();
            p.ready().synchronize();
            long t2 = System.nanoTime();
            hostUs[i] = (t1 - t0) / 1e3;
            readyUs[i] = (t2 - t0) / 1e3;
            r.layer().forward(p, hidden, out, r.state(), r.stream()); // untimed: consumes the handle
        }
        r.stream().synchronize();
        double med = median(readyUs);
        String verdict = s == 1 ? String.format(Locale.ROOT, " (issue 12's target for a 1-token step: <= %.0f us, %s)",
                LOOKUP_TARGET_US, med <= LOOKUP_TARGET_US ? "met" : "NOT met") : "";
        System.out.printf(Locale.ROOT, "lookup S=%d, host table, %s: %.2f us until the rows are on the device (min %.2f),"
                        + " prefetch() returns after %.2f us%s%n", s, r.path(), med, min(readyUs), median(hostUs), verdict);
        Map<String, Object> json = head(r.device(), o, r.path(), "lookup");
        json.put("sequences", s);
        json.put("tokens", s);
        json.put("slots", r.slots());
        json.put("lookup_us", med);
        json.put("lookup_us_min", min(readyUs));
        json.put("prefetch_host_us", median(hostUs));
        json.put("prefetch_host_us_min", min(hostUs));
        json.put("target_lookup_us", LOOKUP_TARGET_US);
        json.put("clock", "host, until prefetch.ready() completes");
        json.put("samples", n);
        System.out.println(JsonLine.of(json));
        return 0;
    }

    /** The whole step, step k+1's prefetch issued before step k's forward; CUDA events around blocks. */
    private static int pipelined(Rig r, int s, PackedBatch step, long[][] pool, DeviceArray hidden, DeviceArray out) {
        Options o = r.o();
        long warmEnd = System.nanoTime() + o.warmupNanos();
        int warm = 0;
        while (warm < o.warmup() || System.nanoTime() < warmEnd) {
            warm += Math.max(1, Math.min(o.steps(), 64));
            block(r, step, pool, hidden, out, Math.max(1, Math.min(o.steps(), 64)));
        }
        r.stream().synchronize();
        double[] us = new double[o.blocks()], eventUs = new double[o.blocks()], hostUs = new double[o.blocks()];
        for (int b = 0; b < o.blocks(); b++) {
            r.stream().synchronize();
            long h0 = System.nanoTime();
            r.start().record(r.stream());
            block(r, step, pool, hidden, out, o.steps());
            hostUs[b] = (System.nanoTime() - h0) / 1e3 / o.steps();
            r.end().record(r.stream());
            r.end().synchronize();
            us[b] = (System.nanoTime() - h0) / 1e3 / o.steps();
            eventUs[b] = CudaEvent.elapsedMillis(r.start(), r.end()) * 1e3 / o.steps();
        }
        double med = median(us);
        System.out.printf(Locale.ROOT, "decode S=%d, host table, %s, pipelined: %.2f us per step (min %.2f; CUDA events"
                + " %.2f), host %.2f us per step%n", s, r.path(), med, min(us), median(eventUs), median(hostUs));
        Map<String, Object> json = head(r.device(), o, r.path(), "decode");
        json.put("sequences", s);
        json.put("tokens", s);
        json.put("slots", r.slots());
        json.put("pipelined", true);
        json.put("step_us", med);
        json.put("step_us_min", min(us));
        json.put("step_us_events", median(eventUs));
        json.put("host_enqueue_us", median(hostUs));
        json.put("clock", "host, from idle streams until the compute stream finished the block");
        json.put("steps", o.steps());
        json.put("blocks", o.blocks());
        System.out.println(JsonLine.of(json));
        return 0;
    }

    /** {@code steps} decode steps, each prefetched before the previous one's forward is queued. */
    private static void block(Rig r, PackedBatch step, long[][] pool, DeviceArray hidden, DeviceArray out, int steps) {
        Prefetch next = r.layer().prefetch(step, pool[0], r.state());
        for (int i = 0; i < steps; i++) {
            Prefetch current = next;
            if (i + 1 < steps) next = r.layer().prefetch(step, pool[(i + 1) % pool.length], r.state());
            r.layer().forward(current, hidden, out, r.state(), r.stream());
        }
    }

    // ---- prefill ---------------------------------------------------------------------------------------------

    private static int prefill(Rig r, int[] lengths) {
        Options o = r.o();
        int[] slots = new int[lengths.length];
        boolean[] starts = new boolean[lengths.length];
        for (int i = 0; i < slots.length; i++) slots[i] = i;
        Arrays.fill(starts, true);
        PackedBatch batch = PackedBatch.ofLengths(lengths, slots, starts);
        int n = batch.tokens();
        long[] ids = new SplittableRandom(o.seed()).longs(n, 0, o.vocab()).toArray();
        DeviceArray hidden = r.hidden().slice(0, (long) n * r.row()), out = r.out().slice(0, (long) n * r.row());
        for (int w = 0; w < o.prefillWarmup(); w++) {
            r.layer().forward(r.layer().prefetch(batch, ids, r.state()), hidden, out, r.state(), r.stream());
        }
        r.stream().synchronize();
        double[] ms = new double[o.reps()], lookupMs = new double[o.reps()];
        for (int i = 0; i < ms.length; i++) {
            long t0 = System.nanoTime();
            r.layer().forward(r.layer().prefetch(batch, ids, r.state()), hidden, out, r.state(), r.stream());
            r.stream().synchronize();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        for (int i = 0; i < lookupMs.length; i++) {
            long t0 = System.nanoTime();
            Prefetch p = r.layer().prefetch(batch, ids, r.state());
            p.ready().synchronize();
            lookupMs[i] = (System.nanoTime() - t0) / 1e6;
            r.layer().forward(p, hidden, out, r.state(), r.stream());
            r.stream().synchronize();
        }
        double med = median(ms);
        double tps = n / (med * 1e-3);
        System.out.printf(Locale.ROOT, "prefill %d sequences, %,d tokens, host table, %s: %.3f ms (min %.3f), %,.0f tokens/s;"
                + " the lookup alone %.3f ms%n", batch.sequences(), n, r.path(), med, min(ms), tps, median(lookupMs));
        Map<String, Object> json = head(r.device(), o, r.path(), "prefill");
        json.put("layout", "packed");
        json.put("sequences", batch.sequences());
        json.put("tokens", n);
        json.put("min_len", o.prefillMin());
        json.put("max_len", o.prefillMax());
        json.put("seed", o.seed());
        json.put("total_ms", med);
        json.put("total_ms_min", min(ms));
        json.put("tokens_per_s", tps);
        json.put("lookup_ms", median(lookupMs));
        json.put("clock", "host, until the compute stream finished");
        json.put("reps", o.reps());
        System.out.println(JsonLine.of(json));
        return 0;
    }

    // ---- output ----------------------------------------------------------------------------------------------

    private static Map<String, Object> head(String device, Options o, HostGatherPath path, String bench) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("impl", "engram-jvm");
        json.put("bench", bench);
        json.put("api", "HostTableLayer");
        json.put("graph", false);
        json.put("device", device);
        json.put("dtype", dtypeName(o.dtype()));
        json.put("table", "host");
        json.put("path", path == null ? "" : path.name());
        json.put("host_table_gib", o.hostTableGib());
        return json;
    }

    private static int error(String device, Options o, HostGatherPath path, String bench, int sequences, String prefix,
                             Throwable e) {
        String message = prefix + e;
        System.err.println("ServingBench: " + bench + " host table " + (path == null ? "" : path + " ") + "failed: " + message);
        e.printStackTrace();
        Map<String, Object> json = head(device, o, path, bench);
        json.put("sequences", sequences);
        json.put("error", message.length() > 500 ? message.substring(0, 500) : message);
        System.out.println(JsonLine.of(json));
        return 1;
    }
}
