package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;

import java.util.Arrays;
import java.util.Objects;

/**
 * The carried state of {@code slots} sequences for one Engram layer of the CPU reference (SEMANTICS.md §8), what a
 * packed {@link ReferenceEngramLayer#forward(dev.engram.PackedBatch, long[], double[], ReferenceState) forward}
 * reads for the sequences that continue and writes after every call. Per slot:
 * <ul>
 *   <li>the hash history: the last {@code M = max_ngram_size - 1} <em>compressed</em> ids of the slot's sequence,
 *       oldest first, the compressed pad id where the sequence is shorter;</li>
 *   <li>the conv window: the last {@code W = (kernel_size - 1) * dilation} inputs of the depthwise conv, the
 *       RMSNorm'd gated values {@code norm_g(value[:, g, :])} in double, {@code [W, G*H]} oldest row first, zeros
 *       where the sequence is shorter.</li>
 * </ul>
 * A new state holds, in every slot, the state of an empty sequence. Not thread-safe.
 *
 * <pre>{@code
 * ReferenceState state = layer.newState(8);
 * layer.forward(PackedBatch.ofLengths(new int[] {5}, new int[] {3}, new boolean[] {true}), ids, hidden, state);
 * state.copy(3, 4);  // fork the sequence of slot 3 into slot 4, e.g. for a second continuation
 * }</pre>
 */
public final class ReferenceState {
    private final EngramConfig config;
    private final int layerId;
    private final long padId;
    private final int slots;
    private final int historyLength;
    private final int windowRows;
    private final int channels;
    private final long[] history;
    private final double[] window;

    /**
     * The state of {@code slots} empty sequences for one layer.
     *
     * @param mapping the model's hashing: its config sets the shapes, its compression table the pad id
     * @param layerId which of {@code mapping.layerIds()} the state belongs to
     * @param slots   number of slots, {@code >= 0}
     * @throws IllegalArgumentException when {@code layerId} is not an Engram layer, {@code slots} is negative, or the
     *                                  state would not fit in Java arrays
     */
    public ReferenceState(NgramHashMapping mapping, int layerId, int slots) {
        Objects.requireNonNull(mapping, "mapping");
        mapping.layer(layerId); // rejects a layer that is not an Engram layer
        if (slots < 0) throw new IllegalArgumentException("slots must be >= 0, got " + slots);
        this.config = mapping.config();
        this.layerId = layerId;
        this.padId = mapping.padIdCompressed();
        this.slots = slots;
        this.historyLength = config.maxNgramSize() - 1;
        this.windowRows = (config.kernelSize() - 1) * config.convDilation();
        this.channels = config.hcMult() * config.hiddenSize();
        long windowElements = (long) slots * windowRows * channels;
        if (windowElements > Integer.MAX_VALUE - 8 || (long) slots * historyLength > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(slots + " slots of [" + windowRows + ", " + channels
                    + "] conv windows do not fit in a Java array");
        }
        this.history = new long[slots * historyLength];
        this.window = new double[(int) windowElements];
        Arrays.fill(history, padId);
    }

    /** {@return the number of slots} */
    public int slots() {
        return slots;
    }

    /** {@return the Engram layer this state belongs to} */
    public int layerId() {
        return layerId;
    }

    /** {@return the configuration this state's shapes follow} */
    public EngramConfig config() {
        return config;
    }

    /** {@return the compressed pad id, what the history holds where a sequence is shorter} */
    public long padIdCompressed() {
        return padId;
    }

    /** {@return {@code M = max_ngram_size - 1}, the ids of history per slot} */
    public int historyLength() {
        return historyLength;
    }

    /** {@return {@code W = (kernel_size - 1) * dilation}, the rows of conv window per slot (0 for kernel size 1)} */
    public int windowRows() {
        return windowRows;
    }

    /** {@return {@code G * H}, the width of a conv window row} */
    public int channels() {
        return channels;
    }

    /**
     * Makes a slot hold an empty sequence: history all pad, window all zeros.
     *
     * @param slot in {@code [0, slots())}
     * @throws IndexOutOfBoundsException for a slot out of range
     */
    public void reset(int slot) {
        checkSlot(slot, "slot");
        Arrays.fill(history, slot * historyLength, (slot + 1) * historyLength, padId);
        Arrays.fill(window, windowOffset(slot), windowOffset(slot + 1), 0.0);
    }

    /**
     * Copies slot {@code from}'s state into slot {@code to} (forks a sequence, e.g. for beam search or speculative
     * decoding); both then continue independently. {@code from == to} changes nothing.
     *
     * @param from the slot to copy, in {@code [0, slots())}
     * @param to   the slot to overwrite, in {@code [0, slots())}
     * @throws IndexOutOfBoundsException for a slot out of range
     */
    public void copy(int from, int to) {
        checkSlot(from, "from");
        checkSlot(to, "to");
        System.arraycopy(history, from * historyLength, history, to * historyLength, historyLength);
        System.arraycopy(window, windowOffset(from), window, windowOffset(to), windowRows * channels);
    }

    /**
     * {@return a copy of a slot's hash history, {@code [M]} compressed ids, oldest first}
     *
     * @param slot in {@code [0, slots())}
     * @throws IndexOutOfBoundsException for a slot out of range
     */
    public long[] history(int slot) {
        checkSlot(slot, "slot");
        return Arrays.copyOfRange(history, slot * historyLength, (slot + 1) * historyLength);
    }

    /**
     * {@return a copy of a slot's conv window, {@code [W, G*H]} row-major, oldest row first}
     *
     * @param slot in {@code [0, slots())}
     * @throws IndexOutOfBoundsException for a slot out of range
     */
    public double[] convWindow(int slot) {
        checkSlot(slot, "slot");
        return Arrays.copyOfRange(window, windowOffset(slot), windowOffset(slot + 1));
    }

    /** Whether this state was made for {@code mapping}'s layer {@code layer} (same config, pad id and layer). */
    boolean belongsTo(NgramHashMapping mapping, int layer) {
        return layer == layerId && padId == mapping.padIdCompressed() && config.equals(mapping.config());
    }

    /** Copies a slot's history into {@code dst} at {@code off}. */
    void readHistory(int slot, long[] dst, int off) {
        System.arraycopy(history, slot * historyLength, dst, off, historyLength);
    }

    /** Copies a slot's window into {@code dst} at {@code off}. */
    void readWindow(int slot, double[] dst, int off) {
        System.arraycopy(window, windowOffset(slot), dst, off, windowRows * channels);
    }

    /** Overwrites a slot's history and window from {@code hist} at {@code histOff} and {@code win} at {@code winOff}. */
    void write(int slot, long[] hist, int histOff, double[] win, int winOff) {
        System.arraycopy(hist, histOff, history, slot * historyLength, historyLength);
        System.arraycopy(win, winOff, window, windowOffset(slot), windowRows * channels);
    }

    private int windowOffset(int slot) {
        return slot * windowRows * channels;
    }

    private void checkSlot(int slot, String name) {
        if (slot < 0 || slot >= slots) {
            throw new IndexOutOfBoundsException(name + " " + slot + " is out of range: the state has " + slots + " slots");
        }
    }

    @Override
    public String toString() {
        return "ReferenceState[layer=" + layerId + ", slots=" + slots + ", history=" + historyLength + ", window=["
                + windowRows + ", " + channels + "]]";
    }
}
