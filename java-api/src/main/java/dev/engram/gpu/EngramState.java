package dev.engram.gpu;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.cuda.DeviceScope;
import dev.engram.cuda.DeviceSlice;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * The carried state of one layer's packed forwards (SEMANTICS.md §8), one row per <em>slot</em>, in device memory
 * of the layer's device, made by {@link EngramLayer#newState(int)} for that layer only:
 * <ul>
 *   <li>hash history, int64 {@code [slots, M]}, {@code M = max_ngram_size - 1}: the last {@code M} compressed ids of
 *       the slot's sequence, oldest first, the compressed pad id where the sequence is shorter;</li>
 *   <li>conv window, {@code [slots, W, G*H]} of the layer's dtype, {@code W = (kernel_size - 1) * dilation}: the last
 *       {@code W} gated values {@code u} (the conv's input rows <em>before</em> its RMSNorm, see {@code engram.h}),
 *       oldest first, zeros where the sequence is shorter.</li>
 * </ul>
 * A new state is empty in every slot (pad history, zero window). Packed forwards read the slots of their batch
 * and write them back after the ShortConv; {@link #reset}, {@link #copy} (fork a sequence) and the read-backs work
 * on single slots.
 *
 * <p><b>Ordering.</b> Every operation is queued on a stream the caller names, in stream order; work on several
 * streams that touches the same slots must be ordered by the caller (events). {@link #close()} frees the memory
 * without waiting: synchronize the streams that use the state first, as for any device buffer. Not thread-safe.
 *
 * <p><b>Host history ({@link HostTableLayer#newState}).</b> A host-table layer's state keeps the hash history on
 * the <em>host</em> ({@link #historyOnHost()}) and only the conv window on the device: the layer's prefetch, which
 * runs ahead of the compute, hashes with the history and advances it at once, in the order prefetches are issued;
 * the forward then commits the conv window in stream order. So the history part of {@link #reset} and {@link #copy}
 * acts on the host immediately and the window part in stream order: call them between the forward of the step
 * before (on {@code stream}, or ordered before it) and the prefetch of the step after. While a prefetch of this
 * state has not been consumed by its forward they throw {@link IllegalStateException}.
 * {@link #history(int, CudaStream)} then returns the history after every prefetch issued so far, without waiting.
 */
public final class EngramState implements AutoCloseable {
    private final Object owner;
    private final String ownerText;
    private final int slots;
    private final int device;
    private final DType dtype;
    private final int historyLength;  // M
    private final int window;         // W
    private final int channels;       // G * H
    final DeviceBuffer history;       // INT64 [slots * M]; null when the history is on the host
    final DeviceBuffer convWindow;    // dtype [slots * W * G * H] (empty when W == 0)
    private final DeviceBuffer padRow; // INT64 [M] of the compressed pad id, the source of reset(); null with hostHistory
    final HostHistory hostHistory;    // a host-table layer's history, or null
    long hostPrefetches;              // with hostHistory: prefetches issued on this state (their history is advanced)
    long hostForwards;                // ... and consumed by their forward, in the same order
    private boolean closed;

    private EngramState(Object owner, String ownerText, int slots, int device, DType dtype, int historyLength,
                        int window, int channels, DeviceBuffer history, DeviceBuffer convWindow, DeviceBuffer padRow,
                        HostHistory hostHistory) {
        this.owner = owner;
        this.ownerText = ownerText;
        this.slots = slots;
        this.device = device;
        this.dtype = dtype;
        this.historyLength = historyLength;
        this.window = window;
        this.channels = channels;
        this.history = history;
        this.convWindow = convWindow;
        this.padRow = padRow;
        this.hostHistory = hostHistory;
    }

    /**
     * Allocates and empties a state on the current device; returns once it is empty (waits for its own stream only).
     *
     * @param owner     the layer the state belongs to (compared by identity)
     * @param ownerText how to name the owner in messages
     */
    static EngramState create(Object owner, String ownerText, int slots, DType dtype, int historyLength, int window,
                              int channels, long padIdCompressed) {
        return create(owner, ownerText, slots, dtype, historyLength, window, channels, padIdCompressed, false);
    }

    /**
     * As {@link #create(Object, String, int, DType, int, int, int, long)}, the hash history on the host (pad) when
     * {@code hostHistory}, with no device history.
     */
    static EngramState create(Object owner, String ownerText, int slots, DType dtype, int historyLength, int window,
                              int channels, long padIdCompressed, boolean hostHistory) {
        if (slots < 1) throw new IllegalArgumentException("EngramState: slots must be >= 1, got " + slots);
        long historyElements = ArgumentChecks.product("EngramState", slots, historyLength);
        long windowElements = ArgumentChecks.product("EngramState", slots, window, channels);
        int device = DeviceScope.currentDevice();
        DeviceBuffer h = null, w = null, pad = null;
        CudaStream init = null;
        try (Arena arena = Arena.ofConfined()) {
            HostHistory onHost = hostHistory ? new HostHistory(slots, historyLength, padIdCompressed) : null;
            w = DeviceBuffer.allocate(windowElements, dtype);
            init = CudaStream.create();
            if (!hostHistory) {
                h = DeviceBuffer.allocate(historyElements, DType.INT64);
                pad = DeviceBuffer.allocate(historyLength, DType.INT64);
                MemorySegment pads = arena.allocate(ValueLayout.JAVA_LONG, historyElements);
                for (long i = 0; i < historyElements; i++) pads.setAtIndex(ValueLayout.JAVA_LONG, i, padIdCompressed);
                h.copyFromAsync(pads, init);
                pad.copyFromAsync(pads.asSlice(0, pad.byteSize()), init);
            }
            w.zeroAsync(init);
            init.synchronize(); // the host copies are read, the state is empty before anyone else can use it
            init.close();
            return new EngramState(owner, ownerText, slots, device, dtype, historyLength, window, channels, h, w, pad,
                    onHost);
        } catch (RuntimeException | Error e) {
            CudaStream s = init;
            RuntimeException late = Closeables.closeAll(null, s == null ? null : s::synchronize, s, pad, w, h);
            if (late != null) e.addSuppressed(late);
            throw e;
        }
    }

    /** {@return the number of slots} */
    public int slots() {
        return slots;
    }

    /** {@return the device the state's memory is on (its layer's)} */
    public int device() {
        return device;
    }

    /** {@return the dtype of the conv window (its layer's storage dtype)} */
    public DType dtype() {
        return dtype;
    }

    /** {@return {@code M = max_ngram_size - 1}, the ids of history per slot} */
    public int historyLength() {
        return historyLength;
    }

    /** {@return {@code W = (kernel_size - 1) * dilation}, the rows of conv window per slot (0 for kernel size 1)} */
    public int window() {
        return window;
    }

    /** {@return {@code G * H}, the width of one conv window row} */
    public int channels() {
        return channels;
    }

    /** {@return device bytes held: history, window and the pad row (the window alone with the history on the host)} */
    public long deviceBytes() {
        return (history == null ? 0 : history.byteSize() + padRow.byteSize()) + convWindow.byteSize();
    }

    /**
     * {@return whether the hash history lives on the host: a {@link HostTableLayer}'s state (see the class comment
     * for the ordering)}
     */
    public boolean historyOnHost() {
        return hostHistory != null;
    }

    /**
     * Queues emptying {@code slot} (pad history, zero window) on {@code stream}. A sequence that starts in a
     * packed call ignores what its slot holds anyway; reset is for reading back or forking an empty slot.
     *
     * <p>With the history on the host ({@link #historyOnHost()}), the history is reset at once.
     *
     * @param slot   in {@code [0, slots())}
     * @param stream the stream to queue on, of the state's device (or the legacy default stream)
     * @throws IllegalArgumentException for a slot out of range or a stream of another device
     * @throws IllegalStateException    when the state or the stream is closed, or (history on the host) a prefetch
     *                                  of this state is not consumed yet
     */
    public void reset(int slot, CudaStream stream) {
        checkSlot("reset", slot, "slot");
        checkStream("reset", stream);
        checkNoPrefetchInFlight("reset");
        try (DeviceScope scope = DeviceScope.enter(device)) {
            if (hostHistory != null) hostHistory.reset(slot);
            else historyRow(slot).copyFromAsync(padRow, stream);
            if (window > 0) windowRow(slot).zeroAsync(stream);
        }
    }

    /**
     * Queues copying slot {@code from}'s state over slot {@code to}'s on {@code stream} (device to device), e.g. to
     * fork a sequence for beam search: continuing both slots then gives two sequences with the same past.
     * {@code from == to} queues nothing.
     *
     * <p>With the history on the host ({@link #historyOnHost()}), the history is copied at once.
     *
     * @param from   the source slot, in {@code [0, slots())}
     * @param to     the destination slot, in {@code [0, slots())}
     * @param stream the stream to queue on, of the state's device (or the legacy default stream)
     * @throws IllegalArgumentException for a slot out of range or a stream of another device
     * @throws IllegalStateException    when the state or the stream is closed, or (history on the host) a prefetch
     *                                  of this state is not consumed yet
     */
    public void copy(int from, int to, CudaStream stream) {
        checkSlot("copy", from, "from");
        checkSlot("copy", to, "to");
        checkStream("copy", stream);
        checkNoPrefetchInFlight("copy");
        if (from == to) return;
        try (DeviceScope scope = DeviceScope.enter(device)) {
            if (hostHistory != null) hostHistory.copy(from, to);
            else historyRow(to).copyFromAsync(historyRow(from), stream);
            if (window > 0) windowRow(to).copyFromAsync(windowRow(from), stream);
        }
    }

    /**
     * Reads slot {@code slot}'s hash history back: queues a copy on {@code stream}, then waits for {@code stream}
     * (only) to finish. So it sees everything queued on {@code stream} before the call, and work on other streams
     * only when the caller made {@code stream} wait for it. With the history on the host ({@link #historyOnHost()})
     * it returns the host history after every prefetch issued so far, without queueing or waiting.
     *
     * @param slot   in {@code [0, slots())}
     * @param stream the stream to read on, of the state's device (or the legacy default stream)
     * @return {@code M} compressed ids, oldest first
     * @throws IllegalArgumentException for a slot out of range or a stream of another device
     * @throws IllegalStateException    when the state or the stream is closed
     */
    public long[] history(int slot, CudaStream stream) {
        checkSlot("history", slot, "slot");
        checkStream("history", stream);
        if (hostHistory != null) return hostHistory.row(slot);
        try (DeviceScope scope = DeviceScope.enter(device); Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(ValueLayout.JAVA_LONG, historyLength);
            historyRow(slot).copyToAsync(host, stream);
            stream.synchronize();
            return host.toArray(ValueLayout.JAVA_LONG);
        }
    }

    /**
     * Reads slot {@code slot}'s conv window back (the gated values {@code u}, before the conv's RMSNorm), widened to
     * float; waits as {@link #history(int, CudaStream)} does. With {@code W == 0} returns an empty array without
     * queueing anything.
     *
     * @param slot   in {@code [0, slots())}
     * @param stream the stream to read on, of the state's device (or the legacy default stream)
     * @return {@code [W, G*H]} row-major, oldest row first
     * @throws IllegalArgumentException for a slot out of range or a stream of another device
     * @throws IllegalStateException    when the state or the stream is closed
     */
    public float[] convInputs(int slot, CudaStream stream) {
        checkSlot("convInputs", slot, "slot");
        checkStream("convInputs", stream);
        if (window == 0) return new float[0];
        try (DeviceScope scope = DeviceScope.enter(device); Arena arena = Arena.ofConfined()) {
            var row = windowRow(slot);
            MemorySegment host = arena.allocate(row.byteSize(), 8);
            row.copyToAsync(host, stream);
            stream.synchronize();
            if (dtype == DType.FLOAT32) return host.toArray(ValueLayout.JAVA_FLOAT);
            return BFloat16.toFloats(host.toArray(ValueLayout.JAVA_SHORT));
        }
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Frees the device memory, without waiting: the streams that used this state must have been synchronized.
     * Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException failure = Closeables.closeAll(null, history, convWindow, padRow);
        if (failure != null) throw failure;
    }

    @Override
    public String toString() {
        return "EngramState[" + slots + " slots of " + ownerText + ", " + dtype + ", device " + device
                + (hostHistory != null ? ", history on the host" : "") + (closed ? ", closed]" : "]");
    }

    // ---- package-private: for the layers' checks

    /** Whether {@code layer} made this state. */
    boolean belongsTo(Object layer) {
        return owner == layer;
    }

    /** The owner as messages name it. */
    String ownerText() {
        return ownerText;
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException(this + " is closed");
    }

    private void checkSlot(String op, int slot, String name) {
        checkOpen();
        if (slot < 0 || slot >= slots) {
            throw new IllegalArgumentException("EngramState." + op + ": " + name + " = " + slot + " is out of range: "
                    + "the state has " + slots + " slots");
        }
    }

    /** With the history on the host: reset and copy would act on it ahead of a queued forward's window commit. */
    private void checkNoPrefetchInFlight(String op) {
        if (hostHistory != null && hostPrefetches != hostForwards) {
            throw new IllegalStateException("EngramState." + op + ": " + (hostPrefetches - hostForwards) + " prefetch(es)"
                    + " of " + this + " not consumed yet: its history already moved past them; " + op + " after their"
                    + " forward (HostTableLayer.forward), before the next prefetch");
        }
    }

    private void checkStream(String op, CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        stream.handle();
        ArgumentChecks.requireDevice("EngramState." + op, device, "the state is on", stream);
    }

    private DeviceSlice historyRow(int slot) {
        return history.slice((long) slot * historyLength, historyLength);
    }

    private DeviceSlice windowRow(int slot) {
        long row = (long) window * channels;
        return convWindow.slice(slot * row, row);
    }
}
