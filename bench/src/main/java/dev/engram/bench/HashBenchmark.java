package dev.engram.bench;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
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
 * Java n-gram hashing throughput at the reference default config (N=3, 8 heads per order, so 16 hash
 * ids per token) with V' = 99464, the compressed vocabulary of the hash goldens. One operation hashes
 * B=4 x T=4096 = {@value #TOKENS} compressed ids for one layer (output array allocation included, as
 * {@link NgramHashMapping#hashCompressed} allocates it); tokens/s = ops/s x {@value #TOKENS}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class HashBenchmark {
    /** Batch rows per operation. */
    public static final int BATCH = 4;
    /** Tokens per row. */
    public static final int SEQ_LEN = 4096;
    /** Tokens hashed per operation. */
    public static final int TOKENS = BATCH * SEQ_LEN;
    /** The golden default config's compressed vocabulary size. */
    public static final long COMPRESSED_VOCAB = 99_464;

    private NgramHashMapping mapping;
    private long[] ids;
    private int layerId;

    /** Builds the mapping (multipliers, primes) and fixed random ids once; neither is measured. */
    @Setup
    public void setUp() {
        mapping = NgramHashMapping.forCompressedIds(EngramConfig.referenceDefault().withCompressedVocabSize(COMPRESSED_VOCAB));
        layerId = mapping.layerIds().getFirst();
        SplittableRandom rng = new SplittableRandom(42);
        ids = new long[TOKENS];
        for (int i = 0; i < ids.length; i++) ids[i] = rng.nextLong(COMPRESSED_VOCAB);
    }

    /** Hash ids {@code [4, 4096, 16]} of one layer; returned so the JIT cannot drop the work. */
    @Benchmark
    public long[] hashOneLayer() {
        return mapping.hashCompressed(ids, BATCH, SEQ_LEN, layerId);
    }
}
