package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.hash.NgramHashMapping;
import dev.engram.hash.NgramHasher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input to the packed forward, its state and its hash is an exception whose message names the problem, raised
 * before anything is computed, and it leaves the state as it was.
 */
class PackedBadInputTest {
    private static final EngramConfig CONFIG = EngramConfig.small().withCompressedVocabSize(4000);
    private static final NgramHashMapping MAPPING = NgramHashMapping.forCompressedIds(CONFIG);
    private static final ReferenceEngramLayer LAYER =
            new ReferenceEngramLayer(MAPPING, 1, RandomWeights.create(CONFIG, MAPPING.layer(1), 1));
    private static final int GH = CONFIG.hcMult() * CONFIG.hiddenSize();
    /** Two sequences of 2 and 3 tokens in slots 1 and 0. */
    private static final PackedBatch BATCH = PackedBatch.ofLengths(new int[] {2, 3}, new int[] {1, 0}, new boolean[] {true, false});

    private static void assertMessage(Class<? extends Throwable> type, String part, Executable call) {
        Throwable e = assertThrows(type, call);
        assertTrue(e.getMessage().contains(part), "message was: " + e.getMessage());
    }

    /** A state whose slots hold some sequence, so an unwanted write would show. */
    private static ReferenceState usedState(int slots) {
        ReferenceState state = LAYER.newState(slots);
        int[] lengths = new int[slots], ids = new int[slots];
        boolean[] starts = new boolean[slots];
        for (int s = 0; s < slots; s++) {
            lengths[s] = 4;
            ids[s] = s;
            starts[s] = true;
        }
        SplittableRandom r = new SplittableRandom(3);
        LAYER.forward(PackedBatch.ofLengths(lengths, ids, starts), r.longs(4L * slots, 0, 4000).toArray(),
                r.doubles(4L * slots * GH, -1, 1).toArray(), state);
        return state;
    }

    private static void assertUnchanged(ReferenceState before, ReferenceState after) {
        for (int s = 0; s < before.slots(); s++) {
            assertArrayEquals(before.history(s), after.history(s), "history of slot " + s);
            assertArrayEquals(before.convWindow(s), after.convWindow(s), "window of slot " + s);
        }
    }

    @Test
    void wrongLengths() {
        ReferenceState state = usedState(2);
        assertMessage(IllegalArgumentException.class, "ids have 4 elements, expected [N] = 5",
                () -> LAYER.forward(BATCH, new long[4], new double[5 * GH], state));
        assertMessage(IllegalArgumentException.class, "hidden states have 10 elements, expected [N, G, H] = [5, 4, 64]",
                () -> LAYER.forward(BATCH, new long[5], new double[10], state));
        assertUnchanged(usedState(2), state);
    }

    @Test
    void slotBeyondTheState() {
        ReferenceState state = usedState(1);
        assertMessage(IllegalArgumentException.class, "slots[0] = 1 is out of range: the state has 1 slots",
                () -> LAYER.forward(BATCH, new long[5], new double[5 * GH], state));
        assertUnchanged(usedState(1), state);
    }

    @Test
    void stateOfAnotherLayerOrConfig() {
        ReferenceState otherLayer = new ReferenceState(MAPPING, 15, 2);
        assertMessage(IllegalArgumentException.class, "the state belongs to layer 15",
                () -> LAYER.forward(BATCH, new long[5], new double[5 * GH], otherLayer));
        EngramConfig otherPad = new EngramConfig(CONFIG.engramVocabSize(), 3, 32, 4, CONFIG.layerIds(), 5, 0, 4, 64, 4,
                CONFIG.compressedVocabSize(), CONFIG.gateNormEps(), CONFIG.convNormEps());
        ReferenceState otherConfig = new ReferenceState(NgramHashMapping.forCompressedIds(otherPad), 1, 2);
        assertMessage(IllegalArgumentException.class, "another model",
                () -> LAYER.forward(BATCH, new long[5], new double[5 * GH], otherConfig));
    }

    @Test
    void idsOutsideTheCompressionTable() {
        ReferenceState state = usedState(2);
        long[] ids = {1, 2, 3, 4, 4000};
        assertMessage(IndexOutOfBoundsException.class, "token id 4000 at index 4 is outside the compression table (size 4000)",
                () -> LAYER.forward(BATCH, ids, new double[5 * GH], state));
        assertUnchanged(usedState(2), state);
    }

    @Test
    void badBatchesAreRejectedWhenBuilt() {
        assertMessage(IllegalArgumentException.class, "cuSeqlens[0] must be 0, got 1",
                () -> PackedBatch.of(new int[] {1, 3}, new int[] {0}, new boolean[] {true}));
        assertMessage(IllegalArgumentException.class, "cuSeqlens must be nondecreasing, but cuSeqlens[2] = 2 < cuSeqlens[1] = 3",
                () -> PackedBatch.of(new int[] {0, 3, 2}, new int[] {0, 1}, new boolean[] {true, true}));
        assertMessage(IllegalArgumentException.class, "slot 4 is used by sequences 0 and 2",
                () -> PackedBatch.ofLengths(new int[] {1, 1, 1}, new int[] {4, 0, 4}, new boolean[3]));
        assertMessage(IllegalArgumentException.class, "slots[1] = -1 is negative",
                () -> PackedBatch.ofLengths(new int[] {1, 1}, new int[] {0, -1}, new boolean[2]));
    }

    @Test
    void badSlotsOfTheState() {
        ReferenceState state = LAYER.newState(2);
        assertMessage(IndexOutOfBoundsException.class, "slot 2 is out of range: the state has 2 slots", () -> state.reset(2));
        assertMessage(IndexOutOfBoundsException.class, "slot -1 is out of range", () -> state.history(-1));
        assertMessage(IndexOutOfBoundsException.class, "slot 5 is out of range", () -> state.convWindow(5));
        assertMessage(IndexOutOfBoundsException.class, "from 3 is out of range", () -> state.copy(3, 0));
        assertMessage(IndexOutOfBoundsException.class, "to 2 is out of range", () -> state.copy(0, 2));
        assertMessage(IllegalArgumentException.class, "slots must be >= 0, got -1", () -> LAYER.newState(-1));
        assertMessage(IllegalArgumentException.class, "layer 2 is not an Engram layer", () -> new ReferenceState(MAPPING, 2, 1));
    }

    @Test
    void badPackedHashArguments() {
        long[] m = MAPPING.layer(1).multipliers(), p = MAPPING.layer(1).moduli();
        assertMessage(IllegalArgumentException.class, "history has 3 entries, expected [S, max_ngram_size-1] = [2, 2] = 4",
                () -> NgramHasher.hashPacked(new long[3], new int[] {0, 1, 3}, new long[3], m, p, 4));
        assertMessage(IllegalArgumentException.class, "cuSeqlens ends at 2 but there are 3 ids",
                () -> NgramHasher.hashPacked(new long[3], new int[] {0, 1, 2}, new long[4], m, p, 4));
        assertMessage(IllegalArgumentException.class, "cuSeqlens[0] must be 0, got 1",
                () -> NgramHasher.hashPacked(new long[3], new int[] {1, 3}, new long[2], m, p, 4));
        assertMessage(IllegalArgumentException.class, "cuSeqlens must be nondecreasing",
                () -> NgramHasher.hashPacked(new long[3], new int[] {0, 3, 2, 3}, new long[6], m, p, 4));
    }
}
