package example;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.GpuStatus;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceView;
import dev.engram.gpu.EngramLayer;
import dev.engram.gpu.LayerWeights;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.tokenizer.CompressionTable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Engram for the JVM used as a dependency, with only its public API: a config, a compression table, weights, the
 * double-precision reference forward, and, where a GPU (or the project's CUDA simulator) is usable, the GPU layer run
 * on memory and a stream this program allocated itself with raw CUDA calls ({@link ForeignCuda}), wrapped without
 * copies. Exits 1 when the GPU result differs from the reference by more than fp32 rounding (norm-wise 2e-5).
 */
public final class ConsumerMain {
    private ConsumerMain() {}

    public static void main(String[] args) {
        EngramConfig config = EngramConfig.builder()
                .engramVocabSize(List.of(4001L, 4003L)).nEmbedPerNgram(64).nHeadPerNgram(4)
                .hiddenSize(64).hcMult(2).layerIds(List.of(1)).build();
        SplittableRandom random = new SplittableRandom(7);
        long[] lut = new long[8000];
        for (int i = 0; i < lut.length; i++) lut[i] = random.nextLong(6000);
        NgramHashMapping mapping = NgramHashMapping.create(config, CompressionTable.of(lut));
        EngramWeights weights = RandomWeights.create(config, mapping.layer(1), 11);

        int batch = 2, seqLen = 16, tokens = batch * seqLen;
        int activations = tokens * config.hcMult() * config.hiddenSize();
        long[] ids = new long[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = random.nextLong(lut.length);
        double[] hidden = new double[activations];
        for (int i = 0; i < activations; i++) hidden[i] = (float) random.nextDouble(-1, 1);

        double[] reference = new ReferenceEngramLayer(mapping, 1, weights).forward(ids, hidden, batch, seqLen);
        System.out.printf("reference forward: %d values, sum %.6f%n", reference.length, sum(reference));

        GpuStatus gpu = Engram.gpuStatus();
        if (!gpu.available()) {
            System.out.println("GPU part skipped: " + gpu.describe());
            if (Boolean.getBoolean("consumer.requireGpu")) System.exit(1); // CI runs it against the simulator too
            return;
        }
        double error = gpuOnForeignMemory(mapping, weights, ids, hidden, batch, seqLen);
        System.out.printf("GPU forward on wrapped foreign memory: norm-wise relative error vs the reference %.2e%n", error);
        if (!(error < 2e-5)) { // fp32 arithmetic against double
            System.err.println("GPU result differs from the reference");
            System.exit(1);
        }
    }

    /** The "host stack" owns the memory and the stream; the library only borrows them. */
    private static double gpuOnForeignMemory(NgramHashMapping mapping, EngramWeights weights, long[] ids, double[] hidden,
                                             int batch, int seqLen) {
        int tokens = batch * seqLen, activations = hidden.length;
        double[] reference = new ReferenceEngramLayer(mapping, 1, weights).forward(ids, hidden, batch, seqLen);
        try (Arena arena = Arena.ofConfined();
             EngramLayer layer = EngramLayer.create(mapping, 1, LayerWeights.of(weights),
                     EngramLayer.Options.of(tokens).withDtype(DType.FLOAT32))) {
            MemorySegment stream = ForeignCuda.createStream();
            MemorySegment dIds = ForeignCuda.malloc(8L * tokens);
            MemorySegment dHidden = ForeignCuda.malloc(4L * activations);
            MemorySegment dOut = ForeignCuda.malloc(4L * activations);
            try {
                float[] hiddenF = new float[activations];
                for (int i = 0; i < activations; i++) hiddenF[i] = (float) hidden[i];
                // The stack's own uploads, the library's forward and the download, in order on one stream: no waits.
                ForeignCuda.copyToDevice(dIds, arena.allocateFrom(ValueLayout.JAVA_LONG, ids), stream);
                ForeignCuda.copyToDevice(dHidden, arena.allocateFrom(ValueLayout.JAVA_FLOAT, hiddenF), stream);
                try (DeviceView vIds = DeviceArray.wrap(dIds, tokens, DType.INT64);
                     DeviceView vHidden = DeviceArray.wrap(dHidden, activations, DType.FLOAT32);
                     DeviceView vOut = DeviceArray.wrap(dOut, activations, DType.FLOAT32);
                     CudaStream s = CudaStream.wrap(stream)) {
                    layer.forward(vIds, batch, seqLen, vHidden, vOut, s);
                }
                MemorySegment out = arena.allocate(4L * activations);
                ForeignCuda.copyToHost(out, dOut, stream);
                ForeignCuda.synchronize(stream);
                double diff = 0, norm = 0; // norm-wise relative error, as the library's own tests measure
                for (int i = 0; i < activations; i++) {
                    double d = out.getAtIndex(ValueLayout.JAVA_FLOAT, i) - reference[i];
                    diff += d * d;
                    norm += reference[i] * reference[i];
                }
                return Math.sqrt(diff / norm);
            } finally {
                ForeignCuda.synchronize(stream); // nothing queued may still use the memory freed below
                ForeignCuda.free(dOut);
                ForeignCuda.free(dHidden);
                ForeignCuda.free(dIds);
                ForeignCuda.destroyStream(stream);
            }
        }
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s;
    }
}
