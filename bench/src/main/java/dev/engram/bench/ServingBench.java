package dev.engram.bench;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.GpuStatus;
import dev.engram.PackedBatch;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaGraph;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.DeviceBatch;
import dev.engram.gpu.EngramLayer;
import dev.engram.gpu.EngramState;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.engram.bench.Stats.median;
import static dev.engram.bench.Stats.min;

/**
 * Issue 12's serving benchmark of one {@link EngramLayer} at the reference default config (V' = 99000, random
 * weights), the shapes of {@code bench/baseline/torch_engram_serving.py}, whose numbers it is compared with in the
 * same device call. A benchmark, not a test; but it first checks what it times (below) and exits 1 when that fails.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar dev.engram.bench.ServingBench \
 *      [--sequences 1,8,64,256] [--graph on|off] [--table device|host] [--host-table-gib 1]
 *      [--prefill 512:100:1024|off] [--seed 12]
 *      [--steps 200] [--blocks 5] [--warmup 50] [--warmup-ms 300] [--reps 10] [--prefill-warmup 2] [--id-sets 16]
 *      [--check on|off] [--dtype bf16|fp32] [--layer 1] [--compressed-vocab 99000]
 * </pre>
 *
 * <ul>
 * <li><b>decode</b>: for each {@code S} of {@code --sequences}, S sequences in random distinct slots of one
 *     {@link EngramState}, one token each per step. Timed three ways: {@code layer.forward(PackedBatch, ...)} (the
 *     descriptors uploaded by every call), {@code layer.forward(DeviceBatch, ...)} (uploaded once), and, with
 *     {@code --graph on}, that call captured once into a {@link CudaGraph} and replayed. Every step first copies its
 *     S ids into the step's input buffer (device to device, rotating through {@code --id-sets} sets), in every way,
 *     as the PyTorch baseline does. CUDA events around {@code --blocks} blocks of {@code --steps} steps queued back
 *     to back, after {@code --warmup} steps and {@code --warmup-ms}: µs per step, median and minimum of the blocks,
 *     and the host's time to queue one step.</li>
 * <li><b>prefill</b>: {@code COUNT} sequences with lengths uniform in {@code [MIN, MAX]} ({@link PrefillLengths},
 *     the same lengths as the baseline's), every one starting, in one packed call; through a {@link PackedBatch} and
 *     a {@link DeviceBatch}; median of {@code --reps} forwards (CUDA events), tokens/s.</li>
 * <li><b>check</b> ({@code --check on}): sequences of 40, 25, 11 and 10 tokens prefilled packed to 30, 15, 1 and 0
 *     tokens, then decoded token by token in each way timed, against each sequence's whole-sequence rectangular
 *     forward: outputs within the dtype's tolerance (that of the baseline's check).</li>
 * </ul>
 * One JSON line per result on stdout ({@code "bench"}: check, decode or prefill; {@code "api"}: PackedBatch or
 * DeviceBatch; {@code "graph"}); a way that fails prints a line with {@code "error"} and makes the exit status 1.
 * {@code --table host} measures a {@link dev.engram.gpu.HostTableLayer} instead, its table of {@code --host-table-gib}
 * GiB in pinned, mapped host memory, on the {@code CPU} and {@code ZERO_COPY} paths: the same check (against a
 * device-table layer with the same rows), the lookup of a decode step alone, the pipelined decode step and the packed
 * prefill ({@link HostTableServing}; its lines add {@code "table": "host"} and {@code "path"}).
 */
public final class ServingBench {
    static final int[] CHECK_LENGTHS = {40, 25, 11, 10};
    static final int[] CHECK_PREFIX = {30, 15, 1, 0};
    static final int[] CHECK_SLOTS = {5, 0, 7, 2};

    private ServingBench() {}

    /** The command line. */
    record Options(int[] sequences, boolean graph, String table, int prefillCount, int prefillMin, int prefillMax,
                   long seed, int steps, int blocks, int warmup, long warmupNanos, int reps, int prefillWarmup,
                   int idSets, boolean check, DType dtype, int layerId, long vocab, double hostTableGib) {

        static Options parse(String[] argv) {
            Map<String, String> a = new LinkedHashMap<>();
            for (int i = 0; i < argv.length; i++) {
                if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                    throw new IllegalArgumentException("usage: ServingBench [--sequences 1,8,64,256] [--graph on|off]"
                            + " [--table device|host] [--host-table-gib G] [--prefill COUNT:MIN:MAX|off] [--seed N] [--steps N] [--blocks N]"
                            + " [--warmup N] [--warmup-ms MS] [--reps N] [--prefill-warmup N] [--id-sets N]"
                            + " [--check on|off] [--dtype bf16|fp32] [--layer ID] [--compressed-vocab V]; got '" + argv[i] + "'");
                }
                a.put(argv[i].substring(2), argv[++i]);
            }
            int[] sequences = Arrays.stream(a.getOrDefault("sequences", "1,8,64,256").split(","))
                    .filter(s -> !s.isEmpty()).mapToInt(Integer::parseInt).toArray();
            for (int s : sequences) if (s < 1) throw new IllegalArgumentException("--sequences must be >= 1, got " + s);
            String prefill = a.getOrDefault("prefill", "512:100:1024");
            int count = 0, min = 0, max = 0;
            if (!prefill.equals("off")) {
                String[] p = prefill.split(":");
                if (p.length != 3) throw new IllegalArgumentException("--prefill takes COUNT:MIN:MAX or off, got '" + prefill + "'");
                count = Integer.parseInt(p[0]);
                min = Integer.parseInt(p[1]);
                max = Integer.parseInt(p[2]);
                if (count < 1 || min < 1 || max < min) {
                    throw new IllegalArgumentException("--prefill needs COUNT >= 1 and 1 <= MIN <= MAX, got '" + prefill + "'");
                }
            }
            String table = a.getOrDefault("table", "device");
            if (!table.equals("device") && !table.equals("host")) {
                throw new IllegalArgumentException("--table must be device or host, got '" + table + "'");
            }
            DType dtype = switch (a.getOrDefault("dtype", "bf16")) {
                case "bf16" -> DType.BFLOAT16;
                case "fp32" -> DType.FLOAT32;
                default -> throw new IllegalArgumentException("--dtype must be bf16 or fp32");
            };
            double gib = Double.parseDouble(a.getOrDefault("host-table-gib", "1"));
            if (!(gib > 0)) throw new IllegalArgumentException("--host-table-gib must be > 0, got " + gib);
            Options o = new Options(sequences, onOff(a, "graph", true), table, count, min, max,
                    Long.parseLong(a.getOrDefault("seed", "12")), positive(a, "steps", 200), positive(a, "blocks", 5),
                    Integer.parseInt(a.getOrDefault("warmup", "50")),
                    Long.parseLong(a.getOrDefault("warmup-ms", "300")) * 1_000_000L, positive(a, "reps", 10),
                    Integer.parseInt(a.getOrDefault("prefill-warmup", "2")), positive(a, "id-sets", 16),
                    onOff(a, "check", true), dtype, Integer.parseInt(a.getOrDefault("layer", "1")),
                    Long.parseLong(a.getOrDefault("compressed-vocab", "99000")), gib);
            a.keySet().removeAll(java.util.List.of("sequences", "graph", "table", "host-table-gib", "prefill", "seed", "steps", "blocks",
                    "warmup", "warmup-ms", "reps", "prefill-warmup", "id-sets", "check", "dtype", "layer", "compressed-vocab"));
            if (!a.isEmpty()) throw new IllegalArgumentException("unknown options " + a.keySet());
            return o;
        }

        private static boolean onOff(Map<String, String> a, String key, boolean dflt) {
            String v = a.getOrDefault(key, dflt ? "on" : "off");
            return switch (v) {
                case "on" -> true;
                case "off" -> false;
                default -> throw new IllegalArgumentException("--" + key + " must be on or off, got '" + v + "'");
            };
        }

        private static int positive(Map<String, String> a, String key, int dflt) {
            int v = Integer.parseInt(a.getOrDefault(key, String.valueOf(dflt)));
            if (v < 1) throw new IllegalArgumentException("--" + key + " must be >= 1, got " + v);
            return v;
        }

        int maxSequences() {
            return Arrays.stream(sequences).max().orElse(1);
        }
    }

    /** The layer, its state, a stream, two timing events and the device buffers every run shares. */
    private record Rig(EngramLayer layer, EngramState state, int slots, CudaStream stream, CudaEvent start,
                       CudaEvent end, DeviceBuffer ids, DeviceBuffer hidden, DeviceBuffer out, DeviceBuffer idPool,
                       int row, String device, Options o) {}

    /**
     * Runs the checks and benchmarks the options select; exit status 0, 1 when a check or a measured way failed,
     * 2 without a usable GPU, 64 for bad options.
     *
     * @param argv the options of the class comment
     */
    public static void main(String[] argv) {
        Options o;
        try {
            o = Options.parse(argv);
        } catch (IllegalArgumentException e) {
            System.err.println("ServingBench: " + e.getMessage());
            System.exit(64);
            return;
        }
        GpuStatus status = Engram.gpuStatus();
        if (!status.available()) {
            System.err.println("ServingBench: " + status.describe());
            System.exit(2);
        }
        CudaDevice device = CudaDevice.get(0);
        device.makeCurrent();
        int failures = o.table().equals("host") ? HostTableServing.run(o, device.toString()) : deviceTable(o, device);
        if (failures > 0) {
            System.err.println("ServingBench: " + failures + " failed (see the lines with \"error\" or \"ok\": false)");
            System.exit(1);
        }
    }

    /** The device-table runs of the class comment; {@return how many failed} */
    private static int deviceTable(Options o, CudaDevice device) {
        EngramConfig config = EngramConfig.referenceDefault().withCompressedVocabSize(o.vocab());
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        int[] lengths = PrefillLengths.draw(o.prefillCount(), o.prefillMin(), o.prefillMax(), o.seed());
        int prefillTokens = Math.toIntExact(Arrays.stream(lengths).asLongStream().sum());
        int checkTokens = Arrays.stream(CHECK_LENGTHS).sum();
        int maxTokens = Math.max(Math.max(prefillTokens, o.maxSequences()), checkTokens);
        int slots = Math.max(Math.max(o.maxSequences(), o.prefillCount()), 8);
        int row = config.hcMult() * config.hiddenSize();

        long t0 = System.nanoTime();
        EngramWeights weights = RandomWeights.create(config, mapping.layer(o.layerId()), 1);
        int failures = 0;
        try (EngramLayer layer = EngramLayer.create(mapping, o.layerId(), weights, o.dtype(), maxTokens);
             EngramState state = layer.newState(slots);
             CudaStream stream = CudaStream.create();
             CudaEvent start = CudaEvent.create();
             CudaEvent end = CudaEvent.create();
             DeviceBuffer ids = DeviceBuffer.allocate(maxTokens, DType.INT64);
             DeviceBuffer hidden = DeviceBuffer.allocate((long) maxTokens * row, o.dtype());
             DeviceBuffer out = DeviceBuffer.allocate((long) maxTokens * row, o.dtype());
             DeviceBuffer idPool = DeviceBuffer.allocate((long) o.idSets() * o.maxSequences(), DType.INT64)) {
            weights = null; // the float32 table on the heap can go
            fillIds(ids, o.vocab(), 1);
            fillIds(idPool, o.vocab(), 2);
            fillHidden(hidden, o.dtype(), 3);
            System.out.printf(Locale.ROOT, "ServingBench: %s, %s, layer %d, table %,d rows x %d, %d state slots,"
                            + " %.2f GiB on the device, setup %.1f s%n", device, dtypeName(o.dtype()), o.layerId(),
                    layer.hashing().totalRows(), config.headDim(), slots, layer.deviceBytes() / (double) (1L << 30),
                    (System.nanoTime() - t0) / 1e9);
            Rig rig = new Rig(layer, state, slots, stream, start, end, ids, hidden, out, idPool, row, device.toString(), o);
            // A failure outside the guarded measurements (e.g. the first call of an API) still ends as a JSON line.
            if (o.check()) {
                try {
                    failures += CheckRun.all(rig);
                } catch (RuntimeException e) {
                    failures += error(rig, "check", "PackedBatch", false, CHECK_LENGTHS.length, "", e);
                }
            }
            for (int s : o.sequences()) {
                try {
                    failures += decode(rig, s);
                } catch (RuntimeException e) {
                    failures += error(rig, "decode", "PackedBatch", false, s, "", e);
                }
            }
            if (o.prefillCount() > 0) {
                try {
                    failures += prefill(rig, lengths);
                } catch (RuntimeException e) {
                    failures += error(rig, "prefill", "PackedBatch", false, o.prefillCount(), "", e);
                }
            }
        }
        return failures;
    }

    // ---- decode ----------------------------------------------------------------------------------------------

    /** A decode step's work after its ids are in place. */
    @FunctionalInterface
    private interface Step {
        void run();
    }

    private static int decode(Rig r, int s) {
        Options o = r.o();
        int[] slots = pickSlots(r.slots(), s, 100 + s);
        PackedBatch step = PackedBatch.decode(slots);
        DeviceArray ids = r.ids().slice(0, s), hidden = r.hidden().slice(0, (long) s * r.row()),
                out = r.out().slice(0, (long) s * r.row());
        DeviceArray[] pool = new DeviceArray[o.idSets()];
        for (int k = 0; k < pool.length; k++) pool[k] = r.idPool().slice((long) k * s, s);
        int failures = 0;
        // Every slot a fresh sequence: one starting token each.
        int[] ones = new int[s];
        boolean[] starts = new boolean[s];
        Arrays.fill(ones, 1);
        Arrays.fill(starts, true);
        r.layer().forward(PackedBatch.ofLengths(ones, slots, starts), ids, hidden, out, r.state(), r.stream());

        failures += timeDecode(r, s, "PackedBatch", false, pool, ids,
                () -> r.layer().forward(step, ids, hidden, out, r.state(), r.stream()));
        try (DeviceBatch db = DeviceBatch.create(s)) {
            db.set(step, r.stream());
            failures += timeDecode(r, s, "DeviceBatch", false, pool, ids,
                    () -> r.layer().forward(db, ids, hidden, out, r.state(), r.stream()));
            if (o.graph()) {
                CudaGraph graph;
                try {
                    graph = CudaGraph.capture(r.stream(), () -> r.layer().forward(db, ids, hidden, out, r.state(), r.stream()));
                } catch (RuntimeException e) {
                    return failures + error(r, "decode", "DeviceBatch", true, s, "capture: ", e);
                }
                try (CudaGraph g = graph) {
                    failures += timeDecode(r, s, "DeviceBatch", true, pool, ids, () -> g.launch(r.stream()));
                }
            }
        } catch (RuntimeException e) {
            failures += error(r, "decode", "DeviceBatch", false, s, "", e);
        }
        return failures;
    }

    private static int timeDecode(Rig r, int s, String api, boolean graph, DeviceArray[] pool, DeviceArray ids, Step work) {
        Options o = r.o();
        try {
            long warmEnd = System.nanoTime() + o.warmupNanos();
            for (int w = 0; w < o.warmup() || System.nanoTime() < warmEnd; w++) {
                ids.copyFromAsync(pool[w % pool.length], r.stream());
                work.run();
                if (w % 64 == 63) r.stream().synchronize(); // keep the host from queueing far ahead
            }
            r.stream().synchronize();
            double[] us = new double[o.blocks()], hostUs = new double[o.blocks()];
            for (int b = 0; b < o.blocks(); b++) {
                r.start().record(r.stream());
                long h0 = System.nanoTime();
                for (int i = 0; i < o.steps(); i++) {
                    ids.copyFromAsync(pool[i % pool.length], r.stream());
                    work.run();
                }
                hostUs[b] = (System.nanoTime() - h0) / 1e3 / o.steps();
                r.end().record(r.stream());
                r.end().synchronize();
                us[b] = CudaEvent.elapsedMillis(r.start(), r.end()) * 1e3 / o.steps();
            }
            double med = median(us);
            System.out.printf(Locale.ROOT, "decode S=%d, %s%s: %.2f us per step (min %.2f), host %.2f us per step%n", s, api,
                    graph ? " in a CUDA graph" : "", med, min(us), median(hostUs));
            Map<String, Object> json = head(r, "decode", api, graph);
            json.put("sequences", s);
            json.put("tokens", s);
            json.put("slots", r.slots());
            json.put("step_us", med);
            json.put("step_us_min", min(us));
            json.put("host_enqueue_us", median(hostUs));
            json.put("steps", o.steps());
            json.put("blocks", o.blocks());
            System.out.println(JsonLine.of(json));
            return 0;
        } catch (RuntimeException e) {
            return error(r, "decode", api, graph, s, "", e);
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
        DeviceArray ids = r.ids().slice(0, n), hidden = r.hidden().slice(0, (long) n * r.row()),
                out = r.out().slice(0, (long) n * r.row());
        int failures = timePrefill(r, batch, "PackedBatch", () -> r.layer().forward(batch, ids, hidden, out, r.state(), r.stream()));
        try (DeviceBatch db = DeviceBatch.create(lengths.length)) {
            db.set(batch, r.stream());
            failures += timePrefill(r, batch, "DeviceBatch", () -> r.layer().forward(db, ids, hidden, out, r.state(), r.stream()));
        } catch (RuntimeException e) {
            failures += error(r, "prefill", "DeviceBatch", false, lengths.length, "", e);
        }
        return failures;
    }

    private static int timePrefill(Rig r, PackedBatch batch, String api, Step work) {
        Options o = r.o();
        try {
            for (int w = 0; w < o.prefillWarmup(); w++) work.run();
            r.stream().synchronize();
            double[] ms = new double[o.reps()];
            for (int i = 0; i < ms.length; i++) {
                r.start().record(r.stream());
                work.run();
                r.end().record(r.stream());
                r.end().synchronize();
                ms[i] = CudaEvent.elapsedMillis(r.start(), r.end());
            }
            double med = median(ms);
            double tps = batch.tokens() / (med * 1e-3);
            System.out.printf(Locale.ROOT, "prefill %d sequences, %,d tokens, %s: %.3f ms (min %.3f), %,.0f tokens/s%n",
                    batch.sequences(), batch.tokens(), api, med, min(ms), tps);
            Map<String, Object> json = head(r, "prefill", api, false);
            json.put("layout", "packed");
            json.put("sequences", batch.sequences());
            json.put("tokens", batch.tokens());
            json.put("min_len", o.prefillMin());
            json.put("max_len", o.prefillMax());
            json.put("seed", o.seed());
            json.put("total_ms", med);
            json.put("total_ms_min", min(ms));
            json.put("tokens_per_s", tps);
            json.put("reps", o.reps());
            System.out.println(JsonLine.of(json));
            return 0;
        } catch (RuntimeException e) {
            return error(r, "prefill", api, false, batch.sequences(), "", e);
        }
    }

    // ---- check -----------------------------------------------------------------------------------------------

    /** The check: packed prefill of a prefix, then token-by-token decode, against the whole-sequence forward. */
    static final class CheckRun {
        private CheckRun() {}

        static int all(Rig r) {
            Options o = r.o();
            int row = r.row(), n = Arrays.stream(CHECK_LENGTHS).sum(), seqs = CHECK_LENGTHS.length;
            int steps = CHECK_LENGTHS[0] - CHECK_PREFIX[0];
            SplittableRandom rnd = new SplittableRandom(7);
            long[][] ids = new long[seqs][];
            float[][] hid = new float[seqs][];
            for (int i = 0; i < seqs; i++) {
                ids[i] = rnd.longs(CHECK_LENGTHS[i], 0, o.vocab()).toArray();
                hid[i] = new float[CHECK_LENGTHS[i] * row];
                for (int j = 0; j < hid[i].length; j++) hid[i][j] = (float) rnd.nextDouble(-1.7320508, 1.7320508);
            }
            float[][] ref = new float[seqs][];
            int failures = 0;
            try (DeviceBuffer dIds = DeviceBuffer.allocate(n, DType.INT64);
                 DeviceBuffer dHid = DeviceBuffer.allocate((long) n * row, o.dtype());
                 DeviceBuffer dOut = DeviceBuffer.allocate((long) n * row, o.dtype());
                 DeviceBuffer sIds = DeviceBuffer.allocate(seqs, DType.INT64);
                 DeviceBuffer sHid = DeviceBuffer.allocate((long) seqs * row, o.dtype());
                 DeviceBuffer sOut = DeviceBuffer.allocate((long) seqs * row, o.dtype())) {
                // The reference: each sequence whole, as a rectangular [1, L] forward.
                for (int i = 0; i < seqs; i++) {
                    int len = CHECK_LENGTHS[i];
                    DeviceArray rid = dIds.slice(0, len), rh = dHid.slice(0, (long) len * row), ro = dOut.slice(0, (long) len * row);
                    rid.copyFrom(ids[i]);
                    write(rh, hid[i], o.dtype());
                    r.layer().forward(rid, 1, len, rh, ro, r.stream());
                    ref[i] = read(ro, o.dtype());
                }
                PackedBatch prefix = PackedBatch.ofLengths(CHECK_PREFIX, CHECK_SLOTS, new boolean[] {true, true, true, true});
                PackedBatch step = PackedBatch.decode(CHECK_SLOTS);
                int p = prefix.tokens();
                long[] pIds = new long[p];
                float[] pHid = new float[p * row];
                for (int i = 0, at = 0; i < seqs; at += CHECK_PREFIX[i++]) {
                    System.arraycopy(ids[i], 0, pIds, at, CHECK_PREFIX[i]);
                    System.arraycopy(hid[i], 0, pHid, at * row, CHECK_PREFIX[i] * row);
                }
                DeviceArray pi = dIds.slice(0, p), ph = dHid.slice(0, (long) p * row), po = dOut.slice(0, (long) p * row);
                Step[] ways = new Step[3];
                String[] apis = {"PackedBatch", "DeviceBatch", "DeviceBatch"};
                boolean[] graphs = {false, false, true};
                try (DeviceBatch db = DeviceBatch.create(seqs)) {
                    db.set(step, r.stream());
                    ways[0] = () -> r.layer().forward(step, sIds, sHid, sOut, r.state(), r.stream());
                    ways[1] = () -> r.layer().forward(db, sIds, sHid, sOut, r.state(), r.stream());
                    CudaGraph graph = null;
                    try {
                        for (int w = 0; w < ways.length; w++) {
                            if (graphs[w] && !o.graph()) continue;
                            try {
                                if (graphs[w]) {
                                    graph = CudaGraph.capture(r.stream(), ways[1]::run);
                                    CudaGraph g = graph;
                                    ways[w] = () -> g.launch(r.stream());
                                }
                                // The prefix, packed, every sequence starting; then the rest token by token.
                                pi.copyFrom(pIds);
                                write(ph, pHid, o.dtype());
                                r.layer().forward(prefix, pi, ph, po, r.state(), r.stream());
                                float[] got = read(po, o.dtype());
                                float[][] dec = new float[steps][];
                                long[] stepIds = new long[seqs];
                                float[] stepHid = new float[seqs * row];
                                for (int t = 0; t < steps; t++) {
                                    for (int i = 0; i < seqs; i++) {
                                        stepIds[i] = ids[i][CHECK_PREFIX[i] + t];
                                        System.arraycopy(hid[i], (CHECK_PREFIX[i] + t) * row, stepHid, i * row, row);
                                    }
                                    sIds.copyFrom(stepIds);
                                    write(sHid, stepHid, o.dtype());
                                    ways[w].run();
                                    dec[t] = read(sOut, o.dtype());
                                }
                                failures += report(r, apis[w], graphs[w], ref, got, dec);
                            } catch (RuntimeException e) {
                                failures += error(r, "check", apis[w], graphs[w], seqs, "", e);
                            }
                        }
                    } finally {
                        if (graph != null) graph.close();
                    }
                }
            }
            return failures;
        }

        /** Compares prefix outputs and decoded outputs with the whole-sequence ones; one JSON line. */
        private static int report(Rig r, String api, boolean graph, float[][] ref, float[] prefixOut, float[][] dec) {
            Map<String, Object> json = head(r, "check", api, graph);
            json.put("lengths", CHECK_LENGTHS);
            json.put("prefix", CHECK_PREFIX);
            boolean ok = putComparison(json, r.row(), ref, prefixOut, dec, r.o().dtype());
            System.out.println(JsonLine.of(json));
            return ok ? 0 : 1;
        }

        /**
         * {@return the largest absolute difference (NaN wins) of the check's outputs from the whole-sequence ones,
         * and the largest absolute whole-sequence value} The prefix outputs are packed in sequence order, each
         * decode step's outputs one row per sequence.
         */
        static double[] compare(int row, float[][] ref, float[] prefixOut, float[][] dec) {
            double diff = 0, scale = 0;
            for (int i = 0, at = 0; i < ref.length; at += CHECK_PREFIX[i++]) {
                for (float v : ref[i]) scale = Math.max(scale, Math.abs(v));
                for (int t = 0; t < CHECK_LENGTHS[i]; t++) {
                    boolean inPrefix = t < CHECK_PREFIX[i];
                    float[] src = inPrefix ? prefixOut : dec[t - CHECK_PREFIX[i]];
                    int off = inPrefix ? (at + t) * row : i * row;
                    for (int c = 0; c < row; c++) {
                        double d = Math.abs(src[off + c] - ref[i][t * row + c]);
                        if (!(d <= diff)) diff = d; // NaN wins
                    }
                }
            }
            return new double[] {diff, scale};
        }

        /**
         * Compares as {@link #compare} and puts {@code max_abs_diff}, {@code max_abs_ref}, {@code tolerance} and
         * {@code ok} into the check's JSON line; {@return whether the outputs are within the tolerance}
         */
        static boolean putComparison(Map<String, Object> json, int row, float[][] ref, float[] prefixOut, float[][] dec,
                                     DType dtype) {
            double[] diffScale = compare(row, ref, prefixOut, dec);
            double diff = diffScale[0], scale = diffScale[1], tol = tolerance(dtype, scale);
            boolean ok = diff <= tol;
            json.put("max_abs_diff", diff);
            json.put("max_abs_ref", scale);
            json.put("tolerance", tol);
            json.put("ok", ok);
            return ok;
        }

        /** {@return the check's tolerance: that of the baseline's check, relative to the outputs' scale past 1} */
        static double tolerance(DType dtype, double scale) {
            return (dtype == DType.FLOAT32 ? 1e-4 : 3e-2) * Math.max(1.0, scale);
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static Map<String, Object> head(Rig r, String bench, String api, boolean graph) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("impl", "engram-jvm");
        json.put("bench", bench);
        json.put("api", api);
        json.put("graph", graph);
        json.put("device", r.device());
        json.put("dtype", dtypeName(r.o().dtype()));
        json.put("table", r.o().table());
        return json;
    }

    private static int error(Rig r, String bench, String api, boolean graph, int sequences, String prefix, Throwable e) {
        String message = prefix + e;
        System.err.println("ServingBench: " + bench + " " + api + (graph ? " in a CUDA graph" : "") + " failed: " + message);
        e.printStackTrace();
        Map<String, Object> json = head(r, bench, api, graph);
        json.put("sequences", sequences);
        json.put("error", message.length() > 500 ? message.substring(0, 500) : message);
        System.out.println(JsonLine.of(json));
        return 1;
    }

    /** {@code count} distinct slots below {@code slots}, drawn with the seed (a partial Fisher-Yates shuffle). */
    static int[] pickSlots(int slots, int count, long seed) {
        int[] all = new int[slots];
        for (int i = 0; i < slots; i++) all[i] = i;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < count; i++) {
            int j = i + rnd.nextInt(slots - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return Arrays.copyOf(all, count);
    }

    static void fillIds(DeviceBuffer b, long vocab, long seed) {
        int chunk = 1 << 20;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (long at = 0; at < b.elementCount(); at += chunk) {
            int n = (int) Math.min(chunk, b.elementCount() - at);
            b.slice(at, n).copyFrom(rnd.longs(n, 0, vocab).toArray());
        }
    }

    /** Uniform in ±sqrt(3) (unit variance); one random chunk repeated (the values do not change the timing). */
    static void fillHidden(DeviceBuffer b, DType dtype, long seed) {
        int chunk = (int) Math.min(b.elementCount(), 1 << 24);
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[chunk];
        for (int i = 0; i < chunk; i++) v[i] = (float) rnd.nextDouble(-1.7320508, 1.7320508);
        short[] bf = dtype == DType.BFLOAT16 ? BFloat16.fromFloats(v) : null;
        for (long at = 0; at < b.elementCount(); at += chunk) {
            int n = (int) Math.min(chunk, b.elementCount() - at);
            DeviceArray dst = b.slice(at, n);
            if (bf != null) dst.copyFrom(n == chunk ? bf : Arrays.copyOf(bf, n));
            else dst.copyFrom(n == chunk ? v : Arrays.copyOf(v, n));
        }
    }

    static void write(DeviceArray dst, float[] v, DType dtype) {
        if (dtype == DType.BFLOAT16) dst.copyFrom(BFloat16.fromFloats(v));
        else dst.copyFrom(v);
    }

    static float[] read(DeviceArray src, DType dtype) {
        int n = Math.toIntExact(src.elementCount());
        if (dtype == DType.BFLOAT16) {
            short[] s = new short[n];
            src.copyTo(s);
            return BFloat16.toFloats(s);
        }
        float[] f = new float[n];
        src.copyTo(f);
        return f;
    }

    static String dtypeName(DType dtype) {
        return dtype == DType.BFLOAT16 ? "bf16" : "fp32";
    }
}
