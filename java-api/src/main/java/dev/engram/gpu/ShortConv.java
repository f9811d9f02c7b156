package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.bindings.engram_h;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.nativelib.EngramNative;
import dev.engram.nativelib.NativeLibraryLoader;

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
import static dev.engram.gpu.ArgumentChecks.requireNoOverlap;
import static dev.engram.gpu.ArgumentChecks.requirePositiveFinite;
import static dev.engram.gpu.ArgumentChecks.requireRange;

/**
 * The Engram ShortConv on the GPU ({@code engram_short_conv}, {@code kernels/short_conv.cu},
 * SEMANTICS.md §5): per-branch RMSNorm, a depthwise causal dilated convolution over time, SiLU and the
 * residual, in one kernel launch.
 *
 * <p>With {@code G = hcMult}, {@code H = hiddenSize}, {@code K = kernelSize} and channel {@code c = g*H + h}
 * of {@code C = G*H}:
 * <pre>
 *   xn[b, t, g, :] = RMSNorm(value[b, t, g, :], eps) * normWeight[g*H ..]             (mean over H)
 *   y[b, t, c]     = sum_{k&lt;K} convWeight[c, k] * xn[b, t - (K-1-k)*dilation, c]   (0 for t - .. &lt; 0)
 *   out[b, t, c]   = value[b, t, c] + SiLU(y[b, t, c])
 * </pre>
 * i.e. torch's depthwise {@code Conv1d(C, C, K, groups=C, padding=(K-1)*dilation, dilation)} with the first
 * T outputs kept: causal, zero before each sequence start, nothing crosses sequences; T may be shorter than
 * the receptive field {@code (K-1)*dilation + 1}. In Engram, {@code K = kernel_size}, {@code dilation =
 * max_ngram_size} and {@code eps = 1e-5}. Arithmetic is fp32; with BFLOAT16 tensors the output is rounded
 * to bf16.
 */
public final class ShortConv {
    private static final String OP = "short conv";

    private ShortConv() {}

    /**
     * {@return a ShortConv launch to fill in by name, then queue with {@link Launch#enqueue(CudaStream)}}
     * Every argument is checked when it is queued.
     */
    public static Launch launch() {
        return new Launch();
    }

    /**
     * The arguments of one ShortConv launch, set by name (no positional list of same-typed values to swap).
     * Required: every setter whose parameter is not documented as optional. Not thread-safe; reusable.
     */
    public static final class Launch {
        private DeviceArray value;
        private DeviceArray normWeight;
        private DeviceArray convWeight;
        private Float eps;
        private DeviceArray out;
        private Integer batch, seqLen;
        private Integer hcMult, hiddenSize;
        private Integer kernelSize, dilation;
        private DeviceBatch packed;
        private DeviceArray convState;
        private int stateSlots;

        private Launch() {}

        /**
         * Sets the input, required: the value the convolution reads and the residual adds back.
         *
         * @param v {@code [B, T, G, H]}, FLOAT32 or BFLOAT16 (the dtype of every tensor here)
         * @return this launch
         */
        public Launch value(DeviceArray v) {
            value = Objects.requireNonNull(v, "value");
            return this;
        }

        /**
         * Sets the RMSNorm weights, required.
         *
         * @param v {@code [G * H]}: {@code short_conv.norms[g]} of every branch, concatenated
         * @return this launch
         */
        public Launch normWeight(DeviceArray v) {
            normWeight = Objects.requireNonNull(v, "normWeight");
            return this;
        }

        /**
         * Sets the depthwise convolution weights, required.
         *
         * @param v {@code [G * H * K]}, torch's {@code [G*H, 1, K]}; tap {@code K-1} multiplies the current step
         * @return this launch
         */
        public Launch convWeight(DeviceArray v) {
            convWeight = Objects.requireNonNull(v, "convWeight");
            return this;
        }

        /**
         * Sets the RMSNorm eps, required.
         *
         * @param v finite and {@code > 0}; 1e-5 in Engram
         * @return this launch
         */
        public Launch eps(float v) {
            eps = v;
            return this;
        }

        /**
         * Sets where the result is written, required.
         *
         * @param v {@code [B, T, G, H]}, the input's dtype; must not overlap an input (the conv cannot run in
         *          place)
         * @return this launch
         */
        public Launch out(DeviceArray v) {
            out = Objects.requireNonNull(v, "out");
            return this;
        }

        /**
         * Sets the tokens, required: {@code batch} sequences of {@code seqLen} each, token {@code b * seqLen + t}.
         *
         * @param batch  {@code B}, the number of sequences, {@code >= 0}
         * @param seqLen {@code T}, the tokens per sequence, {@code >= 0}
         * @return this launch
         */
        public Launch tokens(int batch, int seqLen) {
            this.batch = batch;
            this.seqLen = seqLen;
            return this;
        }

        /**
         * Sets the branches, required: {@code G = hcMult} branches of {@code H = hiddenSize} values each.
         *
         * @param hcMult     {@code G}, the hyper-connection branches, in {@code [1, 64]}
         * @param hiddenSize {@code H}, the width of one branch, in {@code [1, 65536]}
         * @return this launch
         */
        public Launch branches(int hcMult, int hiddenSize) {
            this.hcMult = hcMult;
            this.hiddenSize = hiddenSize;
            return this;
        }

        /**
         * Sets the convolution, required: {@code K = kernelSize} taps spaced {@code dilation} steps apart.
         *
         * @param kernelSize {@code K}, in {@code [1, 16]}
         * @param dilation   the step between taps, {@code >= 1} ({@code max_ngram_size} in Engram)
         * @return this launch
         */
        public Launch kernel(int kernelSize, int dilation) {
            this.kernelSize = kernelSize;
            this.dilation = dilation;
            return this;
        }

        /**
         * Sets the tokens as a packed batch instead of {@link #tokens(int, int)} ({@code engram_short_conv_packed}):
         * {@code value} and {@code out} then hold {@code batch.batch().tokens()} tokens {@code [N, G, H]}, and each
         * sequence convolves over its own tokens, its inputs before the chunk being the rows of its slot's
         * {@link #convState} when it continues, zeros when it starts.
         *
         * @param v the batch, already {@link DeviceBatch#set}
         * @return this launch
         */
        public Launch batch(DeviceBatch v) {
            packed = Objects.requireNonNull(v, "batch");
            return this;
        }

        /**
         * Sets the conv window a packed batch's continuing sequences read; optional (only with {@link #batch}, and
         * only when every sequence starts or {@code (K - 1) * dilation == 0}). Read, never written
         * ({@link StateCommit} writes it).
         *
         * @param v     {@code [slots, W, G * H]}, {@code W = (K - 1) * dilation}, the value's dtype: the gated values
         *              before the RMSNorm, oldest row first
         * @param slots its rows; every slot of the batch must be below it
         * @return this launch
         */
        public Launch convState(DeviceArray v, int slots) {
            convState = Objects.requireNonNull(v, "convState");
            stateSlots = slots;
            return this;
        }

        /**
         * Checks every argument in Java, then queues the launch on {@code stream}. Never allocates device memory and
         * never synchronizes; with no tokens nothing is queued (no native call).
         *
         * @param stream the stream to queue on
         * @throws IllegalStateException    when a required argument was not set, both {@code tokens} and {@code batch}
         *                                  were, or a buffer, the batch or the stream is closed
         * @throws IllegalArgumentException naming the problem, for a value out of range, a wrong dtype or device, an
         *         element count that does not match its shape formula, or overlapping output memory
         * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
         * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
         */
        public void enqueue(CudaStream stream) {
            require(value, "value");
            require(normWeight, "normWeight");
            require(convWeight, "convWeight");
            require(eps, "eps");
            require(out, "out");
            if (packed == null) require(batch, "tokens");
            require(hcMult, "branches");
            require(kernelSize, "kernel");
            if (packed != null) {
                if (batch != null) throw new IllegalStateException("ShortConv: both tokens and batch were set");
                enqueuePackedChecked(value, normWeight, convWeight, eps, packed, convState, stateSlots, hcMult,
                        hiddenSize, kernelSize, dilation, out, stream);
                return;
            }
            if (convState != null) throw new IllegalStateException("ShortConv: convState was set without a batch");
            enqueueChecked(value, normWeight, convWeight, eps, batch, seqLen, hcMult, hiddenSize, kernelSize, dilation, out, stream);
        }

        private static void require(Object value, String name) {
            if (value == null) throw new IllegalStateException("ShortConv: " + name + " was not set");
        }
    }

    /**
     * Checks every argument in Java, then queues the ShortConv on {@code stream}. Never allocates device
     * memory and never synchronizes; with {@code batch * seqLen == 0} nothing is queued (no native call).
     *
     * @param value      {@code [batch * seqLen * hcMult * hiddenSize]} the gated value {@code [B, T, G, H]},
     *                   FLOAT32 or BFLOAT16 (the dtype of every tensor here)
     * @param normWeight {@code [hcMult * hiddenSize]} the RMSNorm weights ({@code short_conv.norms[g]})
     * @param convWeight {@code [hcMult * hiddenSize * kernelSize]}, torch's {@code [G*H, 1, K]}; tap
     *                   {@code K-1} multiplies the current time step
     * @param eps        RMSNorm eps (1e-5 in Engram), finite and {@code > 0}
     * @param batch      {@code B >= 0}
     * @param seqLen     {@code T >= 0}
     * @param hcMult     {@code G}, in {@code [1, 64]}
     * @param hiddenSize {@code H}, in {@code [1, 65536]}
     * @param kernelSize {@code K}, in {@code [1, 16]}
     * @param dilation   {@code >= 1}
     * @param out        {@code [batch * seqLen * hcMult * hiddenSize]}, same dtype; must not overlap {@code value}
     *                   or a weight (the conv reads time steps that other thread blocks write, so it cannot
     *                   run in place)
     * @param stream     the stream to queue on
     * @throws IllegalArgumentException naming the problem, for a value out of range, a wrong dtype, an element
     *         count that does not match its shape formula, or {@code out} overlapping an input
     * @throws IllegalStateException    when a buffer or the stream is closed
     * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
     * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
     */
    static void enqueueChecked(DeviceArray value, DeviceArray normWeight, DeviceArray convWeight, float eps,
                               int batch, int seqLen, int hcMult, int hiddenSize, int kernelSize, int dilation,
                               DeviceArray out, CudaStream stream) {
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(normWeight, "normWeight");
        Objects.requireNonNull(convWeight, "convWeight");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        // Liveness first: a closed buffer or stream is an IllegalStateException whatever else is wrong.
        value.address();
        normWeight.address();
        convWeight.address();
        out.address();
        stream.handle();

        if (batch < 0 || seqLen < 0) {
            throw new IllegalArgumentException("short conv: batch and seqLen must be >= 0, got " + batch + " x " + seqLen);
        }
        DType dtype = checkParameters(value, normWeight, convWeight, eps, hcMult, hiddenSize, kernelSize, dilation, out);

        // Per-token tensors before the weights: with no tokens they are empty, so every check up to the
        // first weight can be exercised without a GPU.
        long tokens = (long) batch * seqLen;
        long elements = product(OP, batch, seqLen, hcMult, hiddenSize);
        String formula = "batch * seqLen * hcMult * hiddenSize = " + batch + " * " + seqLen + " * " + hcMult
                + " * " + hiddenSize;
        requireCount(OP, value, elements, "value", formula);
        requireCount(OP, out, elements, "out", formula);
        checkWeightsAndOverlap(value, normWeight, convWeight, hcMult, hiddenSize, kernelSize, out);
        if (tokens == 0) {
            return; // empty buffers have NULL addresses; the C ABI would launch nothing anyway
        }

        requireDevice(OP, -1, "the current device is", stream, "value", value, "normWeight", normWeight, "convWeight",
                convWeight, "out", out);
        NativeLibraryLoader.require();
        int status = engram_h.engram_short_conv(value.address(), normWeight.address(), convWeight.address(), eps,
                batch, seqLen, hcMult, hiddenSize, kernelSize, dilation, nativeDtype(dtype), out.address(),
                stream.handle());
        EngramNative.check("engram_short_conv", status);
    }
    /** The scalar arguments and the dtypes (every tensor the value's); returns the dtype. */
    private static DType checkParameters(DeviceArray value, DeviceArray normWeight, DeviceArray convWeight, float eps,
                                         int hcMult, int hiddenSize, int kernelSize, int dilation, DeviceArray out) {
        requireRange(OP, "hcMult", hcMult, 1, MAX_HC_MULT);
        requireRange(OP, "hiddenSize", hiddenSize, 1, MAX_HIDDEN_SIZE);
        requireRange(OP, "kernelSize", kernelSize, 1, MAX_KERNEL_SIZE);
        if (dilation < 1) throw new IllegalArgumentException("short conv: dilation must be >= 1, got " + dilation);
        requirePositiveFinite(OP, "eps", eps);

        DType dtype = requireFloatDtype(OP, value, "value");
        requireDtype(OP, normWeight, dtype, "normWeight (value's dtype)");
        requireDtype(OP, convWeight, dtype, "convWeight (value's dtype)");
        requireDtype(OP, out, dtype, "out (value's dtype)");
        return dtype;
    }

    /** {@code out} apart from the inputs, and the weights' element counts. */
    private static void checkWeightsAndOverlap(DeviceArray value, DeviceArray normWeight, DeviceArray convWeight,
                                               int hcMult, int hiddenSize, int kernelSize, DeviceArray out) {
        requireNoOverlap(OP, out, "out", value, "value");
        requireNoOverlap(OP, out, "out", normWeight, "normWeight");
        requireNoOverlap(OP, out, "out", convWeight, "convWeight");
        long channels = (long) hcMult * hiddenSize;
        requireCount(OP, normWeight, channels, "normWeight", "hcMult * hiddenSize = " + hcMult + " * " + hiddenSize);
        requireCount(OP, convWeight, channels * kernelSize, "convWeight",
                "hcMult * hiddenSize * kernelSize = " + hcMult + " * " + hiddenSize + " * " + kernelSize);
    }

    /**
     * The ShortConv on a packed batch ({@code engram_short_conv_packed}): every check in Java, then the launch.
     * Each sequence convolves over its own tokens; the inputs before its chunk are the rows of its slot's
     * {@code convState} when it continues, zeros when it starts. Reads the window, never writes it. Never allocates,
     * never synchronizes; with no tokens nothing is queued.
     *
     * @param convState {@code [slots, W, hcMult * hiddenSize]}, {@code W = (kernelSize - 1) * dilation}, the value's
     *                  dtype; null when {@code W == 0} or every sequence starts
     * @param slots     the rows of {@code convState}
     */
    static void enqueuePackedChecked(DeviceArray value, DeviceArray normWeight, DeviceArray convWeight, float eps,
                                     DeviceBatch batch, DeviceArray convState, int slots, int hcMult, int hiddenSize,
                                     int kernelSize, int dilation, DeviceArray out, CudaStream stream) {
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(normWeight, "normWeight");
        Objects.requireNonNull(convWeight, "convWeight");
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        value.address();
        normWeight.address();
        convWeight.address();
        PackedBatch packed = batch.batch();
        if (convState != null) convState.address();
        out.address();
        stream.handle();

        DType dtype = checkParameters(value, normWeight, convWeight, eps, hcMult, hiddenSize, kernelSize, dilation, out);
        long tokens = packed.tokens();
        long elements = product(OP, tokens, hcMult, hiddenSize);
        String formula = "batch.tokens() * hcMult * hiddenSize = " + tokens + " * " + hcMult + " * " + hiddenSize;
        requireCount(OP, value, elements, "value", formula);
        requireCount(OP, out, elements, "out", formula);
        checkWeightsAndOverlap(value, normWeight, convWeight, hcMult, hiddenSize, kernelSize, out);
        long window = (long) (kernelSize - 1) * dilation;
        if (window > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("short conv: (kernelSize - 1) * dilation overflows int32");
        }
        PackedChecks.requireState(OP, batch, convState, "convState", dtype, slots,
                product(OP, window, hcMult, hiddenSize), "W * hcMult * hiddenSize");
        if (convState != null) requireNoOverlap(OP, out, "out", convState, "convState");
        if (tokens == 0) return; // the C ABI would launch nothing

        requireDevice(OP, -1, "the current device is", stream, "value", value, "normWeight", normWeight, "convWeight",
                convWeight, "batch", batch.descriptors, "convState", convState, "out", out);
        NativeLibraryLoader.require();
        int status = engram_h.engram_short_conv_packed(value.address(), normWeight.address(), convWeight.address(), eps,
                tokens, batch.cuSeqlens(), batch.seqSlots(), batch.seqStarts(), packed.sequences(),
                PackedChecks.addressOrNull(convState), slots, hcMult, hiddenSize, kernelSize, dilation,
                nativeDtype(dtype), out.address(), stream.handle());
        EngramNative.check("engram_short_conv_packed", status);
    }
}
