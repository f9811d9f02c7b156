package dev.engram.reference;

import dev.engram.PackedBatch;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * SEMANTICS.md §8 on the CPU reference: sequences run in consecutive chunks, packed together with other sequences
 * in shuffled slots, their state carried, give bit for bit the outputs and hash ids of the rectangular forward of
 * each whole sequence, and leave in their slots the last ids and the last normed conv inputs. Random small configs,
 * random split points (chunks of 0, 1, shorter and longer than the conv window and the history), fixed seeds.
 */
class PackedForwardPropertiesTest {
    private static final int CONFIGS = 48;

    /** One sequence of a run: its tokens, its chunks, where it stands, and what its chunks gave. */
    private static final class Seq {
        final long[] ids;
        final double[] hidden;
        final int[] chunks;
        final double[] out;
        final long[] hashIds;
        int nextChunk, pos, slot;

        Seq(RandomLayer l, SplittableRandom r, int length) {
            ids = l.ids(r, length);
            hidden = l.hidden(r, length);
            chunks = l.randomChunks(r, length);
            out = new double[length * l.gh];
            hashIds = new long[length * l.heads];
        }

        boolean done() {
            return nextChunk == chunks.length;
        }
    }

    @TestFactory
    List<DynamicTest> chunkedEqualsWholeOnRandomConfigs() {
        return IntStream.range(0, CONFIGS).mapToObj(i -> DynamicTest.dynamicTest("config seed " + i,
                () -> chunkedEqualsWhole(new SplittableRandom(1000 + i)))).toList();
    }

    private static void chunkedEqualsWhole(SplittableRandom r) {
        RandomLayer l = RandomLayer.create(r);
        int sequences = r.nextInt(1, 5);
        List<Seq> seqs = new ArrayList<>();
        for (int s = 0; s < sequences; s++) seqs.add(new Seq(l, r, r.nextInt(0, 3 * l.window + 2 * l.history + 6)));
        ReferenceState state = l.layer.newState(sequences + r.nextInt(0, 3));
        dirty(l, r, state);
        int[] slots = shuffled(r, state.slots());
        for (int s = 0; s < sequences; s++) seqs.get(s).slot = slots[s];

        while (seqs.stream().anyMatch(q -> !q.done())) step(l, r, seqs, state);

        for (int s = 0; s < sequences; s++) {
            Seq q = seqs.get(s);
            String what = l + ", sequence " + s + " of length " + q.ids.length + ", chunks " + java.util.Arrays.toString(q.chunks);
            ForwardTrace whole = l.whole(q.ids, q.hidden);
            if (whole != null) {
                assertArrayEquals(whole.output(), q.out, what);
                assertArrayEquals(whole.hashIds(), q.hashIds, what);
            }
            assertArrayEquals(l.expectedHistory(q.ids), state.history(q.slot), "history, " + what);
            double[] window = whole == null ? new double[l.window * l.gh] : l.expectedWindow(whole, q.ids.length);
            assertArrayEquals(window, state.convWindow(q.slot), "conv window, " + what);
        }
    }

    /** One packed call: the next chunk of a random subset of the unfinished sequences, in shuffled order. */
    private static void step(RandomLayer l, SplittableRandom r, List<Seq> seqs, ReferenceState state) {
        List<Seq> in = new ArrayList<>();
        for (Seq q : seqs) {
            if (!q.done() && r.nextInt(5) != 0) in.add(q);
        }
        java.util.Collections.shuffle(in, new java.util.Random(r.nextLong()));
        int n = in.size();
        int[] lengths = new int[n], slots = new int[n];
        boolean[] starts = new boolean[n];
        for (int s = 0; s < n; s++) {
            Seq q = in.get(s);
            lengths[s] = q.chunks[q.nextChunk];
            slots[s] = q.slot;
            starts[s] = q.nextChunk == 0;
        }
        PackedBatch batch = PackedBatch.ofLengths(lengths, slots, starts);
        long[] ids = new long[batch.tokens()];
        double[] hidden = new double[batch.tokens() * l.gh];
        for (int s = 0; s < n; s++) {
            Seq q = in.get(s);
            System.arraycopy(q.ids, q.pos, ids, batch.start(s), lengths[s]);
            System.arraycopy(q.hidden, q.pos * l.gh, hidden, batch.start(s) * l.gh, lengths[s] * l.gh);
        }
        ForwardTrace t = l.layer.trace(batch, ids, hidden, state);
        assertEquals(batch.tokens() * l.gh, t.output().length);
        for (int s = 0; s < n; s++) {
            Seq q = in.get(s);
            System.arraycopy(t.output(), batch.start(s) * l.gh, q.out, q.pos * l.gh, lengths[s] * l.gh);
            System.arraycopy(t.hashIds(), batch.start(s) * l.heads, q.hashIds, q.pos * l.heads, lengths[s] * l.heads);
            q.pos += lengths[s];
            q.nextChunk++;
        }
    }

    /** Fills every slot with the state of some unrelated sequence, which a starting sequence must ignore. */
    private static void dirty(RandomLayer l, SplittableRandom r, ReferenceState state) {
        int slots = state.slots();
        int[] lengths = r.ints(slots, 1, l.window + l.history + 3).toArray();
        boolean[] starts = new boolean[slots];
        java.util.Arrays.fill(starts, true);
        PackedBatch junk = PackedBatch.ofLengths(lengths, shuffled(r, slots), starts);
        l.layer.forward(junk, l.ids(r, junk.tokens()), l.hidden(r, junk.tokens()), state);
    }

    private static int[] shuffled(SplittableRandom r, int n) {
        int[] a = IntStream.range(0, n).toArray();
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    @Test
    void forkedSlotsContinueIndependently() {
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 8; trial++) {
            RandomLayer l = RandomLayer.create(r);
            int prefix = r.nextInt(0, l.window + l.history + 3);
            long[] ids = l.ids(r, prefix);
            double[] hidden = l.hidden(r, prefix);
            ReferenceState state = l.layer.newState(3);
            l.layer.forward(PackedBatch.ofLengths(new int[] {prefix}, new int[] {2}, new boolean[] {true}), ids, hidden, state);
            state.copy(2, 0);
            assertArrayEquals(state.history(2), state.history(0));
            assertArrayEquals(state.convWindow(2), state.convWindow(0));

            // Both continue in one call, with other tokens and other lengths, then once more 1 token each.
            int a = r.nextInt(1, l.window + 4), b = r.nextInt(1, l.window + 4);
            long[] idsA = l.ids(r, a + 1), idsB = l.ids(r, b + 1);
            double[] hiddenA = l.hidden(r, a + 1), hiddenB = l.hidden(r, b + 1);
            PackedBatch both = PackedBatch.ofLengths(new int[] {b, a}, new int[] {0, 2}, new boolean[] {false, false});
            double[] y = l.layer.forward(both, concat(RandomLayer.slice(idsB, 0, b), RandomLayer.slice(idsA, 0, a)),
                    concat(RandomLayer.slice(hiddenB, 0, b * l.gh), RandomLayer.slice(hiddenA, 0, a * l.gh)), state);
            double[] decode = l.layer.forward(PackedBatch.decode(new int[] {2, 0}), new long[] {idsA[a], idsB[b]},
                    concat(RandomLayer.slice(hiddenA, a * l.gh, (a + 1) * l.gh),
                            RandomLayer.slice(hiddenB, b * l.gh, (b + 1) * l.gh)), state);

            double[] wholeA = l.whole(concat(ids, idsA), concat(hidden, hiddenA)).output();
            double[] wholeB = l.whole(concat(ids, idsB), concat(hidden, hiddenB)).output();
            int p = prefix * l.gh;
            assertArrayEquals(RandomLayer.slice(wholeB, p, p + b * l.gh), RandomLayer.slice(y, 0, b * l.gh), "fork B, " + l);
            assertArrayEquals(RandomLayer.slice(wholeA, p, p + a * l.gh), RandomLayer.slice(y, b * l.gh, y.length),
                    "fork A, " + l);
            assertArrayEquals(RandomLayer.slice(wholeA, wholeA.length - l.gh, wholeA.length), RandomLayer.slice(decode, 0, l.gh),
                    "fork A decode, " + l);
            assertArrayEquals(RandomLayer.slice(wholeB, wholeB.length - l.gh, wholeB.length),
                    RandomLayer.slice(decode, l.gh, 2 * l.gh), "fork B decode, " + l);
            assertArrayEquals(l.expectedHistory(concat(ids, idsA)), state.history(2));
            assertArrayEquals(l.expectedHistory(concat(ids, idsB)), state.history(0));
        }
    }

    @Test
    void rectangularBatchAsPackedIsTheRectangularForward() {
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 6; trial++) {
            RandomLayer l = RandomLayer.create(r);
            int b = r.nextInt(1, 4), t = r.nextInt(1, 20);
            long[] ids = l.ids(r, b * t);
            double[] hidden = l.hidden(r, b * t);
            ForwardTrace rect = l.layer.trace(ids, hidden, b, t);
            ForwardTrace packed = l.layer.trace(PackedBatch.rectangular(b, t), ids, hidden, l.layer.newState(b));
            assertArrayEquals(rect.compressedIds(), packed.compressedIds());
            assertArrayEquals(rect.hashIds(), packed.hashIds());
            assertArrayEquals(rect.shiftedIds(), packed.shiftedIds());
            assertArrayEquals(rect.gate(), packed.gate());
            assertArrayEquals(rect.value(), packed.value());
            assertArrayEquals(rect.convInNormed(), packed.convInNormed());
            assertArrayEquals(rect.shortConvOut(), packed.shortConvOut());
            assertArrayEquals(rect.output(), packed.output(), l.toString());
        }
    }

    @Test
    void decodingTokenByTokenEqualsTheWholeSequence() {
        SplittableRandom r = new SplittableRandom(13);
        RandomLayer l = RandomLayer.create(r);
        int t = 2 * l.window + l.history + 5;
        long[] ids = l.ids(r, t);
        double[] hidden = l.hidden(r, t);
        ReferenceState state = l.layer.newState(1);
        double[] y = new double[t * l.gh];
        for (int i = 0; i < t; i++) {
            PackedBatch step = PackedBatch.ofLengths(new int[] {1}, new int[] {0}, new boolean[] {i == 0});
            double[] yi = l.layer.forward(step, new long[] {ids[i]}, RandomLayer.slice(hidden, i * l.gh, (i + 1) * l.gh), state);
            System.arraycopy(yi, 0, y, i * l.gh, l.gh);
        }
        assertArrayEquals(l.whole(ids, hidden).output(), y, l.toString());
    }

    @Test
    void emptyBatchLeavesTheStateAlone() {
        RandomLayer l = RandomLayer.create(new SplittableRandom(17));
        ReferenceState state = l.layer.newState(2);
        dirty(l, new SplittableRandom(18), state);
        long[] history = state.history(1);
        double[] window = state.convWindow(1);
        double[] y = l.layer.forward(PackedBatch.ofLengths(new int[0], new int[0], new boolean[0]), new long[0],
                new double[0], state);
        assertEquals(0, y.length);
        // A continuing sequence with no tokens keeps its state; a starting one is reset.
        l.layer.forward(PackedBatch.ofLengths(new int[] {0, 0}, new int[] {1, 0}, new boolean[] {false, true}), new long[0],
                new double[0], state);
        assertArrayEquals(history, state.history(1));
        assertArrayEquals(window, state.convWindow(1));
        assertArrayEquals(l.expectedHistory(new long[0]), state.history(0));
        assertArrayEquals(new double[l.window * l.gh], state.convWindow(0));
    }

    private static long[] concat(long[] a, long[] b) {
        long[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
