package dev.engram;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Objects;

/**
 * The shape of a packed call (SEMANTICS.md §8): the tokens of {@code S} sequences back to back, each with the state
 * slot it reads and writes, and whether it starts in this call or continues what its slot holds. Immutable and
 * validated once when built, so the layers check a batch against their state in O(1).
 *
 * <pre>{@code
 * // two requests: a new one of 5 tokens in slot 3, and 1 decode token of the one in slot 0
 * PackedBatch batch = PackedBatch.ofLengths(new int[] {5, 1}, new int[] {3, 0}, new boolean[] {true, false});
 * // batch.tokens() == 6; sequence 0 owns tokens [0, 5), sequence 1 token 5
 * }</pre>
 */
public final class PackedBatch {
    private final int[] cuSeqlens;
    private final int[] slots;
    private final boolean[] starts;
    private final int maxSlot;
    private final int maxLength;

    private PackedBatch(int[] cuSeqlens, int[] slots, boolean[] starts) {
        this.cuSeqlens = cuSeqlens;
        this.slots = slots;
        this.starts = starts;
        int max = -1, longest = 0;
        for (int s = 0; s < slots.length; s++) {
            max = Math.max(max, slots[s]);
            longest = Math.max(longest, cuSeqlens[s + 1] - cuSeqlens[s]);
        }
        this.maxSlot = max;
        this.maxLength = longest;
    }

    /**
     * A batch from cumulative sequence lengths.
     *
     * @param cuSeqlens {@code [S + 1]}: {@code cu[0] = 0}, nondecreasing; sequence {@code s} owns tokens
     *                  {@code [cu[s], cu[s+1])}
     * @param slots     {@code [S]} state slots, each {@code >= 0}, distinct
     * @param starts    {@code [S]}: true where the sequence starts here (empty history and conv window), false where
     *                  it continues the sequence its slot holds
     * @return the batch (the arrays are copied)
     * @throws IllegalArgumentException for {@code cu[0] != 0}, a decreasing {@code cu}, lengths that disagree, or a
     *                                  negative or repeated slot; the message names the first offending index
     */
    public static PackedBatch of(int[] cuSeqlens, int[] slots, boolean[] starts) {
        Objects.requireNonNull(cuSeqlens, "cuSeqlens");
        Objects.requireNonNull(slots, "slots");
        Objects.requireNonNull(starts, "starts");
        if (cuSeqlens.length != slots.length + 1) {
            throw new IllegalArgumentException("cuSeqlens has " + cuSeqlens.length + " entries, expected slots.length + 1 = "
                    + (slots.length + 1));
        }
        if (starts.length != slots.length) {
            throw new IllegalArgumentException("starts has " + starts.length + " entries, expected one per sequence ("
                    + slots.length + ")");
        }
        if (cuSeqlens[0] != 0) throw new IllegalArgumentException("cuSeqlens[0] must be 0, got " + cuSeqlens[0]);
        for (int s = 0; s < slots.length; s++) {
            if (cuSeqlens[s + 1] < cuSeqlens[s]) {
                throw new IllegalArgumentException("cuSeqlens must be nondecreasing, but cuSeqlens[" + (s + 1) + "] = "
                        + cuSeqlens[s + 1] + " < cuSeqlens[" + s + "] = " + cuSeqlens[s]);
            }
        }
        checkSlots(slots);
        return new PackedBatch(cuSeqlens.clone(), slots.clone(), starts.clone());
    }

    /**
     * A batch from cumulative sequence lengths in int64 (as torch's {@code cu_seqlens} often are).
     *
     * @param cuSeqlens {@code [S + 1]}, as {@link #of(int[], int[], boolean[])}; every entry must fit an int
     * @param slots     {@code [S]} state slots, each {@code >= 0}, distinct
     * @param starts    {@code [S]} whether each sequence starts here
     * @return the batch
     * @throws IllegalArgumentException as {@link #of(int[], int[], boolean[])}, or for an entry beyond int range
     */
    public static PackedBatch of(long[] cuSeqlens, int[] slots, boolean[] starts) {
        Objects.requireNonNull(cuSeqlens, "cuSeqlens");
        int[] cu = new int[cuSeqlens.length];
        for (int i = 0; i < cu.length; i++) {
            if (cuSeqlens[i] < Integer.MIN_VALUE || cuSeqlens[i] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("cuSeqlens[" + i + "] = " + cuSeqlens[i] + " is beyond int range");
            }
            cu[i] = (int) cuSeqlens[i];
        }
        return of(cu, slots, starts);
    }

    /**
     * A batch from per-sequence lengths.
     *
     * @param lengths {@code [S]} tokens of each sequence in this call, each {@code >= 0}
     * @param slots   {@code [S]} state slots, each {@code >= 0}, distinct
     * @param starts  {@code [S]} whether each sequence starts here
     * @return the batch
     * @throws IllegalArgumentException for a negative length, a total beyond int range, or bad slots
     */
    public static PackedBatch ofLengths(int[] lengths, int[] slots, boolean[] starts) {
        Objects.requireNonNull(lengths, "lengths");
        int[] cu = new int[lengths.length + 1];
        for (int s = 0; s < lengths.length; s++) {
            if (lengths[s] < 0) throw new IllegalArgumentException("lengths[" + s + "] = " + lengths[s] + " is negative");
            long next = (long) cu[s] + lengths[s];
            if (next > Integer.MAX_VALUE) throw new IllegalArgumentException("total length exceeds " + Integer.MAX_VALUE);
            cu[s + 1] = (int) next;
        }
        return of(cu, slots, starts);
    }

    /**
     * A decode step: one token per sequence, every sequence continuing its slot.
     *
     * @param slots {@code [S]} state slots, each {@code >= 0}, distinct
     * @return the batch with {@code cu = [0, 1, .., S]}
     * @throws IllegalArgumentException for bad slots
     */
    public static PackedBatch decode(int[] slots) {
        Objects.requireNonNull(slots, "slots");
        int[] cu = new int[slots.length + 1];
        for (int s = 0; s <= slots.length; s++) cu[s] = s;
        return of(cu, slots, new boolean[slots.length]);
    }

    /**
     * The rectangular batch {@code [batch, seqLen]} as a packed one: row {@code b} in slot {@code b}, every row
     * starting.
     *
     * @param batch  rows, {@code >= 0}
     * @param seqLen tokens per row, {@code >= 0}
     * @return the batch
     * @throws IllegalArgumentException for negative sizes or more than {@link Integer#MAX_VALUE} tokens
     */
    public static PackedBatch rectangular(int batch, int seqLen) {
        if (batch < 0 || seqLen < 0) {
            throw new IllegalArgumentException("batch and seqLen must be >= 0, got " + batch + " x " + seqLen);
        }
        int[] lengths = new int[batch];
        int[] slots = new int[batch];
        boolean[] starts = new boolean[batch];
        Arrays.fill(lengths, seqLen);
        Arrays.fill(starts, true);
        for (int b = 0; b < batch; b++) slots[b] = b;
        return ofLengths(lengths, slots, starts);
    }

    private static void checkSlots(int[] slots) {
        HashMap<Integer, Integer> seen = new HashMap<>();
        for (int s = 0; s < slots.length; s++) {
            if (slots[s] < 0) throw new IllegalArgumentException("slots[" + s + "] = " + slots[s] + " is negative");
            Integer before = seen.put(slots[s], s);
            if (before != null) {
                throw new IllegalArgumentException("slot " + slots[s] + " is used by sequences " + before + " and " + s
                        + "; a slot may appear once per call");
            }
        }
    }

    /**
     * Checks that every slot of this batch exists in a state of {@code numSlots} slots.
     *
     * @param numSlots the state's slot count
     * @throws IllegalArgumentException naming the first slot {@code >= numSlots}
     */
    public void requireSlotsBelow(int numSlots) {
        if (maxSlot < numSlots) return;
        for (int s = 0; s < slots.length; s++) {
            if (slots[s] >= numSlots) {
                throw new IllegalArgumentException("slots[" + s + "] = " + slots[s] + " is out of range: the state has "
                        + numSlots + " slots");
            }
        }
    }

    /** {@return the number of sequences {@code S}} */
    public int sequences() {
        return slots.length;
    }

    /** {@return the total number of tokens, {@code cu[S]}} */
    public int tokens() {
        return cuSeqlens[slots.length];
    }

    /** {@return the largest slot used, or -1 for an empty batch} */
    public int maxSlot() {
        return maxSlot;
    }

    /** {@return the longest sequence's token count in this call} */
    public int maxLength() {
        return maxLength;
    }

    /**
     * {@return the first token of sequence {@code s}}
     * @param s sequence index
     */
    public int start(int s) {
        return cuSeqlens[s];
    }

    /**
     * {@return the tokens of sequence {@code s} in this call}
     * @param s sequence index
     */
    public int length(int s) {
        return cuSeqlens[s + 1] - cuSeqlens[s];
    }

    /**
     * {@return the state slot of sequence {@code s}}
     * @param s sequence index
     */
    public int slot(int s) {
        return slots[s];
    }

    /**
     * {@return whether sequence {@code s} starts in this call}
     * @param s sequence index
     */
    public boolean starts(int s) {
        return starts[s];
    }

    /** {@return a copy of {@code cu_seqlens}, {@code [S + 1]}} */
    public int[] cuSeqlens() {
        return cuSeqlens.clone();
    }

    /** {@return a copy of the slots, {@code [S]}} */
    public int[] slots() {
        return slots.clone();
    }

    /** {@return a copy of the start flags, {@code [S]}} */
    public boolean[] startFlags() {
        return starts.clone();
    }

    @Override
    public String toString() {
        return "PackedBatch[sequences=" + slots.length + ", tokens=" + tokens() + ", cu=" + Arrays.toString(cuSeqlens)
                + ", slots=" + Arrays.toString(slots) + ", starts=" + Arrays.toString(starts) + "]";
    }
}
