package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.bindings.engram_h;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.nativelib.EngramNative;
import dev.engram.nativelib.NativeLibraryLoader;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import static dev.engram.gpu.ArgumentChecks.MAX_HC_MULT;
import static dev.engram.gpu.ArgumentChecks.MAX_HIDDEN_SIZE;
import static dev.engram.gpu.ArgumentChecks.MAX_KERNEL_SIZE;
import static dev.engram.gpu.ArgumentChecks.nativeDtype;
import static dev.engram.gpu.ArgumentChecks.product;
import static dev.engram.gpu.ArgumentChecks.requireCount;
import static dev.engram.gpu.ArgumentChecks.requireDevice;
import static dev.engram.gpu.ArgumentChecks.requireDtype;
import static dev.engram.gpu.ArgumentChecks.requireFloatDtype;
import static dev.engram.gpu.ArgumentChecks.requireRange;

/**
 * Writes the carried state after a packed call ({@code engram_state_commit}, SEMANTICS.md §8), one launch queued
 * after the kernels that read the state ({@link HashedGather} and {@link ShortConv} with a batch). For every
 * sequence {@code s} of the batch, of length {@code len}:
 * <ul>
 *   <li>history (when set), {@code M = maxNgramSize - 1} entries: the compressed ids of the sequence's last {@code M}
 *       tokens, taken from this call's raw ids (through the lut) and, for a chunk shorter than {@code M}, from the
 *       slot's old history when the sequence continues, the pad id when it starts;</li>
 *   <li>conv window (when set), {@code W = (K - 1) * dilation} rows: the last {@code W} rows of {@code value} (the
 *       gated values the conv read), completed from the old window or zeros in the same way.</li>
 * </ul>
 * Every old value a slot needs is read before it is overwritten. A sequence of length 0 leaves a continuing slot as
 * it is and empties a starting one.
 */
public final class StateCommit {
    private static final String OP = "state commit";

    private StateCommit() {}

    /**
     * {@return a state commit to fill in by name, then queue with {@link Launch#enqueue(CudaStream)}}
     * Every argument is checked when it is queued.
     */
    public static Launch launch() {
        return new Launch();
    }

    /**
     * The arguments of one state commit, set by name. Required: {@link #batch}, {@link #slots}, and at least one of
     * {@link #history} (with {@link #rawIds}, {@link #padIdCompressed}, {@link #maxNgramSize}) and
     * {@link #convState} (with {@link #value}, {@link #branches}, {@link #kernel}). Not thread-safe; reusable.
     */
    public static final class Launch {
        private DeviceBatch batch;
        private Integer slots;
        private DeviceArray rawIds, lut, history;
        private Long padIdCompressed;
        private Integer maxNgramSize;
        private DeviceArray value, convState;
        private Integer hcMult, hiddenSize, kernelSize, dilation;

        private Launch() {}

        /**
         * Sets the batch whose sequences' slots are written, required.
         *
         * @param v the batch, already {@link DeviceBatch#set}
         * @return this launch
         */
        public Launch batch(DeviceBatch v) {
            batch = Objects.requireNonNull(v, "batch");
            return this;
        }

        /**
         * Sets the number of slots of the state, required.
         *
         * @param v the rows of {@code history} and {@code convState}; every slot of the batch must be below it
         * @return this launch
         */
        public Launch slots(int v) {
            slots = v;
            return this;
        }

        /**
         * Sets the call's raw token ids, required with a history.
         *
         * @param v {@code [batch.tokens()]} INT64 (raw with a lut, else already compressed)
         * @return this launch
         */
        public Launch rawIds(DeviceArray v) {
            rawIds = Objects.requireNonNull(v, "rawIds");
            return this;
        }

        /**
         * Sets the compression table; optional.
         *
         * @param v INT64, non-empty, indexed by raw id; {@code null} (the default) when the ids are already compressed
         * @return this launch
         */
        public Launch lut(DeviceArray v) {
            lut = v;
            return this;
        }

        /**
         * Sets the compressed pad id, required with a history.
         *
         * @param v the pad id, already mapped through the compression table
         * @return this launch
         */
        public Launch padIdCompressed(long v) {
            padIdCompressed = v;
            return this;
        }

        /**
         * Sets the largest n-gram order, required with a history.
         *
         * @param v {@code max_ngram_size}, in {@code [2, 16]}
         * @return this launch
         */
        public Launch maxNgramSize(int v) {
            maxNgramSize = v;
            return this;
        }

        /**
         * Sets the hash history to write; optional.
         *
         * @param v {@code [slots, maxNgramSize - 1]} INT64
         * @return this launch
         */
        public Launch history(DeviceArray v) {
            history = Objects.requireNonNull(v, "history");
            return this;
        }

        /**
         * Sets the gated values the conv read, required with a conv window.
         *
         * @param v {@code [batch.tokens(), G, H]}, FLOAT32 or BFLOAT16
         * @return this launch
         */
        public Launch value(DeviceArray v) {
            value = Objects.requireNonNull(v, "value");
            return this;
        }

        /**
         * Sets the conv window to write; optional.
         *
         * @param v {@code [slots, W, G * H]} of the value's dtype, {@code W = (kernelSize - 1) * dilation}
         * @return this launch
         */
        public Launch convState(DeviceArray v) {
            convState = Objects.requireNonNull(v, "convState");
            return this;
        }

        /**
         * Sets the branches, required with a conv window.
         *
         * @param hcMult     {@code G}, in {@code [1, 64]}
         * @param hiddenSize {@code H}, in {@code [1, 65536]}
         * @return this launch
         */
        public Launch branches(int hcMult, int hiddenSize) {
            this.hcMult = hcMult;
            this.hiddenSize = hiddenSize;
            return this;
        }

        /**
         * Sets the convolution, required with a conv window.
         *
         * @param kernelSize {@code K}, in {@code [1, 16]}
         * @param dilation   {@code >= 1}
         * @return this launch
         */
        public Launch kernel(int kernelSize, int dilation) {
            this.kernelSize = kernelSize;
            this.dilation = dilation;
            return this;
        }

        /**
         * Checks every argument in Java, then queues the commit on {@code stream}. Never allocates device memory and
         * never synchronizes; a batch without sequences queues nothing.
         *
         * @param stream the stream to queue on (after the kernels that read the state)
         * @throws IllegalStateException    when a required argument was not set, or a buffer, the batch or the stream
         *                                  is closed
         * @throws IllegalArgumentException naming the problem, for a value out of range, a wrong dtype or device, an
         *         element count that does not match its shape formula, a slot out of range, or nothing to commit
         * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
         * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
         */
        public void enqueue(CudaStream stream) {
            require(batch, "batch");
            require(slots, "slots");
            if (history != null) {
                require(rawIds, "rawIds");
                require(padIdCompressed, "padIdCompressed");
                require(maxNgramSize, "maxNgramSize");
            }
            if (convState != null) {
                require(value, "value");
                require(hcMult, "branches");
                require(kernelSize, "kernel");
            }
            enqueueChecked(batch, slots, rawIds, lut, padIdCompressed == null ? 0 : padIdCompressed,
                    maxNgramSize == null ? 0 : maxNgramSize, history, value,
                    hcMult == null ? 0 : hcMult, hiddenSize == null ? 0 : hiddenSize,
                    kernelSize == null ? 0 : kernelSize, dilation == null ? 0 : dilation, convState, stream);
        }

        private static void require(Object value, String name) {
            if (value == null) throw new IllegalStateException("state commit: " + name + " was not set");
        }
    }

    /**
     * Every check in Java, then the launch (see the class comment). {@code history} and {@code convState} may each
     * be null (not both); the arguments that only one of them needs are ignored without it.
     */
    static void enqueueChecked(DeviceBatch batch, int slots, DeviceArray rawIds, DeviceArray lut, long padIdCompressed,
                               int maxNgramSize, DeviceArray history, DeviceArray value, int hcMult, int hiddenSize,
                               int kernelSize, int dilation, DeviceArray convState, CudaStream stream) {
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(stream, "stream");
        PackedBatch packed = batch.batch();
        if (rawIds != null) rawIds.address();
        if (lut != null) lut.address();
        if (history != null) history.address();
        if (value != null) value.address();
        if (convState != null) convState.address();
        stream.handle();

        long tokens = packed.tokens();
        if (history == null && convState == null) {
            throw new IllegalArgumentException("state commit: history and convState are both null: nothing to commit");
        }
        if (history != null) {
            requireRange(OP, "maxNgramSize", maxNgramSize, 2, 16);
            if (rawIds == null) throw new IllegalArgumentException("state commit: rawIds is null, but history is set");
            requireDtype(OP, rawIds, DType.INT64, "rawIds");
            requireCount(OP, rawIds, tokens, "rawIds", "batch.tokens() = " + tokens);
            if (lut != null) {
                requireDtype(OP, lut, DType.INT64, "lut");
                if (lut.elementCount() == 0) {
                    throw new IllegalArgumentException("state commit: lut is empty (pass null when the ids are already "
                            + "compressed)");
                }
            }
            PackedChecks.requireState(OP, batch, history, "history", DType.INT64, slots, maxNgramSize - 1,
                    "(maxNgramSize - 1)");
        }
        DType dtype = DType.FLOAT32;
        boolean window = false;
        if (convState != null) {
            requireRange(OP, "hcMult", hcMult, 1, MAX_HC_MULT);
            requireRange(OP, "hiddenSize", hiddenSize, 1, MAX_HIDDEN_SIZE);
            requireRange(OP, "kernelSize", kernelSize, 1, MAX_KERNEL_SIZE);
            if (dilation < 1) throw new IllegalArgumentException("state commit: dilation must be >= 1, got " + dilation);
            if (value == null) throw new IllegalArgumentException("state commit: value is null, but convState is set");
            dtype = requireFloatDtype(OP, value, "value");
            requireCount(OP, value, product(OP, tokens, hcMult, hiddenSize), "value",
                    "batch.tokens() * hcMult * hiddenSize = " + tokens + " * " + hcMult + " * " + hiddenSize);
            long rows = (long) (kernelSize - 1) * dilation;
            if (rows > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("state commit: (kernelSize - 1) * dilation overflows int32");
            }
            PackedChecks.requireState(OP, batch, convState, "convState (value's dtype)", dtype, slots,
                    product(OP, rows, hcMult, hiddenSize), "W * hcMult * hiddenSize");
            window = rows > 0;
        }
        if (history == null && !window) {
            throw new IllegalArgumentException("state commit: no history and a conv window of 0 rows (kernelSize 1): "
                    + "nothing to commit");
        }
        PackedChecks.requireSlots(OP, packed, slots);
        if (packed.sequences() == 0) return; // the C ABI would launch nothing

        requireDevice(OP, -1, "the current device is", stream, "batch", batch.descriptors, "rawIds", rawIds, "lut", lut,
                "history", history, "value", value, "convState", convState);
        NativeLibraryLoader.require();
        MemorySegment historyAddress = history == null ? MemorySegment.NULL : history.address();
        MemorySegment windowAddress = window ? convState.address() : MemorySegment.NULL;
        int status = engram_h.engram_state_commit(history == null ? MemorySegment.NULL : PackedChecks.addressOrNull(rawIds),
                tokens, batch.cuSeqlens(), batch.seqSlots(), batch.seqStarts(), packed.sequences(), slots,
                lut == null || history == null ? MemorySegment.NULL : lut.address(),
                lut == null || history == null ? 0 : lut.elementCount(), padIdCompressed, maxNgramSize, historyAddress,
                window ? PackedChecks.addressOrNull(value) : MemorySegment.NULL, hcMult, hiddenSize, kernelSize,
                dilation, nativeDtype(dtype), windowAddress, stream.handle());
        EngramNative.check("engram_state_commit", status);
    }
}
