package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.cuda.CudaGraph;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;

import static dev.engram.gpu.PackedForwardGpuTest.Model;
import static dev.engram.gpu.PackedForwardGpuTest.Seq;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A whole decode step (packed gather, cuBLAS GEMM, gate, packed ShortConv, state commit) captured once into a
 * {@link CudaGraph} and replayed on fresh ids and hidden states gives, step after step, the outputs and the carried
 * state of the same steps queued eagerly: the graph holds no waits on events from outside the capture, cuBLAS works
 * in the layer's own workspace, nothing is allocated. Under the CUDA simulator bit for bit, on a GPU within the dtype
 * tolerance (a replay runs the captured kernels with the captured arguments, so it is expected to be exact there too).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class DecodeStepGraphGpuTest {
    private static final long SEED = 20261205L;

    @Test
    void aCapturedDecodeStepReplaysLikeTheEagerStep() {
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            long seed = SEED + (dtype == DType.FLOAT32 ? 0 : 100);
            Model m = Model.random(seed, dtype, true);
            int[] slots = {2, 0, 3};
            int[] prefill = {4, 1, 0};
            int sequences = slots.length, steps = m.window() + 3, c = m.channels();
            Seq[] seqs = new Seq[sequences];
            for (int s = 0; s < sequences; s++) seqs[s] = m.sequence(prefill[s] + steps, seed + 10 + s);
            Seq prefix = new Seq(new long[0], new float[0]);
            for (int s = 0; s < sequences; s++) prefix = prefix.concat(seqs[s].range(0, prefill[s]));
            PackedBatch start = PackedBatch.ofLengths(prefill, slots, new boolean[] {true, true, true});

            try (EngramLayer layer = m.layer(Math.max(8, prefix.length()));
                 EngramState eager = layer.newState(4);
                 EngramState graphed = layer.newState(4);
                 CudaStream stream = CudaStream.create();
                 DeviceBatch decode = DeviceBatch.create(sequences);
                 DeviceBuffer ids = DeviceBuffer.allocate(sequences, DType.INT64);
                 DeviceBuffer hidden = DeviceBuffer.allocate((long) sequences * c, dtype);
                 DeviceBuffer out = DeviceBuffer.allocate((long) sequences * c, dtype)) {
                layer.forward(start, prefix.ids(), prefix.hidden(), eager);
                layer.forward(start, prefix.ids(), prefix.hidden(), graphed);
                decode.set(PackedBatch.decode(slots), stream);
                stream.synchronize();

                float[][] eagerOut = new float[steps][];
                for (int k = 0; k < steps; k++) {
                    upload(seqs, prefill, k, ids, hidden, c);
                    DeviceTensors.poison(out);
                    layer.forward(decode, ids, hidden, out, eager, stream);
                    stream.synchronize();
                    eagerOut[k] = floats(DeviceTensors.download(out));
                }

                try (CudaGraph step = CudaGraph.capture(stream, () -> layer.forward(decode, ids, hidden, out, graphed, stream))) {
                    assertFalse(stream.isCapturing());
                    for (int k = 0; k < steps; k++) {
                        upload(seqs, prefill, k, ids, hidden, c); // fresh inputs into the captured buffers
                        DeviceTensors.poison(out);
                        step.launch(stream);
                        stream.synchronize();
                        PackedForwardGpuTest.assertGpuRunsAgree(floats(DeviceTensors.download(out)), eagerOut[k], m,
                                m + " seed " + seed + ": replay " + k + " vs the eager step");
                    }
                }
                for (int slot : slots) {
                    assertArrayEquals(eager.history(slot, stream), graphed.history(slot, stream),
                            m + ": history of slot " + slot + " after the replays");
                    PackedForwardGpuTest.assertGpuRunsAgree(graphed.convInputs(slot, stream),
                            eager.convInputs(slot, stream), m, m + ": conv window of slot " + slot + " after the replays");
                }

                // A PackedBatch forward uploads its descriptors: that is not capturable, and says so.
                assertThrows(IllegalStateException.class, () -> CudaGraph.capture(stream,
                        () -> layer.forward(PackedBatch.decode(slots), ids, hidden, out, graphed, stream)));
                assertFalse(stream.isCapturing(), "the refused capture was ended");
            }
        }
    }

    /** Step {@code k}'s ids and hidden states of every sequence into the step buffers (synchronous copies). */
    private static void upload(Seq[] seqs, int[] prefill, int k, DeviceBuffer ids, DeviceBuffer hidden, int c) {
        long[] stepIds = new long[seqs.length];
        float[] stepHidden = new float[seqs.length * c];
        for (int s = 0; s < seqs.length; s++) {
            stepIds[s] = seqs[s].ids()[prefill[s] + k];
            System.arraycopy(seqs[s].hidden(), (prefill[s] + k) * c, stepHidden, s * c, c);
        }
        ids.copyFrom(stepIds);
        DeviceTensors.upload(hidden, stepHidden);
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
