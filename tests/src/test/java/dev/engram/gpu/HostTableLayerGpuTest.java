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
import dev.engram.table.EmbeddingTables;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.PinnedHostMemory;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link HostTableLayer} against {@link EngramLayer} with the same table on the device: the same ids, rows and
 * math must give bit-identical outputs, for FLOAT32 and BFLOAT16, on both gather paths, over many prefetched
 * steps with changing ids and shapes (double-buffered: step k+1 is prefetched before step k runs). Also the
 * handle rules and closing with prefetches in flight. Outputs are NaN-poisoned before each forward.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class HostTableLayerGpuTest {
    private static final long SEED = 20261124L;
    private static final int LAYER = 15;

    private static NgramHashMapping mapping() {
        return NgramHashMapping.create(EngramLayerGpuVsCpuTest.config(List.of(20_011L, 20_021L), 3, 512, 8, 4, 256, 4),
                EngramLayerGpuVsCpuTest.randomLut(SEED, 30_000, 25_000));
    }

    @Test
    void everyPathAndDtypeMatchesTheDeviceTableBitForBit() {
        NgramHashMapping mapping = mapping();
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(LAYER), SEED + 1, 0.2);
        // {3, 1500}: more than HostTableLayer.CHUNK_TOKENS, so the CPU path gathers and copies in several chunks.
        int[][] shapes = {{2, 64}, {1, 1}, {3, 37}, {3, 1500}, {4, 128}, {1, 9}, {2, 100}};
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (HostGatherPath path : HostGatherPath.values()) {
                for (HostMemory memory : List.of(PinnedHostMemory.allocated(),
                        PinnedHostMemory.registered(HostMemory.anonymousMapping(true)))) {
                    compareSteps(mapping, w, dtype, path, memory, shapes);
                }
            }
        }
    }

    private void compareSteps(NgramHashMapping mapping, EngramWeights w, DType dtype, HostGatherPath path,
                              HostMemory memory, int[][] shapes) {
        EngramConfig c = mapping.config();
        int maxTokens = 4500;
        String what = dtype + " " + path + " " + memory;
        try (EngramLayer device = EngramLayer.create(mapping, LAYER, w, dtype, maxTokens);
             HostTable table = EmbeddingTables.fromWeights(w, dtype, memory, 4);
             HostTableLayer host = HostTableLayer.create(mapping, LAYER, w.dense(), table, path, maxTokens, 3);
             CudaStream stream = CudaStream.create()) {
            EngramLayerGpuVsCpuTest.Inputs[] in = new EngramLayerGpuVsCpuTest.Inputs[shapes.length];
            for (int k = 0; k < shapes.length; k++) {
                int tokens = shapes[k][0] * shapes[k][1];
                in[k] = EngramLayerGpuVsCpuTest.Inputs.random(mapping, tokens, tokens * c.hcMult() * c.hiddenSize(), SEED + 10 + k);
            }
            Prefetch next = host.prefetch(in[0].ids(), shapes[0][0], shapes[0][1]);
            for (int k = 0; k < shapes.length; k++) {
                int b = shapes[k][0], t = shapes[k][1], act = b * t * c.hcMult() * c.hiddenSize();
                Prefetch current = next;
                if (k + 1 < shapes.length) next = host.prefetch(in[k + 1].ids(), shapes[k + 1][0], shapes[k + 1][1]);
                try (DeviceBuffer ids = DeviceBuffer.allocate(b * t, DType.INT64);
                     DeviceBuffer hidden = DeviceBuffer.allocate(act, dtype);
                     DeviceBuffer outHost = EngramLayerGpuVsCpuTest.poisoned(act, dtype);
                     DeviceBuffer outDevice = EngramLayerGpuVsCpuTest.poisoned(act, dtype)) {
                    ids.copyFrom(in[k].ids());
                    if (dtype == DType.FLOAT32) hidden.copyFrom(in[k].hidden());
                    else hidden.copyFrom(BFloat16.fromFloats(in[k].hidden()));
                    Cuda.deviceSynchronize();
                    host.forward(current, hidden, outHost, stream);
                    device.forward(ids, b, t, hidden, outDevice, stream);
                    stream.synchronize();
                    assertTrue(current.isConsumed());
                    assertBitsEqual(outDevice, outHost, dtype, what + " step " + k + " B=" + b + " T=" + t);
                }
            }
        }
    }

    /**
     * The use the design is for: at the start of each step both Engram layers' rows are prefetched (layers 1 and
     * 15, as in the reference), then the layers run in order on the compute stream, the second one taking the
     * first one's output as its hidden states. Every step equals the same chain with device-resident tables.
     */
    @Test
    void prefetchesOfSeveralLayersIssuedAtTheStartOfAStep() {
        NgramHashMapping mapping = mapping();
        EngramConfig c = mapping.config();
        int[] layerIds = {1, LAYER};
        int[][] shapes = {{2, 48}, {1, 300}, {3, 17}};
        for (HostGatherPath path : HostGatherPath.values()) {
            EngramWeights[] w = new EngramWeights[layerIds.length];
            EngramLayer[] device = new EngramLayer[layerIds.length];
            HostTable[] tables = new HostTable[layerIds.length];
            HostTableLayer[] host = new HostTableLayer[layerIds.length];
            try (CudaStream stream = CudaStream.create()) {
                for (int l = 0; l < layerIds.length; l++) {
                    w[l] = RandomWeights.create(c, mapping.layer(layerIds[l]), SEED + 20 + l, 0.2);
                    device[l] = EngramLayer.create(mapping, layerIds[l], w[l], DType.FLOAT32, 300);
                    tables[l] = EmbeddingTables.fromWeights(w[l], DType.FLOAT32, PinnedHostMemory.allocated(), 2);
                    host[l] = HostTableLayer.create(mapping, layerIds[l], w[l].dense(), tables[l], path, 300, 2);
                }
                for (int k = 0; k < shapes.length; k++) {
                    int b = shapes[k][0], t = shapes[k][1], act = b * t * c.hcMult() * c.hiddenSize();
                    var in = EngramLayerGpuVsCpuTest.Inputs.random(mapping, b * t, act, SEED + 30 + k);
                    Prefetch[] p = new Prefetch[layerIds.length];
                    for (int l = 0; l < layerIds.length; l++) p[l] = host[l].prefetch(in.ids(), b, t); // step start
                    try (DeviceBuffer ids = DeviceBuffer.allocate(b * t, DType.INT64);
                         DeviceBuffer hidden = DeviceBuffer.allocate(act, DType.FLOAT32);
                         DeviceBuffer hostMid = EngramLayerGpuVsCpuTest.poisoned(act, DType.FLOAT32);
                         DeviceBuffer hostOut = EngramLayerGpuVsCpuTest.poisoned(act, DType.FLOAT32);
                         DeviceBuffer devMid = EngramLayerGpuVsCpuTest.poisoned(act, DType.FLOAT32);
                         DeviceBuffer devOut = EngramLayerGpuVsCpuTest.poisoned(act, DType.FLOAT32)) {
                        ids.copyFrom(in.ids());
                        hidden.copyFrom(in.hidden());
                        Cuda.deviceSynchronize();
                        host[0].forward(p[0], hidden, hostMid, stream);
                        host[1].forward(p[1], hostMid, hostOut, stream);
                        device[0].forward(ids, b, t, hidden, devMid, stream);
                        device[1].forward(ids, b, t, devMid, devOut, stream);
                        stream.synchronize();
                        String what = path + " step " + k + " B=" + b + " T=" + t;
                        assertBitsEqual(devMid, hostMid, DType.FLOAT32, what + ", layer 1");
                        assertBitsEqual(devOut, hostOut, DType.FLOAT32, what + ", layer 15 after layer 1");
                    }
                }
            } finally {
                for (int l = 0; l < layerIds.length; l++) {
                    if (host[l] != null) host[l].close();
                    if (tables[l] != null) tables[l].close();
                    if (device[l] != null) device[l].close();
                }
            }
        }
    }

    /**
     * The double buffering without host synchronization between steps: every step's prefetch is issued before the
     * previous step's forward, all inputs are uploaded before and all outputs read after the pipeline, so each staging
     * slot is refilled (with other ids) while work queued on it may still be in flight, and only the layer's own waits
     * keep the steps apart. Every step must equal the device-table layer bit for bit.
     */
    @Test
    void pipelinedStepsWithoutHostSynchronizationKeepTheirRows() {
        NgramHashMapping mapping = mapping();
        EngramConfig c = mapping.config();
        EngramWeights w = RandomWeights.create(c, mapping.layer(LAYER), SEED + 40, 0.2);
        int[][] shapes = {{2, 30}, {1, 1}, {3, 17}, {4, 32}, {1, 9}, {2, 64}};
        int steps = shapes.length;
        for (HostGatherPath path : HostGatherPath.values()) {
            List<DeviceBuffer> buffers = new java.util.ArrayList<>();
            try (EngramLayer device = EngramLayer.create(mapping, LAYER, w, DType.FLOAT32, 256);
                 HostTable table = EmbeddingTables.fromWeights(w, DType.FLOAT32, PinnedHostMemory.allocated(), 2);
                 HostTableLayer host = HostTableLayer.create(mapping, LAYER, w.dense(), table, path, 256, 2);
                 CudaStream stream = CudaStream.create()) {
                EngramLayerGpuVsCpuTest.Inputs[] in = new EngramLayerGpuVsCpuTest.Inputs[steps];
                DeviceBuffer[] ids = new DeviceBuffer[steps], hidden = new DeviceBuffer[steps];
                DeviceBuffer[] outHost = new DeviceBuffer[steps], outDevice = new DeviceBuffer[steps];
                for (int k = 0; k < steps; k++) {
                    int tokens = shapes[k][0] * shapes[k][1], act = tokens * c.hcMult() * c.hiddenSize();
                    in[k] = EngramLayerGpuVsCpuTest.Inputs.random(mapping, tokens, act, SEED + 50 + k);
                    buffers.add(ids[k] = DeviceBuffer.allocate(tokens, DType.INT64));
                    buffers.add(hidden[k] = DeviceBuffer.allocate(act, DType.FLOAT32));
                    buffers.add(outHost[k] = EngramLayerGpuVsCpuTest.poisoned(act, DType.FLOAT32));
                    buffers.add(outDevice[k] = EngramLayerGpuVsCpuTest.poisoned(act, DType.FLOAT32));
                    ids[k].copyFrom(in[k].ids());
                    hidden[k].copyFrom(in[k].hidden());
                }
                Cuda.deviceSynchronize();
                Prefetch next = host.prefetch(in[0].ids(), shapes[0][0], shapes[0][1]);
                for (int k = 0; k < steps; k++) {
                    Prefetch current = next;
                    if (k + 1 < steps) next = host.prefetch(in[k + 1].ids(), shapes[k + 1][0], shapes[k + 1][1]);
                    host.forward(current, hidden[k], outHost[k], stream);
                }
                for (int k = 0; k < steps; k++) {
                    device.forward(ids[k], shapes[k][0], shapes[k][1], hidden[k], outDevice[k], stream);
                }
                stream.synchronize();
                for (int k = 0; k < steps; k++) {
                    assertBitsEqual(outDevice[k], outHost[k], DType.FLOAT32, path + " pipelined step " + k);
                }
            } finally {
                buffers.forEach(DeviceBuffer::close);
            }
        }
    }

    @Test
    void handlesAreUsedOnceAndGoStaleWhenTheirSlotIsReused() {
        NgramHashMapping mapping = mapping();
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(LAYER), SEED + 2, 0.2);
        EngramConfig c = mapping.config();
        int b = 2, t = 16, act = b * t * c.hcMult() * c.hiddenSize();
        var in = EngramLayerGpuVsCpuTest.Inputs.random(mapping, b * t, act, SEED + 3);
        try (HostTable table = EmbeddingTables.fromWeights(w, DType.FLOAT32, PinnedHostMemory.allocated(), 2);
             HostTableLayer host = HostTableLayer.create(mapping, LAYER, w.dense(), table, HostGatherPath.CPU, 64, 2);
             HostTableLayer other = HostTableLayer.create(mapping, LAYER, w.dense(), table, HostGatherPath.ZERO_COPY, 64, 1);
             CudaStream stream = CudaStream.create();
             DeviceBuffer hidden = DeviceBuffer.allocate(act, DType.FLOAT32);
             DeviceBuffer out = DeviceBuffer.allocate(act, DType.FLOAT32)) {
            hidden.copyFrom(in.hidden());
            Cuda.deviceSynchronize();
            Prefetch p = host.prefetch(in.ids(), b, t);
            host.forward(p, hidden, out, stream);
            var twice = assertThrows(IllegalStateException.class, () -> host.forward(p, hidden, out, stream));
            assertTrue(twice.getMessage().contains("already used"), twice.getMessage());

            Prefetch stale = host.prefetch(in.ids(), b, t);   // slot 1
            host.prefetch(in.ids(), b, t);                    // slot 0
            host.prefetch(in.ids(), b, t);                    // slot 1 again: `stale` is overwritten
            var staleUse = assertThrows(IllegalStateException.class, () -> host.forward(stale, hidden, out, stream));
            assertTrue(staleUse.getMessage().contains("stale"), staleUse.getMessage());

            Prefetch foreign = other.prefetch(in.ids(), b, t);
            assertThrows(IllegalStateException.class, () -> host.forward(foreign, hidden, out, stream));
            assertThrows(IllegalArgumentException.class, () -> host.prefetch(new long[b * t + 1], b, t));
            assertThrows(IllegalArgumentException.class, () -> host.prefetch(new long[8 * 16], 8, 16));
            stream.synchronize();
        }
    }

    @Test
    void closingWithPrefetchesInFlightIsSafe() {
        NgramHashMapping mapping = mapping();
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(LAYER), SEED + 4, 0.2);
        var in = EngramLayerGpuVsCpuTest.Inputs.random(mapping, 4 * 128, 1, SEED + 5);
        try (HostTable table = EmbeddingTables.fromWeights(w, DType.BFLOAT16, PinnedHostMemory.allocated(), 2)) {
            for (HostGatherPath path : HostGatherPath.values()) {
                HostTableLayer host = HostTableLayer.create(mapping, LAYER, w.dense(), table, path, 512, 2);
                Prefetch p = host.prefetch(in.ids(), 4, 128);
                host.prefetch(in.ids(), 4, 128);
                host.close(); // waits for both, then frees
                host.close();
                assertThrows(IllegalStateException.class, () -> host.prefetch(in.ids(), 4, 128));
                assertThrows(IllegalStateException.class, () -> host.forward(p, null, null, null));
            }
        }
    }

    @Test
    void zeroCopyRefusesATableThatIsNotPinned() {
        NgramHashMapping mapping = mapping();
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(LAYER), SEED + 6);
        try (HostTable plain = EmbeddingTables.fromWeights(w, DType.FLOAT32, HostMemory.plain(), 2)) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> HostTableLayer.create(mapping, LAYER, w.dense(), plain, HostGatherPath.ZERO_COPY, 64, 1));
            assertTrue(e.getMessage().contains("pinned, mapped host memory"), e.getMessage());
            // The CPU path reads the table on the CPU, so plain memory is fine there.
            HostTableLayer.create(mapping, LAYER, w.dense(), plain, HostGatherPath.CPU, 64, 1).close();
        }
    }

    private static void assertBitsEqual(DeviceBuffer expected, DeviceBuffer actual, DType dtype, String what) {
        int n = (int) expected.elementCount();
        if (dtype == DType.FLOAT32) {
            float[] e = new float[n], a = new float[n];
            expected.copyTo(e);
            actual.copyTo(a);
            for (int i = 0; i < n; i++) {
                if (Float.isNaN(a[i]) || Float.floatToRawIntBits(e[i]) != Float.floatToRawIntBits(a[i])) {
                    throw new AssertionError(what + ": element " + i + " host-table " + a[i] + " != device-table " + e[i]);
                }
            }
        } else {
            short[] e = new short[n], a = new short[n];
            expected.copyTo(e);
            actual.copyTo(a);
            for (int i = 0; i < n; i++) {
                if (Float.isNaN(BFloat16.toFloat(a[i])) || e[i] != a[i]) {
                    throw new AssertionError(what + ": element " + i + " host-table " + BFloat16.toFloat(a[i])
                            + " != device-table " + BFloat16.toFloat(e[i]));
                }
            }
        }
    }
}
