package dev.engram.reference;

import dev.engram.PackedBatch;
import dev.engram.table.Fp8;
import dev.engram.table.Fp8Table;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference forward on an fp8 table equals, bit for bit in double, the forward on the float32 table of its
 * dequantized values: rectangular and packed (with carried state), on random small configs, for a table quantized
 * from float32 and for one of random bytes with scales far from 1.
 */
class Fp8ReferenceForwardTest {
    private static final int CONFIGS = 12;

    @TestFactory
    List<DynamicTest> fp8TableGivesTheForwardOfItsDequantizedValues() {
        return IntStream.range(0, CONFIGS).mapToObj(i -> DynamicTest.dynamicTest("config seed " + i, () -> {
            SplittableRandom r = new SplittableRandom(500 + i);
            RandomLayer l = RandomLayer.create(r);
            EngramWeights w = RandomWeights.create(l.config, l.mapping.layer(l.layerId), r.nextLong(), 0.3);
            int headDim = l.config.headDim();
            int[] divisors = IntStream.rangeClosed(1, headDim).filter(d -> headDim % d == 0).toArray();
            int block = divisors[r.nextInt(divisors.length)];
            try (Arena arena = Arena.ofConfined()) {
                Fp8Table quantized = Fp8Table.quantize(w.embedding(), headDim, block, arena);
                compare(l, r, w, quantized, true);
                compare(l, r, w, randomBytes(r, quantized.rows(), headDim, block, arena), false);
            }
        })).toList();
    }

    /** Random non-NaN value bytes, scale bytes 100..154, so the gathered rows span many binades. */
    private static Fp8Table randomBytes(SplittableRandom r, long rows, int headDim, int block, Arena arena) {
        MemorySegment v = arena.allocate(rows * headDim), s = arena.allocate(rows * (headDim / block));
        for (long i = 0; i < v.byteSize(); i++) {
            byte q;
            do q = (byte) r.nextInt(256); while (Fp8.isE4m3NaN(q));
            v.set(ValueLayout.JAVA_BYTE, i, q);
        }
        for (long i = 0; i < s.byteSize(); i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(100, 155));
        return Fp8Table.of("random fp8 table", v, s, rows, headDim, block);
    }

    private static void compare(RandomLayer l, SplittableRandom r, EngramWeights w, Fp8Table fp8, boolean quantized) {
        ReferenceEngramLayer onFp8 = new ReferenceEngramLayer(l.mapping, l.layerId, w.dense(), fp8);
        EngramWeights dequantized = new EngramWeights(w.config(), w.hashing(), fp8.toFloats(), w.keyWeight(),
                w.keyBias(), w.valueWeight(), w.valueBias(), w.keyNormWeight(), w.queryNormWeight(),
                w.convNormWeight(), w.convWeight());
        ReferenceEngramLayer onFloats = new ReferenceEngramLayer(l.mapping, l.layerId, dequantized);
        String what = l + ", block " + fp8.block() + (quantized ? ", quantized table" : ", random bytes");

        int batch = r.nextInt(1, 4), seqLen = r.nextInt(1, 12);
        long[] ids = l.ids(r, batch * seqLen);
        double[] hidden = l.hidden(r, batch * seqLen);
        ForwardTrace a = onFp8.trace(ids, hidden, batch, seqLen), b = onFloats.trace(ids, hidden, batch, seqLen);
        assertArrayEquals(b.embeddings(), a.embeddings(), what);
        assertArrayEquals(b.output(), a.output(), what);
        assertArrayEquals(b.convOutFull(), a.convOutFull(), what);
        if (quantized) {
            double[] original = new ReferenceEngramLayer(l.mapping, l.layerId, w).forward(ids, hidden, batch, seqLen);
            assertFalse(Arrays.equals(original, a.output()), "quantization changed nothing: " + what);
        }

        // Packed: two calls, the second continuing some sequences, each layer with its own state.
        int sequences = r.nextInt(1, 4);
        ReferenceState sa = onFp8.newState(sequences), sb = onFloats.newState(sequences);
        for (int call = 0; call < 2; call++) {
            int[] lengths = r.ints(sequences, 0, 2 * l.window + l.history + 3).toArray();
            int[] slots = IntStream.range(0, sequences).toArray();
            boolean[] starts = new boolean[sequences];
            for (int s = 0; s < sequences; s++) starts[s] = call == 0 || r.nextInt(3) == 0;
            PackedBatch pb = PackedBatch.ofLengths(lengths, slots, starts);
            long[] pids = l.ids(r, pb.tokens());
            double[] ph = l.hidden(r, pb.tokens());
            assertArrayEquals(onFloats.forward(pb, pids, ph, sb), onFp8.forward(pb, pids, ph, sa), what + ", call " + call);
        }
        for (int s = 0; s < sequences; s++) {
            assertArrayEquals(sb.history(s), sa.history(s), what);
            assertArrayEquals(sb.convWindow(s), sa.convWindow(s), what);
        }
    }

    @Test
    void tableOfAnotherShapeIsRefused() {
        SplittableRandom r = new SplittableRandom(1);
        RandomLayer l = RandomLayer.create(r);
        EngramWeights w = RandomWeights.create(l.config, l.mapping.layer(l.layerId), 2, 0.0);
        long rows = l.mapping.layer(l.layerId).totalRows();
        int headDim = l.config.headDim();
        try (Arena arena = Arena.ofConfined()) {
            Fp8Table extraRow = Fp8Table.of(arena.allocate((rows + 1) * headDim), arena.allocate(rows + 1), rows + 1,
                    headDim, headDim);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new ReferenceEngramLayer(l.mapping, l.layerId, w.dense(), extraRow));
            assertTrue(e.getMessage().contains("the table is [" + (rows + 1) + ", " + headDim + "], but layer "
                    + l.layerId + " reads [" + rows + ", " + headDim + "]"), e.getMessage());
            Fp8Table wider = Fp8Table.of(arena.allocate(rows * 2 * headDim), arena.allocate(rows), rows, 2 * headDim,
                    2 * headDim);
            assertThrows(IllegalArgumentException.class,
                    () -> new ReferenceEngramLayer(l.mapping, l.layerId, w.dense(), wider));
            Fp8Table ok = Fp8Table.of(arena.allocate(rows * headDim), arena.allocate(rows), rows, headDim, headDim);
            assertEquals(l.layerId, new ReferenceEngramLayer(l.mapping, l.layerId, w.dense(), ok).layerId());
        }
    }
}
