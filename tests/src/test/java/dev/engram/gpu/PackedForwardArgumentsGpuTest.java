package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad calls of the packed forwards, {@link DeviceBatch}, {@link EngramState} and the packed launchers throw a clear
 * exception before anything is queued: after every rejected call, the output is still NaN-poisoned and the state
 * still empty (pad history, zero window).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class PackedForwardArgumentsGpuTest {
    private static final long SEED = 20261205L;

    private static <T extends Throwable> void assertRejected(Class<T> type, String part, Executable call) {
        T e = assertThrows(type, call);
        assertTrue(e.getMessage() != null && e.getMessage().contains(part), "expected \"" + part + "\" in: " + e.getMessage());
    }

    @Test
    void badPackedForwardsThrowBeforeAnythingIsQueued() {
        PackedForwardGpuTest.Model m = PackedForwardGpuTest.Model.random(SEED, DType.FLOAT32, true);
        PackedForwardGpuTest.Model bf16 = new PackedForwardGpuTest.Model(m.mapping(), m.layerId(), m.weights(),
                DType.BFLOAT16);
        int c = m.channels(), maxTokens = 8;
        long[] pads = new long[m.config().maxNgramSize() - 1];
        Arrays.fill(pads, m.mapping().padIdCompressed());
        EngramLayer.Options options = EngramLayer.Options.of(maxTokens).withDtype(DType.FLOAT32).withMaxSequences(3);
        EngramState closedState;
        DeviceBatch closedBatch;
        try (EngramLayer layer = EngramLayer.create(m.mapping(), m.layerId(), LayerWeights.of(m.weights()), options);
             EngramLayer twin = m.layer(maxTokens);
             EngramLayer other = bf16.layer(maxTokens);
             EngramState state = layer.newState(4);
             EngramState twinState = twin.newState(4);
             EngramState otherState = other.newState(4);
             CudaStream stream = CudaStream.create();
             DeviceBatch batch = DeviceBatch.create(3);
             DeviceBatch unset = DeviceBatch.create(3);
             DeviceBuffer ids = DeviceBuffer.allocate(2, DType.INT64);
             DeviceBuffer ids3 = DeviceBuffer.allocate(3, DType.INT64);
             DeviceBuffer hidden = DeviceBuffer.allocate(2L * c, DType.FLOAT32);
             DeviceBuffer hiddenBf16 = DeviceBuffer.allocate(2L * c, DType.BFLOAT16);
             DeviceBuffer out = DeviceBuffer.allocate(2L * c, DType.FLOAT32);
             DeviceBuffer ids9 = DeviceBuffer.allocate(9, DType.INT64);
             DeviceBuffer hidden9 = DeviceBuffer.allocate(9L * c, DType.FLOAT32);
             DeviceBuffer out9 = DeviceBuffer.allocate(9L * c, DType.FLOAT32);
             DeviceBuffer table = DeviceBuffer.allocate(m.mapping().layer(1).totalRows() * m.config().headDim(),
                     DType.FLOAT32);
             DeviceBuffer rows = DeviceBuffer.allocate(2L * m.config().engramHiddenSize(), DType.FLOAT32);
             DeviceBuffer history2 = DeviceBuffer.allocate(2L * pads.length, DType.INT64)) {
            assertTrue(layer.maxSequences() == 3 && twin.maxSequences() == maxTokens);
            ids.copyFrom(new long[2]);
            DeviceTensors.upload(hidden, new float[2 * c]);
            DeviceTensors.poison(out);
            PackedBatch two = PackedBatch.ofLengths(new int[] {1, 1}, new int[] {0, 3}, new boolean[] {true, false});
            batch.set(two, stream);

            assertRejected(IllegalArgumentException.class, "rawIds has 3 elements",
                    () -> layer.forward(batch, ids3, hidden, out, state, stream));
            assertRejected(IllegalArgumentException.class, "hidden must be FLOAT32",
                    () -> layer.forward(batch, ids, hiddenBf16, out, state, stream));
            assertRejected(IllegalArgumentException.class, "hidden has " + (9 * c) + " elements",
                    () -> layer.forward(batch, ids, hidden9, out, state, stream));
            PackedBatch slot4 = PackedBatch.ofLengths(new int[] {1, 1}, new int[] {0, 4}, new boolean[] {true, true});
            assertRejected(IllegalArgumentException.class, "slots[1] = 4 is out of range: the state has 4 slots",
                    () -> layer.forward(slot4, ids, hidden, out, state, stream));
            assertRejected(IllegalArgumentException.class, "made by another layer",
                    () -> layer.forward(batch, ids, hidden, out, twinState, stream));
            assertRejected(IllegalArgumentException.class, "made by another layer",
                    () -> layer.forward(batch, ids, hidden, out, otherState, stream));
            assertRejected(IllegalStateException.class, "no batch has been set",
                    () -> layer.forward(unset, ids, hidden, out, state, stream));
            PackedBatch four = PackedBatch.ofLengths(new int[] {1, 1, 0, 0}, new int[] {0, 1, 2, 3},
                    new boolean[] {true, true, true, true});
            assertRejected(IllegalArgumentException.class, "maxSequences 3",
                    () -> layer.forward(four, ids, hidden, out, state, stream));
            assertRejected(IllegalArgumentException.class, "maxSequences 3", () -> batch.set(four, stream));
            assertRejected(IllegalArgumentException.class, "maxSequences 3",
                    () -> layer.forward(four, new long[2], new float[2 * c], state));
            PackedBatch nine = PackedBatch.ofLengths(new int[] {9}, new int[] {0}, new boolean[] {true});
            assertRejected(IllegalArgumentException.class, "maxTokens 8",
                    () -> layer.forward(nine, ids9, hidden9, out9, state, stream));
            long[] badIds = {0, m.mapping().compressionTable().size()};
            assertThrows(IndexOutOfBoundsException.class, () -> layer.forward(two, badIds, new float[2 * c], state));
            assertRejected(IllegalArgumentException.class, "rawIds has 3 elements",
                    () -> layer.forward(two, new long[3], new float[2 * c], state));

            // The launchers on their own.
            assertRejected(IllegalArgumentException.class, "nothing to commit",
                    () -> StateCommit.launch().batch(batch).slots(4).enqueue(stream));
            assertRejected(IllegalArgumentException.class, "history is null, but the batch has sequences that continue",
                    () -> HashedGather.launch().rawIds(ids).batch(batch).padIdCompressed(0).layer(m.mapping().layer(1))
                            .headsPerNgram(m.config().nHeadPerNgram()).table(table).headDim(m.config().headDim())
                            .out(rows).enqueue(stream));
            assertRejected(IllegalStateException.class, "both tokens and batch",
                    () -> ShortConv.launch().value(hidden).normWeight(hidden).convWeight(hidden).eps(1e-5f).out(out)
                            .tokens(1, 2).batch(batch).branches(1, c).kernel(2, 1).enqueue(stream));
            assertRejected(IllegalArgumentException.class, "slots[1] = 3 is out of range: the state has 2 slots",
                    () -> StateCommit.launch().batch(batch).slots(2).rawIds(ids).padIdCompressed(0)
                            .maxNgramSize(m.config().maxNgramSize()).history(history2).enqueue(stream));

            // Stream checks.
            assertFalse(stream.isCapturing());
            assertFalse(CudaStream.legacyDefault().isCapturing());
            if (CudaDevice.count() > 1) {
                CudaDevice.get(1).makeCurrent();
                try (DeviceBatch onDevice1 = DeviceBatch.create(2)) {
                    CudaDevice.get(0).makeCurrent();
                    assertRejected(IllegalArgumentException.class, "device 1",
                            () -> onDevice1.set(two, stream));
                } finally {
                    CudaDevice.get(0).makeCurrent();
                }
            }

            // Nothing was queued by any of them.
            stream.synchronize();
            for (double v : DeviceTensors.download(out)) assertTrue(Double.isNaN(v), "out was written");
            for (int slot = 0; slot < 4; slot++) {
                assertArrayEquals(pads, state.history(slot, stream), "history of slot " + slot);
                assertArrayEquals(new float[m.window() * c], state.convInputs(slot, stream), "window of slot " + slot);
            }
            assertRejected(IllegalArgumentException.class, "slot = 4 is out of range", () -> state.reset(4, stream));
            assertRejected(IllegalArgumentException.class, "to = -1 is out of range", () -> state.copy(0, -1, stream));
            closedState = state;
            closedBatch = batch;
            state.close();
            assertRejected(IllegalStateException.class, "closed",
                    () -> layer.forward(batch, ids, hidden, out, closedState, stream));
            batch.close();
            try (EngramState fresh = layer.newState(4)) {
                assertRejected(IllegalStateException.class, "DeviceBatch is closed",
                        () -> layer.forward(closedBatch, ids, hidden, out, fresh, stream));
            }
        }
        assertRejected(IllegalStateException.class, "closed", () -> closedState.history(0, CudaStream.legacyDefault()));
        closedState.close(); // idempotent
        closedBatch.close();
    }
}
