package dev.engram.reference;

import dev.engram.PackedBatch;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

/** The state object itself: shapes, a new state, reset, copy, and read-backs that are copies. */
class ReferenceStateTest {
    @Test
    void newStateHoldsEmptySequences() {
        RandomLayer l = RandomLayer.create(new SplittableRandom(21));
        ReferenceState state = l.layer.newState(3);
        assertEquals(3, state.slots());
        assertEquals(l.layerId, state.layerId());
        assertEquals(l.history, state.historyLength());
        assertEquals(l.window, state.windowRows());
        assertEquals(l.gh, state.channels());
        for (int s = 0; s < 3; s++) {
            assertArrayEquals(l.expectedHistory(new long[0]), state.history(s));
            assertArrayEquals(new double[l.window * l.gh], state.convWindow(s));
        }
    }

    @Test
    void resetCopyAndReadBack() {
        SplittableRandom r = new SplittableRandom(22);
        RandomLayer l;
        do {
            l = RandomLayer.create(r);
        } while (l.window == 0); // a window to look at
        ReferenceState state = l.layer.newState(3);
        int t = l.window + l.history + 2;
        long[] ids = l.ids(r, t);
        double[] hidden = l.hidden(r, t);
        l.layer.forward(PackedBatch.ofLengths(new int[] {t}, new int[] {1}, new boolean[] {true}), ids, hidden, state);
        ForwardTrace whole = l.whole(ids, hidden);
        long[] history = state.history(1);
        double[] window = state.convWindow(1);
        assertArrayEquals(l.expectedHistory(ids), history);
        assertArrayEquals(l.expectedWindow(whole, t), window);

        // Read-backs are copies: changing them changes nothing.
        history[0] ^= 1;
        window[0] += 1;
        assertArrayEquals(l.expectedHistory(ids), state.history(1));
        assertArrayEquals(l.expectedWindow(whole, t), state.convWindow(1));
        assertNotSame(state.history(1), state.history(1));

        state.copy(1, 2);
        assertArrayEquals(state.history(1), state.history(2));
        assertArrayEquals(state.convWindow(1), state.convWindow(2));
        state.copy(1, 1);
        assertArrayEquals(l.expectedHistory(ids), state.history(1));

        state.reset(1);
        assertArrayEquals(l.expectedHistory(new long[0]), state.history(1));
        assertArrayEquals(new double[l.window * l.gh], state.convWindow(1));
        assertArrayEquals(l.expectedHistory(ids), state.history(2), "reset touches its slot only");
        assertArrayEquals(l.expectedWindow(whole, t), state.convWindow(2));
        assertArrayEquals(l.expectedHistory(new long[0]), state.history(0), "slot 0 never written");
    }
}
