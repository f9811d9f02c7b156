package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.HostTablePackedGpuTest.Steps;
import dev.engram.gpu.PackedForwardGpuTest.Model;
import dev.engram.gpu.PackedForwardGpuTest.Plan;
import dev.engram.gpu.PackedForwardGpuTest.Seq;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.table.Fp8;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.Fp8Table;
import dev.engram.table.HostMemory;
import dev.engram.table.PinnedHostMemory;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

import static dev.engram.gpu.HostTablePackedGpuTest.assertBitsEqual;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link HostTableLayer} over an fp8 host table ({@link Fp8HostTable}: E4M3 codes and E8M0 block scales in pinned host
 * memory; issue 13): on the {@code CPU} path (code and scale rows gathered, copied, dequantized on the GPU by
 * {@link Fp8Dequantize}), {@code ZERO_COPY} (the fp8 gather on the mapped codes and scales) and {@code AUTO} (both),
 * rectangular and packed with carried state (random chunks, a decode loop), every step prefetched while the step before
 * is unconsumed, in FLOAT32 and BFLOAT16 compute, must equal the {@link EngramLayer} with the same fp8 table on the
 * device bit for bit (the same dequantized rows, the same kernels; that layer equals the dequantized table's,
 * {@link Fp8TableLayerGpuTest}). Fresh random tables (every non-NaN code, a random scale byte per block), blocks of a
 * row, of 16 and 8 values (the 16-code and the code-by-code kernels), half a row and one value; outputs NaN-poisoned
 * before the launches. {@link Fp8Dequantize} itself against {@link Fp8} for every code and every scale byte. Bad input
 * rejected before any device memory is allocated or anything is queued. Seeds are fixed and printed.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class HostTableFp8GpuTest {
    private static final long SEED = 20261213L;
    private static final List<DType> DTYPES = List.of(DType.FLOAT32, DType.BFLOAT16);

    // ---------------------------------------------------------------- models and tables

    /** A model with rows of 64 values (2 orders x 2 heads), so blocks of 16 and 8 take both kernel paths. */
    static Model wide(long seed, DType dtype) {
        EngramConfig c = EngramLayerGpuVsCpuTest.config(List.of(1009L, 1013L), 3, 128, 2, 3, 16, 2);
        NgramHashMapping mapping = NgramHashMapping.create(c, EngramLayerGpuVsCpuTest.randomLut(seed + 1, 300, 250));
        EngramWeights w = RandomWeights.create(c, mapping.layer(1), seed + 2, 0.3);
        if (dtype == DType.BFLOAT16) w = w.mapArrays(BFloat16::roundTrip);
        return new Model(mapping, 1, w, dtype);
    }

    /** A random fp8 table for {@code m}'s layer: every code but the two NaNs, a random scale byte 112..135 per block. */
    static Fp8Table randomTable(Model m, int block, long seed, Arena arena) {
        long rows = m.mapping().layer(m.layerId()).totalRows();
        int d = m.config().headDim();
        Random r = new Random(seed);
        MemorySegment codes = arena.allocate(rows * d), scales = arena.allocate(rows * (d / block));
        for (long i = 0; i < codes.byteSize(); i++) {
            int q = r.nextInt(256);
            if ((q & 0x7F) == 0x7F) q &= 0xFE; // ±NaN -> ±448
            codes.set(ValueLayout.JAVA_BYTE, i, (byte) q);
        }
        for (long i = 0; i < scales.byteSize(); i++) scales.set(ValueLayout.JAVA_BYTE, i, (byte) (112 + r.nextInt(24)));
        return Fp8Table.of("random fp8 table", codes, scales, rows, d, block);
    }

    /** The layer with {@code table} on the device. */
    static EngramLayer deviceLayer(Model m, Fp8Table table, int maxTokens) {
        return EngramLayer.create(m.mapping(), m.layerId(),
                Fp8TableLayerGpuTest.dense(m.weights().dense()).table(ParameterTensor.of(table)).build(),
                EngramLayer.Options.of(maxTokens).withDtype(m.dtype()));
    }

    /** The layer with {@code table} in host memory, two gather threads. */
    static HostTableLayer hostLayer(Model m, Fp8HostTable table, HostGatherPath path, int maxTokens, int zeroCopyMaxTokens) {
        return HostTableLayer.create(m.mapping(), m.layerId(), LayerWeights.of(m.weights().dense()), table, m.dtype(),
                HostTableLayer.Options.of(path, maxTokens).withGatherThreads(2).withZeroCopyMaxTokens(zeroCopyMaxTokens)
                        .withZeroCopyMinTokens(0));
    }

    /** The tables the layers are checked on: blocks of a row, half a row and one value; 64-value rows in 16 and 8. */
    private static List<Object[]> configs(DType dtype, long seed) {
        List<Object[]> out = new ArrayList<>();
        Model small = Model.random(seed, dtype, true);
        int d = small.config().headDim();
        for (int block : new int[] {d, d / 2, 1}) out.add(new Object[] {small, block});
        Model w = wide(seed + 1, dtype);
        for (int block : new int[] {16, 8}) out.add(new Object[] {w, block});
        return out;
    }

    // ---------------------------------------------------------------- the dequantization kernel

    @Test
    void everyCodeAndScaleByteDequantizesAsTheCpuReference() {
        // Row r holds the 256 codes in order; block 256: row r's scale byte is r (255 included: NaN), block 16: the
        // scale byte of block k is (r + 37k) mod 256.
        int rows = 256, d = 256;
        byte[] codes = new byte[rows * d];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) i;
        try (Arena arena = Arena.ofConfined();
             CudaStream stream = CudaStream.create();
             DeviceBuffer dCodes = DeviceBuffer.allocate(codes.length + 1, DType.FP8_E4M3)) {
            for (int block : new int[] {256, 16, 8}) {
                byte[] scales = new byte[rows * (d / block)];
                for (int r = 0; r < rows; r++) {
                    for (int k = 0; k < d / block; k++) scales[r * (d / block) + k] = (byte) (r + 37 * k);
                }
                for (int codeOffset : new int[] {0, 1}) { // 1: codes off 16-byte alignment, the code-by-code kernel
                    DeviceArray c = dCodes.slice(codeOffset, codes.length);
                    c.copyFrom(arena.allocateFrom(ValueLayout.JAVA_BYTE, codes));
                    try (DeviceBuffer dScales = DeviceBuffer.allocate(scales.length, DType.FP8_E8M0)) {
                        dScales.copyFrom(arena.allocateFrom(ValueLayout.JAVA_BYTE, scales));
                        for (DType dtype : DTYPES) {
                            for (int outOffset : new int[] {0, 1}) {
                                try (DeviceBuffer out = DeviceBuffer.allocate(codes.length + 1, dtype)) {
                                    DeviceTensors.poison(out);
                                    DeviceArray o = out.slice(outOffset, codes.length);
                                    Fp8Dequantize.enqueue(c, dScales, d, block, o, stream);
                                    stream.synchronize();
                                    assertDequantized(codes, scales, d, block, o,
                                            dtype + " block " + block + " codes+" + codeOffset + " out+" + outOffset);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** {@code out} holds {@link Fp8#dequantizeFloat} (FLOAT32) or {@link Fp8#dequantizeBf16} bit for bit; NaN canonical. */
    private static void assertDequantized(byte[] codes, byte[] scales, int d, int block, DeviceArray out, String what) {
        int n = codes.length;
        boolean f32 = out.dtype() == DType.FLOAT32;
        int[] got = new int[n];
        if (f32) {
            float[] f = new float[n];
            out.copyTo(f);
            for (int i = 0; i < n; i++) got[i] = Float.floatToRawIntBits(f[i]);
        } else {
            short[] s = new short[n];
            out.copyTo(s);
            for (int i = 0; i < n; i++) got[i] = s[i] & 0xFFFF;
        }
        for (int i = 0; i < n; i++) {
            byte q = codes[i], b = scales[(i / d) * (d / block) + (i % d) / block];
            float x = Fp8.dequantizeFloat(q, b);
            int want = Float.isNaN(x) ? (f32 ? 0x7fc00000 : 0x7fc0)
                    : f32 ? Float.floatToRawIntBits(x) : Fp8.dequantizeBf16(q, b) & 0xFFFF;
            if (got[i] != want) {
                throw new AssertionError(what + ": value " + i + " (code 0x" + Integer.toHexString(q & 0xFF) + ", scale "
                        + (b & 0xFF) + ") is 0x" + Integer.toHexString(got[i]) + ", want 0x" + Integer.toHexString(want));
            }
        }
    }

    // ---------------------------------------------------------------- rectangular

    @Test
    void rectangularStepsOnEveryPathEqualTheDeviceFp8Layer() {
        // {1, 2100}: more than HostTableLayer.CHUNK_TOKENS, so the CPU path gathers, copies and dequantizes in chunks.
        int[][] shapes = {{2, 7}, {1, 1}, {3, 5}, {1, 2100}, {2, 3}, {1, 9}};
        int maxTokens = 2100, zeroCopyMax = 9; // AUTO: the small steps zero copy, the large one through the CPU
        long seed = SEED;
        for (DType dtype : DTYPES) {
            int k = 0;
            for (Object[] config : configs(dtype, seed += 100)) {
                Model m = (Model) config[0];
                int block = (int) config[1];
                for (HostGatherPath path : HostGatherPath.values()) {
                    // The huge-page registered allocator once per dtype, cudaMallocHost otherwise.
                    boolean registered = k++ == 2;
                    HostMemory memory = registered ? PinnedHostMemory.registered(HostMemory.anonymousMapping(true))
                            : PinnedHostMemory.allocated();
                    compareRectangular(m, block, path, memory, registered ? "registered huge pages" : "cudaMallocHost",
                            shapes, maxTokens, zeroCopyMax, seed + k);
                }
            }
        }
    }

    private static void compareRectangular(Model m, int block, HostGatherPath path, HostMemory memory, String memoryName,
                                           int[][] shapes, int maxTokens, int zeroCopyMax, long seed) {
        int c = m.channels();
        String what = m + " block " + block + " " + path + " " + memoryName + " seed " + seed;
        System.out.println("fp8 host table, rectangular: " + what);
        try (Arena arena = Arena.ofShared()) {
            Fp8Table fp8 = randomTable(m, block, seed, arena);
            try (EngramLayer device = deviceLayer(m, fp8, maxTokens);
                 Fp8HostTable table = Fp8HostTable.copyOf(fp8, memory);
                 HostTableLayer host = hostLayer(m, table, path, maxTokens, zeroCopyMax);
                 CudaStream stream = CudaStream.create()) {
                assertTrue(host.isFp8());
                assertEquals(m.dtype(), host.dtype());
                Seq[] in = new Seq[shapes.length];
                for (int k = 0; k < shapes.length; k++) in[k] = m.sequence(shapes[k][0] * shapes[k][1], seed + 10 + k);
                Set<HostGatherPath> routes = EnumSet.noneOf(HostGatherPath.class);
                Prefetch next = host.prefetch(in[0].ids(), shapes[0][0], shapes[0][1]);
                for (int k = 0; k < shapes.length; k++) {
                    int b = shapes[k][0], t = shapes[k][1], n = b * t;
                    Prefetch current = next;
                    // Step k+1's rows are fetched before step k's forward: both staging slots in flight.
                    if (k + 1 < shapes.length) next = host.prefetch(in[k + 1].ids(), shapes[k + 1][0], shapes[k + 1][1]);
                    assertEquals(host.pathFor(n), current.path(), what + " step " + k);
                    routes.add(current.path());
                    try (DeviceBuffer ids = DeviceBuffer.allocate(n, DType.INT64);
                         DeviceBuffer hidden = DeviceBuffer.allocate((long) n * c, m.dtype());
                         DeviceBuffer outHost = DeviceBuffer.allocate((long) n * c, m.dtype());
                         DeviceBuffer outDevice = DeviceBuffer.allocate((long) n * c, m.dtype())) {
                        ids.copyFrom(in[k].ids());
                        DeviceTensors.upload(hidden, in[k].hidden());
                        DeviceTensors.poison(outHost);
                        DeviceTensors.poison(outDevice);
                        host.forward(current, hidden, outHost, stream);
                        device.forward(ids, b, t, hidden, outDevice, stream);
                        stream.synchronize();
                        assertTrue(current.isConsumed());
                        assertBitsEqual(DeviceTensors.download(outDevice), DeviceTensors.download(outHost),
                                what + " step " + k + " B=" + b + " T=" + t);
                    }
                }
                assertEquals(path == HostGatherPath.AUTO ? EnumSet.of(HostGatherPath.CPU, HostGatherPath.ZERO_COPY)
                        : EnumSet.of(path), routes, what + ": paths taken");
            }
        }
    }

    // ---------------------------------------------------------------- packed: chunks and a decode loop

    @Test
    void packedChunksAndDecodeStepsOnEveryPathEqualTheDeviceFp8Layer() {
        long seed = SEED + 5000;
        for (DType dtype : DTYPES) {
            List<Object[]> configs = configs(dtype, seed);
            int k = 0;
            for (HostGatherPath path : HostGatherPath.values()) {
                for (int i = 0; i < 2; i++, k++) {
                    Object[] config = configs.get(k % configs.size());
                    seed += 10;
                    checkChunked((Model) config[0], (int) config[1], path, seed);
                }
                Object[] config = configs.get((k + 1) % configs.size());
                checkDecode((Model) config[0], (int) config[1], path, seed + 5);
            }
        }
    }

    private static void checkChunked(Model m, int block, HostGatherPath path, long seed) {
        Random r = new Random(seed + 7);
        int sequences = 2 + r.nextInt(4), slots = sequences + 3, c = m.channels();
        List<Plan> plans = PackedForwardGpuTest.randomPlans(m, r, sequences, slots, seed);
        Steps steps = Steps.of(plans, r);
        int total = steps.all().length();
        int largestStep = IntStream.range(0, steps.count()).map(steps::tokens).max().orElse(0);
        int maxTokens = Math.max(1, largestStep);
        int[] sizes = IntStream.range(0, steps.count()).map(steps::tokens).sorted().toArray();
        int zeroCopyMax = Math.max(1, sizes[sizes.length / 2]); // AUTO: the smaller half of the steps go zero-copy
        String what = m + " block " + block + " " + path + " seed " + seed;
        System.out.printf("fp8 host table, packed chunks %s: %d sequences, chunks %s, step tokens %s%n", what, sequences,
                plans.stream().map(p -> Arrays.toString(p.chunks())).toList(), Arrays.toString(steps.start()));
        try (Arena arena = Arena.ofShared()) {
            Fp8Table fp8 = randomTable(m, block, seed, arena);
            try (EngramLayer device = deviceLayer(m, fp8, maxTokens);
                 Fp8HostTable table = Fp8HostTable.copyOf(fp8, PinnedHostMemory.allocated());
                 HostTableLayer host = hostLayer(m, table, path, maxTokens, zeroCopyMax);
                 EngramState hostState = host.newState(slots);
                 EngramState deviceState = device.newState(slots);
                 CudaStream stream = CudaStream.create();
                 DeviceBuffer ids = DeviceBuffer.allocate(total, DType.INT64);
                 DeviceBuffer hidden = DeviceBuffer.allocate((long) total * c, m.dtype());
                 DeviceBuffer outHost = DeviceBuffer.allocate((long) total * c, m.dtype());
                 DeviceBuffer outDevice = DeviceBuffer.allocate((long) total * c, m.dtype())) {
                if (total > 0) {
                    ids.copyFrom(steps.all().ids());
                    DeviceTensors.upload(hidden, steps.all().hidden());
                    DeviceTensors.poison(outHost);
                    DeviceTensors.poison(outDevice);
                }
                Prefetch next = host.prefetch(steps.batches().get(0), steps.ids(0), hostState);
                for (int k = 0; k < steps.count(); k++) {
                    Prefetch current = next;
                    if (k + 1 < steps.count()) next = host.prefetch(steps.batches().get(k + 1), steps.ids(k + 1), hostState);
                    assertEquals(host.pathFor(steps.tokens(k)), current.path(), what + " step " + k);
                    host.forward(current, steps.slice(hidden, k, c), steps.slice(outHost, k, c), hostState, stream);
                }
                for (int k = 0; k < steps.count(); k++) {
                    device.forward(steps.batches().get(k), steps.slice(ids, k, 1), steps.slice(hidden, k, c),
                            steps.slice(outDevice, k, c), deviceState, stream);
                }
                stream.synchronize();
                assertBitsEqual(DeviceTensors.download(outDevice), DeviceTensors.download(outHost),
                        what + ": every step vs the device fp8 layer");
                for (Plan p : plans) {
                    assertArrayEquals(deviceState.history(p.slot(), stream), hostState.history(p.slot(), stream),
                            what + " slot " + p.slot() + ": history");
                    assertArrayEquals(deviceState.convInputs(p.slot(), stream), hostState.convInputs(p.slot(), stream),
                            what + " slot " + p.slot() + ": conv window");
                }
            }
        }
    }

    /** A prefill of three sequences, then 1-token decode steps through one {@link PackedBatch}, each prefetched ahead. */
    private static void checkDecode(Model m, int block, HostGatherPath path, long seed) {
        int[] slots = {4, 0, 2};
        int[] prefill = {6, 1, 0};
        int sequences = slots.length, steps = m.window() + 3, c = m.channels();
        String what = m + " block " + block + " " + path + " decode seed " + seed;
        System.out.println("fp8 host table, decode: " + what);
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
        int p = prefix.length(), maxTokens = Math.max(p, sequences);
        try (Arena arena = Arena.ofShared()) {
            Fp8Table fp8 = randomTable(m, block, seed, arena);
            try (EngramLayer device = deviceLayer(m, fp8, maxTokens);
                 Fp8HostTable table = Fp8HostTable.copyOf(fp8, PinnedHostMemory.allocated());
                 // AUTO: the decode steps (3 tokens) zero copy, the prefill (7 tokens) through the CPU gather.
                 HostTableLayer host = hostLayer(m, table, path, maxTokens, sequences);
                 EngramState hostState = host.newState(5);
                 EngramState deviceState = device.newState(5);
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
                device.forward(prefillBatch, prefillIds, prefillHidden, prefillDevice, deviceState, stream);
                decode.set(step, stream);
                for (int k = 0; k < steps; k++) {
                    device.forward(decode, ids.slice((long) k * sequences, sequences),
                            hidden.slice((long) k * sequences * c, (long) sequences * c),
                            outDevice.slice((long) k * sequences * c, (long) sequences * c), deviceState, stream);
                }
                stream.synchronize();
                assertBitsEqual(DeviceTensors.download(prefillDevice), DeviceTensors.download(prefillHost),
                        what + ": prefill vs the device fp8 layer");
                assertBitsEqual(DeviceTensors.download(outDevice), DeviceTensors.download(outHost),
                        what + ": decode steps vs the device fp8 layer");
                for (int slot : slots) {
                    assertArrayEquals(deviceState.history(slot, stream), hostState.history(slot, stream), what + ": history");
                    assertArrayEquals(deviceState.convInputs(slot, stream), hostState.convInputs(slot, stream),
                            what + ": conv window");
                }
            }
        }
    }

    // ---------------------------------------------------------------- bad input

    @Test
    void badInputIsRejectedBeforeAnythingIsAllocatedOrQueued() {
        Model m = Model.random(SEED + 9000, DType.FLOAT32, true);
        long rows = m.mapping().layer(m.layerId()).totalRows();
        int d = m.config().headDim();
        LayerWeights dense = LayerWeights.of(m.weights().dense());
        HostTableLayer.Options cpu = HostTableLayer.Options.of(HostGatherPath.CPU, 16).withGatherThreads(1);
        try (Arena arena = Arena.ofShared()) {
            Fp8Table fp8 = randomTable(m, d / 2, SEED + 9001, arena);
            try (Fp8HostTable pinned = Fp8HostTable.copyOf(fp8, PinnedHostMemory.allocated());
                 Fp8HostTable plain = Fp8HostTable.copyOf(fp8);
                 Fp8HostTable fewerRows = Fp8HostTable.allocate(rows - 1, d, d, HostMemory.plain());
                 Fp8HostTable widerRows = Fp8HostTable.allocate(rows, 2 * d, d, HostMemory.plain())) {
                long live = DeviceBuffer.liveBytes();
                var shape = assertThrows(IllegalArgumentException.class,
                        () -> HostTableLayer.create(m.mapping(), m.layerId(), dense, fewerRows, DType.FLOAT32, cpu));
                assertTrue(shape.getMessage().contains("needs [" + rows + ", " + d + "]"), shape.getMessage());
                var headDim = assertThrows(IllegalArgumentException.class,
                        () -> HostTableLayer.create(m.mapping(), m.layerId(), dense, widerRows, DType.FLOAT32, cpu));
                assertTrue(headDim.getMessage().contains("[" + rows + ", " + 2 * d + "]"), headDim.getMessage());
                var dtype = assertThrows(IllegalArgumentException.class,
                        () -> HostTableLayer.create(m.mapping(), m.layerId(), dense, pinned, DType.FP8_E4M3, cpu));
                assertTrue(dtype.getMessage().contains("FLOAT32 or BFLOAT16"), dtype.getMessage());
                var zeroCopy = assertThrows(IllegalArgumentException.class, () -> HostTableLayer.create(m.mapping(),
                        m.layerId(), dense, plain, DType.FLOAT32, HostTableLayer.Options.of(HostGatherPath.ZERO_COPY, 16)));
                assertTrue(zeroCopy.getMessage().contains("pinned, mapped host memory"), zeroCopy.getMessage());
                assertThrows(IllegalArgumentException.class, () -> HostTableLayer.create(m.mapping(), m.layerId(),
                        Fp8TableLayerGpuTest.dense(m.weights().dense()).table(ParameterTensor.of(fp8)).build(), pinned,
                        DType.FLOAT32, cpu), "weights with a table of their own");
                var block = assertThrows(IllegalArgumentException.class,
                        () -> Fp8HostTable.allocate(rows, d, d + 1, HostMemory.plain()));
                assertTrue(block.getMessage().contains("does not divide"), block.getMessage());
                Fp8HostTable closed = Fp8HostTable.copyOf(fp8, PinnedHostMemory.allocated());
                closed.close();
                assertThrows(IllegalStateException.class,
                        () -> HostTableLayer.create(m.mapping(), m.layerId(), dense, closed, DType.FLOAT32, cpu));
                assertEquals(live, DeviceBuffer.liveBytes(), "a rejected create allocated device memory");

                // AUTO over an unmapped table takes the CPU path and gives the device layer's bits.
                try (HostTableLayer auto = HostTableLayer.create(m.mapping(), m.layerId(), dense, plain, DType.FLOAT32,
                        HostTableLayer.Options.of(HostGatherPath.AUTO, 16).withGatherThreads(1).withZeroCopyMaxTokens(8));
                     EngramLayer device = deviceLayer(m, fp8, 16);
                     CudaStream stream = CudaStream.create()) {
                    assertEquals(HostGatherPath.CPU, auto.pathFor(1));
                    Seq s = m.sequence(5, SEED + 9002);
                    int c = m.channels();
                    try (DeviceBuffer ids = DeviceBuffer.allocate(5, DType.INT64);
                         DeviceBuffer hidden = DeviceBuffer.allocate(5L * c, DType.FLOAT32);
                         DeviceBuffer outHost = DeviceBuffer.allocate(5L * c, DType.FLOAT32);
                         DeviceBuffer outDevice = DeviceBuffer.allocate(5L * c, DType.FLOAT32)) {
                        ids.copyFrom(s.ids());
                        hidden.copyFrom(s.hidden());
                        DeviceTensors.poison(outHost);
                        DeviceTensors.poison(outDevice);
                        auto.forward(auto.prefetch(s.ids(), 1, 5), hidden, outHost, stream);
                        device.forward(ids, 1, 5, hidden, outDevice, stream);
                        stream.synchronize();
                        assertBitsEqual(DeviceTensors.download(outDevice), DeviceTensors.download(outHost),
                                "AUTO over an unmapped fp8 table");
                    }
                }

                // A table closed under a layer: the next prefetch throws before anything is queued.
                Fp8HostTable shortLived = Fp8HostTable.copyOf(fp8, PinnedHostMemory.allocated());
                try (HostTableLayer layer = HostTableLayer.create(m.mapping(), m.layerId(), dense, shortLived,
                        DType.FLOAT32, cpu);
                     EngramState state = layer.newState(2)) {
                    shortLived.close();
                    assertThrows(IllegalStateException.class, () -> layer.prefetch(new long[] {1, 2}, 1, 2));
                    assertThrows(IllegalStateException.class, () -> layer.prefetch(PackedBatch.decode(new int[] {0}),
                            new long[] {1}, state));
                    assertEquals(0, state.hostPrefetches, "a rejected prefetch counted");
                }
            }
        }
    }

    @Test
    void badDequantizeArgumentsAreRejectedBeforeTheLaunch() {
        try (CudaStream stream = CudaStream.create();
             DeviceBuffer codes = DeviceBuffer.allocate(64, DType.FP8_E4M3);
             DeviceBuffer scales = DeviceBuffer.allocate(8, DType.FP8_E8M0);
             DeviceBuffer out = DeviceBuffer.allocate(64, DType.FLOAT32);
             DeviceBuffer floats = DeviceBuffer.allocate(64, DType.FLOAT32)) {
            DeviceTensors.poison(out);
            var codesDtype = assertThrows(IllegalArgumentException.class,
                    () -> Fp8Dequantize.enqueue(floats, scales, 32, 8, out, stream));
            assertTrue(codesDtype.getMessage().contains("codes must be FP8_E4M3"), codesDtype.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Fp8Dequantize.enqueue(codes, codes, 32, 8, out, stream),
                    "codes as scales");
            var outDtype = assertThrows(IllegalArgumentException.class,
                    () -> Fp8Dequantize.enqueue(codes, scales, 32, 8, codes, stream));
            assertTrue(outDtype.getMessage().contains("FLOAT32 or BFLOAT16"), outDtype.getMessage());
            var block = assertThrows(IllegalArgumentException.class,
                    () -> Fp8Dequantize.enqueue(codes, scales, 32, 12, out, stream));
            assertTrue(block.getMessage().contains("divide headDim 32"), block.getMessage());
            var count = assertThrows(IllegalArgumentException.class,
                    () -> Fp8Dequantize.enqueue(codes, scales, 32, 16, out, stream));
            assertTrue(count.getMessage().contains("scales has 8 elements"), count.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Fp8Dequantize.enqueue(codes, scales, 48, 8, out, stream),
                    "codes not a whole number of rows");
            assertThrows(IllegalArgumentException.class,
                    () -> Fp8Dequantize.enqueue(codes, scales, 32, 8, out.slice(0, 63), stream), "out too short");
            assertThrows(IllegalArgumentException.class, () -> Fp8Dequantize.enqueue(codes, scales, 0, 1, out, stream));
            try (DeviceBuffer gone = DeviceBuffer.allocate(64, DType.FP8_E4M3)) {
                gone.close();
                assertThrows(IllegalStateException.class, () -> Fp8Dequantize.enqueue(gone, scales, 32, 8, out, stream));
            }
            stream.synchronize();
            for (double v : DeviceTensors.download(out)) assertTrue(Double.isNaN(v), "a rejected call wrote out");
        }
    }
}
