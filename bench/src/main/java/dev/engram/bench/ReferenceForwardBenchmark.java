package dev.engram.bench;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One double-precision CPU reference forward ({@link ReferenceEngramLayer#forward}: hash, gather,
 * projections, gate, conv) at the small preset ({@link EngramConfig#small()}: H=64, G=4, E=64) with
 * V' = 3009 and B=2 x T=64 = {@value #TOKENS} tokens. The reference is the correctness yardstick, not a
 * fast path: this number is a baseline, and tokens/s = {@value #TOKENS} / (time per forward).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ReferenceForwardBenchmark {
    /** Batch rows per forward. */
    public static final int BATCH = 2;
    /** Tokens per row. */
    public static final int SEQ_LEN = 64;
    /** Tokens per forward. */
    public static final int TOKENS = BATCH * SEQ_LEN;
    /** The compressed vocabulary of the golden forward's small-config table. */
    public static final long COMPRESSED_VOCAB = 3009;

    private ReferenceEngramLayer layer;
    private long[] ids;
    private double[] hidden;

    /** Random weights (seed 0), ids and N(0,1) hidden states, built once. */
    @Setup
    public void setUp() {
        EngramConfig config = EngramConfig.small().withCompressedVocabSize(COMPRESSED_VOCAB);
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        int layerId = config.layerIds().getFirst();
        layer = new ReferenceEngramLayer(mapping, layerId, RandomWeights.create(config, mapping.layer(layerId), 0));
        SplittableRandom rng = new SplittableRandom(42);
        ids = new long[TOKENS];
        for (int i = 0; i < ids.length; i++) ids[i] = rng.nextLong(COMPRESSED_VOCAB);
        hidden = new double[TOKENS * config.hcMult() * config.hiddenSize()];
        for (int i = 0; i < hidden.length; i++) hidden[i] = rng.nextGaussian();
    }

    /** The output {@code [2, 64, 4, 64]}; returned so the JIT cannot drop the work. */
    @Benchmark
    public double[] forward() {
        return layer.forward(ids, hidden, BATCH, SEQ_LEN);
    }
}
