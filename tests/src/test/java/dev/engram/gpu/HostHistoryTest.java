package dev.engram.gpu;

import dev.engram.PackedBatch;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * {@link HostHistory} (no GPU): a sequence fed in random chunks (0, 1, shorter and longer than M), packed with others
 * in shuffled slots, leaves its slot holding its last M compressed ids (pad where shorter), as SEMANTICS.md §8 and
 * {@code engram_state_commit} define; the rows a packed hash reads are the slot's for a continuing sequence and pad
 * for a starting one; reset and copy act on single slots.
 */
class HostHistoryTest {
    private static final long PAD = -7;

    @Test
    void chunkedSequencesLeaveTheirLastIdsInTheirSlots() {
        Random r = new Random(20261205L);
        for (int trial = 0; trial < 200; trial++) {
            int m = 1 + r.nextInt(4), sequences = 1 + r.nextInt(4), slots = sequences + r.nextInt(3);
            HostHistory history = new HostHistory(slots, m, PAD);
            List<Integer> free = new ArrayList<>();
            for (int s = 0; s < slots; s++) free.add(s);
            Collections.shuffle(free, r);
            long[][] fed = new long[sequences][0]; // every sequence's ids so far
            boolean[] started = new boolean[sequences];
            for (int step = 0; step < 6; step++) {
                List<Integer> active = new ArrayList<>();
                for (int s = 0; s < sequences; s++) if (r.nextInt(3) > 0) active.add(s);
                Collections.shuffle(active, r);
                int n = active.size();
                int[] lengths = new int[n], batchSlots = new int[n];
                boolean[] starts = new boolean[n];
                long[] ids = new long[0];
                for (int k = 0; k < n; k++) {
                    int s = active.get(k);
                    lengths[k] = switch (r.nextInt(4)) {
                        case 0 -> 0;
                        case 1 -> 1;
                        case 2 -> 1 + r.nextInt(Math.max(1, m));
                        default -> m + 1 + r.nextInt(4);
                    };
                    batchSlots[k] = free.get(s);
                    starts[k] = !started[s] || r.nextInt(6) == 0; // a restart forgets the sequence so far
                    if (starts[k]) fed[s] = new long[0];
                    started[s] = true;
                    long[] chunk = r.longs(lengths[k], 0, 1000).toArray();
                    fed[s] = concat(fed[s], chunk);
                    ids = concat(ids, chunk);
                }
                PackedBatch batch = PackedBatch.ofLengths(lengths, batchSlots, starts);
                long[] rows = new long[n * m + 3];
                Arrays.fill(rows, Long.MIN_VALUE);
                history.rowsOf(batch, rows);
                for (int k = 0; k < n; k++) {
                    long[] expected = starts[k] ? pads(m) : lastIds(Arrays.copyOf(fed[active.get(k)],
                            fed[active.get(k)].length - lengths[k]), m);
                    assertArrayEquals(expected, Arrays.copyOfRange(rows, k * m, (k + 1) * m), "rows read, trial " + trial);
                }
                history.advance(batch, concat(ids, new long[] {99, 98})); // a longer (reused) array is fine
                for (int s = 0; s < sequences; s++) {
                    long[] expected = started[s] ? lastIds(fed[s], m) : pads(m);
                    assertArrayEquals(expected, history.row(free.get(s)), "trial " + trial + " step " + step + " seq " + s);
                }
            }
        }
    }

    @Test
    void resetAndCopyActOnSingleSlots() {
        HostHistory history = new HostHistory(3, 2, PAD);
        history.advance(PackedBatch.ofLengths(new int[] {3, 1}, new int[] {0, 2}, new boolean[] {true, true}),
                new long[] {1, 2, 3, 4});
        assertArrayEquals(new long[] {2, 3}, history.row(0));
        assertArrayEquals(new long[] {PAD, 4}, history.row(2));
        history.copy(0, 1);
        assertArrayEquals(new long[] {2, 3}, history.row(1));
        history.reset(0);
        assertArrayEquals(pads(2), history.row(0));
        assertArrayEquals(new long[] {2, 3}, history.row(1));
        assertArrayEquals(new long[] {PAD, 4}, history.row(2));
    }

    private static long[] lastIds(long[] ids, int m) {
        long[] out = pads(m);
        for (int j = 0; j < m; j++) {
            int p = ids.length - m + j;
            if (p >= 0) out[j] = ids[p];
        }
        return out;
    }

    private static long[] pads(int m) {
        long[] out = new long[m];
        Arrays.fill(out, PAD);
        return out;
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
