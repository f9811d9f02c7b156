package dev.engram.table;

import dev.engram.EngramConfig;
import dev.engram.cuda.DType;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ForwardTrace;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU gather against the reference's embedding gather (FLOAT32, bit-exact: it is a copy) and against a
 * scalar gather (BFLOAT16), on several shapes and thread counts; bad ids and bad arguments.
 */
class CpuRowGatherTest {
    private static final int LAYER = 15;
    private static final long VOCAB = 5000;
    private static final EngramConfig SMALL = EngramConfig.small().withCompressedVocabSize(VOCAB);
    /** D = 64 like the reference default (2 orders x 2 heads of 64 columns), small vocab and hidden size. */
    private static final EngramConfig D64 = new EngramConfig(List.of(5003L, 4001L), 3, 128, 2, List.of(1, 15), 2, 0, 4,
            32, 2, OptionalLong.of(VOCAB), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    private static final CpuRowGather ONE = new CpuRowGather(1);
    private static final CpuRowGather THREE = new CpuRowGather(3);

    @AfterAll
    static void closePools() {
        ONE.close();
        THREE.close();
    }

    static Stream<Arguments> shapes() {
        // The last two shapes exceed CpuRowGather.INLINE_BYTES in FLOAT32, so the pool splits them.
        return Stream.of(Arguments.of("small", 1, 1), Arguments.of("small", 3, 5), Arguments.of("small", 1, 37),
                Arguments.of("small", 4, 37), Arguments.of("small", 4, 600), Arguments.of("d64", 1, 37),
                Arguments.of("d64", 2, 200));
    }

    private static EngramConfig config(String name) {
        return name.equals("d64") ? D64 : SMALL;
    }

    private static long[] ids(long seed, int n) {
        return new SplittableRandom(seed).longs(n, 0, VOCAB).toArray();
    }

    @ParameterizedTest(name = "{0} B={1} T={2}")
    @MethodSource("shapes")
    void float32EqualsTheReferenceEmbedding(String name, int batch, int seqLen) {
        EngramConfig c = config(name);
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(c);
        EngramWeights w = RandomWeights.create(c, mapping.layer(LAYER), 11);
        long[] raw = ids(batch * 31L + seqLen, batch * seqLen);
        ForwardTrace trace = new ReferenceEngramLayer(mapping, LAYER, w)
                .trace(raw, new double[batch * seqLen * c.hcMult() * c.hiddenSize()], batch, seqLen);
        try (HostTable table = EmbeddingTables.fromWeights(w, DType.FLOAT32)) {
            for (CpuRowGather g : new CpuRowGather[] {ONE, THREE}) {
                float[] out = new float[trace.embeddings().length];
                long[] hash = g.hashAndGather(mapping, LAYER, raw, batch, seqLen, table, MemorySegment.ofArray(out));
                assertArrayEquals(trace.hashIds(), hash);
                double[] widened = new double[out.length];
                for (int i = 0; i < out.length; i++) widened[i] = out[i];
                assertArrayEquals(trace.embeddings(), widened, 0.0, g.threads() + " threads");
            }
        }
    }

    @ParameterizedTest(name = "{0} B={1} T={2}")
    @MethodSource("shapes")
    void bfloat16EqualsAScalarGather(String name, int batch, int seqLen) {
        EngramConfig c = config(name);
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(c);
        LayerHashing layer = mapping.layer(LAYER);
        long[] hash = mapping.hash(ids(seqLen, batch * seqLen), batch, seqLen, LAYER);
        try (HostTable table = HostTable.allocate(layer.totalRows(), c.headDim(), DType.BFLOAT16)) {
            RandomRows.fill(table, 5, 1.0, 2);
            short[] expected = scalarGather(table, layer, hash);
            for (CpuRowGather g : new CpuRowGather[] {ONE, THREE}) {
                short[] out = new short[expected.length];
                g.gather(table, layer, hash, MemorySegment.ofArray(out));
                assertArrayEquals(expected, out, g.threads() + " threads");
            }
        }
    }

    private static short[] scalarGather(HostTable table, LayerHashing layer, long[] hash) {
        int heads = layer.heads(), d = table.rowElements();
        long[] offsets = layer.offsets();
        short[] out = new short[hash.length * d];
        for (int i = 0; i < hash.length; i++) {
            long row = offsets[i % heads] + hash[i];
            for (int k = 0; k < d; k++) {
                out[i * d + k] = table.segment().getAtIndex(ValueLayout.JAVA_SHORT, row * d + k);
            }
        }
        return out;
    }

    /** A table and hash ids big enough that every thread count really splits the work. */
    private record Big(NgramHashMapping mapping, LayerHashing layer, long[] hash, int tokens) {
        static Big create() {
            NgramHashMapping m = NgramHashMapping.forCompressedIds(D64);
            int tokens = 4 * 1000;
            return new Big(m, m.layer(LAYER), m.hash(ids(99, tokens), 4, 1000, LAYER), tokens);
        }
    }

    @Test
    void everyThreadCountAndEntryPointGivesTheSameBytes() {
        Big big = Big.create();
        try (HostTable table = HostTable.allocate(big.layer.totalRows(), 64, DType.FLOAT32);
             Arena arena = Arena.ofShared()) {
            RandomRows.fill(table, 1, 1.0, 2);
            long bytes = CpuRowGather.outputBytes(table, big.layer, big.tokens);
            MemorySegment expected = arena.allocate(bytes);
            ONE.gather(table, big.layer, big.hash, expected);

            MemorySegment ids = arena.allocate(ValueLayout.JAVA_LONG, big.hash.length);
            MemorySegment.copy(big.hash, 0, ids, ValueLayout.JAVA_LONG, 0, big.hash.length);
            for (int threads : new int[] {2, 3, 8}) {
                try (CpuRowGather g = new CpuRowGather(threads)) {
                    MemorySegment out = arena.allocate(bytes);
                    g.gather(table, big.layer, big.hash, out);
                    assertEquals(-1, out.mismatch(expected), threads + " threads, long[] ids");
                    out.fill((byte) 0);
                    g.gather(table, big.layer, ids, big.tokens, out);
                    assertEquals(-1, out.mismatch(expected), threads + " threads, INT64 segment ids");
                }
            }
            // A token range lands at byte 0 of dst and equals that slice of the full gather.
            int heads = big.layer.heads();
            MemorySegment part = arena.allocate(CpuRowGather.outputBytes(table, big.layer, 1500));
            THREE.gather(table, big.layer, big.hash, 1000, 1500, part);
            long rowBytes = table.rowBytes();
            assertEquals(-1, part.mismatch(expected.asSlice(1000L * heads * rowBytes, 1500L * heads * rowBytes)));
        }
    }

    @Test
    void badIdsAreRejectedBeforeAnythingIsWritten() {
        Big big = Big.create();
        int heads = big.layer.heads();
        long[] moduli = big.layer.moduli();
        try (HostTable table = HostTable.allocate(big.layer.totalRows(), 64, DType.BFLOAT16);
             Arena arena = Arena.ofShared()) {
            MemorySegment out = arena.allocate(CpuRowGather.outputBytes(table, big.layer, big.tokens));
            for (long bad : new long[] {-1, moduli[heads - 1], Long.MAX_VALUE}) {
                long[] hash = big.hash.clone();
                int token = big.tokens - 1; // the last token: validated by the last part
                hash[token * heads + heads - 1] = bad;
                for (CpuRowGather g : new CpuRowGather[] {ONE, THREE}) {
                    out.fill((byte) 0x5A);
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> g.gather(table, big.layer, hash, out));
                    assertTrue(e.getMessage().contains("hash id " + bad + " of token " + token + ", head " + (heads - 1)
                            + " is outside [0, " + moduli[heads - 1] + ")"), e.getMessage());
                    MemorySegment untouched = arena.allocate(out.byteSize());
                    untouched.fill((byte) 0x5A);
                    assertEquals(-1, out.mismatch(untouched), "dst was not written");
                }
            }
            // Two bad ids: the message names the first.
            long[] hash = big.hash.clone();
            hash[5 * heads] = moduli[0];
            hash[3000 * heads + 1] = -7;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> THREE.gather(table, big.layer, hash, out));
            assertTrue(e.getMessage().contains("of token 5, head 0"), e.getMessage());
        }
    }

    @Test
    void badArgumentsAreRejected() {
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(SMALL);
        LayerHashing layer = mapping.layer(LAYER);
        LayerHashing other = mapping.layer(1);
        long[] hash = mapping.hash(ids(1, 10), 1, 10, LAYER);
        try (HostTable table = HostTable.allocate(layer.totalRows(), SMALL.headDim(), DType.FLOAT32)) {
            MemorySegment out = MemorySegment.ofArray(new float[10 * SMALL.engramHiddenSize()]);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ONE.gather(table, other, hash, out));
            assertTrue(e.getMessage().contains("rows"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> ONE.gather(table, layer, hash, MemorySegment.ofArray(new float[10])));
            assertTrue(e.getMessage().contains("dst holds 40 bytes"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ONE.gather(table, layer, hash, out.asReadOnly()));
            assertThrows(IllegalArgumentException.class, () -> ONE.gather(table, layer, new long[7], out));
            assertThrows(IllegalArgumentException.class, () -> ONE.gather(table, layer, hash, 8, 3, out));
            assertThrows(IllegalArgumentException.class,
                    () -> ONE.gather(table, layer, MemorySegment.ofArray(hash), 11, out));
            ONE.gather(table, layer, hash, 10, 0, out); // zero tokens: nothing to do
            try (Arena confined = Arena.ofConfined()) {
                MemorySegment mine = confined.allocate(out.byteSize());
                e = assertThrows(IllegalArgumentException.class, () -> THREE.gather(table, layer, hash, mine));
                assertTrue(e.getMessage().contains("confined"), e.getMessage());
                ONE.gather(table, layer, hash, mine); // one thread: the caller's own arena is fine
            }
        }
    }

    @Test
    void closedGatherOrTableThrows() {
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(SMALL);
        LayerHashing layer = mapping.layer(LAYER);
        long[] hash = mapping.hash(ids(1, 4), 1, 4, LAYER);
        MemorySegment out = MemorySegment.ofArray(new float[4 * SMALL.engramHiddenSize()]);
        HostTable table = HostTable.allocate(layer.totalRows(), SMALL.headDim(), DType.FLOAT32);
        CpuRowGather g = new CpuRowGather(2);
        g.gather(table, layer, hash, out);
        table.close();
        assertThrows(IllegalStateException.class, () -> g.gather(table, layer, hash, out));
        g.close();
        g.close();
        try (HostTable live = HostTable.allocate(layer.totalRows(), SMALL.headDim(), DType.FLOAT32)) {
            assertThrows(IllegalStateException.class, () -> g.gather(live, layer, hash, out));
        }
        assertThrows(IllegalArgumentException.class, () -> new CpuRowGather(0));
    }

    @Test
    void steadyStateAllocationIsBounded() {
        Big big = Big.create();
        com.sun.management.ThreadMXBean mx =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (HostTable table = HostTable.allocate(big.layer.totalRows(), 64, DType.BFLOAT16);
             Arena arena = Arena.ofShared(); CpuRowGather java = new CpuRowGather(3, false);
             CpuRowGather nat = new CpuRowGather(3)) {
            MemorySegment out = arena.allocate(CpuRowGather.outputBytes(table, big.layer, big.tokens));
            // The Java copy allocates nothing; the native one a slice per block of rows (one block per part here).
            for (CpuRowGather g : new CpuRowGather[] {java, nat}) {
                for (int i = 0; i < 2000; i++) g.gather(table, big.layer, big.hash, out); // warm up, JIT
                long before = mx.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 100; i++) g.gather(table, big.layer, big.hash, out);
                long perCall = (mx.getCurrentThreadAllocatedBytes() - before) / 100;
                long limit = g.copiesNatively() ? 128 : 64;
                assertTrue(perCall < limit, "calling thread allocated " + perCall + " bytes per gather, native copy: "
                        + g.copiesNatively());
            }
        }
    }
}
