package dev.engram.gpu;

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
import static dev.engram.gpu.ArgumentChecks.requireGateWeights;
import static dev.engram.gpu.ArgumentChecks.requireOutputsApart;
import static dev.engram.gpu.ArgumentChecks.requirePositiveFinite;
import static dev.engram.gpu.ArgumentChecks.requireRange;

/**
 * {@link Gate} followed by {@link ShortConv} on its output, fused into one kernel launch
 * ({@code engram_gate_short_conv}, {@code kernels/gate_short_conv.cu}, SEMANTICS.md §5) that never stores
 * the gated value {@code u = gate * v} in device memory.
 *
 * <p>The result is that of the two calls in sequence, including the rounding of {@code u} to the storage
 * dtype that {@link Gate}'s {@code valueOut} applies (with BFLOAT16, {@code u} is rounded to bf16 before
 * the conv's RMSNorm, taps and residual read it):
 * <pre>
 *   u   = round_dtype(gate * (proj[.., G*H ..] + valueBias))        (gate as in {@link Gate})
 *   out = u + SiLU(conv(RMSNorm(u, convEps) * convNormWeight))       (as in {@link ShortConv})
 * </pre>
 * Tokens are {@code batch * seqLen}, token {@code b * seqLen + t}.
 */
public final class GateShortConv {
    private static final String OP = "gate short conv";

    private GateShortConv() {}

    /**
     * {@return a fused gate + ShortConv launch to fill in by name, then queue with {@link Launch#enqueue(CudaStream)}}
     * Every argument is checked when it is queued.
     */
    public static Launch launch() {
        return new Launch();
    }

    /**
     * The arguments of one fused gate + ShortConv launch, set by name (no positional list of same-typed values to swap).
     * Required: every setter whose parameter is not documented as optional. Not thread-safe; reusable.
     */
    public static final class Launch {
        private DeviceArray projections;
        private DeviceArray keyBias;
        private DeviceArray valueBias;
        private DeviceArray hidden;
        private DeviceArray keyNormWeight;
        private DeviceArray queryNormWeight;
        private Float gateEps;
        private DeviceArray convNormWeight;
        private DeviceArray convWeight;
        private Float convEps;
        private DeviceArray out;
        private DeviceArray gateOut;
        private Integer batch, seqLen;
        private Integer hcMult, hiddenSize;
        private Integer kernelSize, dilation;

        private Launch() {}

        /**
         * Sets the projections, required: per token the G key projections, then the value projection, all
         * without bias (as for {@link Gate}).
         *
         * @param v {@code [B, T, (G + 1) * H]}, FLOAT32 or BFLOAT16 (the dtype of every other float tensor here)
         * @return this launch
         */
        public Launch projections(DeviceArray v) {
            projections = Objects.requireNonNull(v, "projections");
            return this;
        }

        /**
         * Sets the key biases, required.
         *
         * @param v {@code [G * H]}: the G key biases, concatenated
         * @return this launch
         */
        public Launch keyBias(DeviceArray v) {
            keyBias = Objects.requireNonNull(v, "keyBias");
            return this;
        }

        /**
         * Sets the value bias, required.
         *
         * @param v {@code [H]}
         * @return this launch
         */
        public Launch valueBias(DeviceArray v) {
            valueBias = Objects.requireNonNull(v, "valueBias");
            return this;
        }

        /**
         * Sets the hidden states, required: the gate's queries.
         *
         * @param v {@code [B, T, G, H]}
         * @return this launch
         */
        public Launch hidden(DeviceArray v) {
            hidden = Objects.requireNonNull(v, "hidden");
            return this;
        }

        /**
         * Sets the key RMSNorm weights, required.
         *
         * @param v {@code [G * H]}: {@code norm1[g]} of every branch, concatenated
         * @return this launch
         */
        public Launch keyNormWeight(DeviceArray v) {
            keyNormWeight = Objects.requireNonNull(v, "keyNormWeight");
            return this;
        }

        /**
         * Sets the query RMSNorm weights, required.
         *
         * @param v {@code [G * H]}: {@code norm2[g]} of every branch, concatenated
         * @return this launch
         */
        public Launch queryNormWeight(DeviceArray v) {
            queryNormWeight = Objects.requireNonNull(v, "queryNormWeight");
            return this;
        }

        /**
         * Sets the eps of the key and query RMSNorms, required.
         *
         * @param v finite and {@code > 0}; torch's fp32 default is {@code 2^-23}
         * @return this launch
         */
        public Launch gateEps(float v) {
            gateEps = v;
            return this;
        }

        /**
         * Sets the ShortConv RMSNorm weights, required.
         *
         * @param v {@code [G * H]}: {@code short_conv.norms[g]} of every branch, concatenated
         * @return this launch
         */
        public Launch convNormWeight(DeviceArray v) {
            convNormWeight = Objects.requireNonNull(v, "convNormWeight");
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
         * Sets the eps of the ShortConv RMSNorm, required.
         *
         * @param v finite and {@code > 0}; 1e-5 in Engram
         * @return this launch
         */
        public Launch convEps(float v) {
            convEps = v;
            return this;
        }

        /**
         * Sets where the result is written, required.
         *
         * @param v {@code [B, T, G, H]}, the inputs' dtype; must not overlap an input
         * @return this launch
         */
        public Launch out(DeviceArray v) {
            out = Objects.requireNonNull(v, "out");
            return this;
        }

        /**
         * Sets where the gates are written; optional.
         *
         * @param v {@code [B, T, G]} FLOAT32 gates, or {@code null} (the default) not to write them; must not
         *          overlap an input or {@code out}
         * @return this launch
         */
        public Launch gateOut(DeviceArray v) {
            gateOut = v;
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
         * Checks every argument in Java, then queues the launch on {@code stream}. Never allocates device memory and
         * never synchronizes; with no tokens nothing is queued (no native call).
         *
         * @param stream the stream to queue on
         * @throws IllegalStateException    when a required argument was not set, or a buffer or the stream is closed
         * @throws IllegalArgumentException naming the problem, for a value out of range, a wrong dtype or device, an
         *         element count that does not match its shape formula, or overlapping output memory
         * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
         * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
         */
        public void enqueue(CudaStream stream) {
            require(projections, "projections");
            require(keyBias, "keyBias");
            require(valueBias, "valueBias");
            require(hidden, "hidden");
            require(keyNormWeight, "keyNormWeight");
            require(queryNormWeight, "queryNormWeight");
            require(gateEps, "gateEps");
            require(convNormWeight, "convNormWeight");
            require(convWeight, "convWeight");
            require(convEps, "convEps");
            require(out, "out");
            require(batch, "tokens");
            require(hcMult, "branches");
            require(kernelSize, "kernel");
            enqueueChecked(projections, keyBias, valueBias, hidden, keyNormWeight, queryNormWeight, gateEps, convNormWeight, convWeight, convEps, batch, seqLen, hcMult, hiddenSize, kernelSize, dilation, out, gateOut, stream);
        }

        private static void require(Object value, String name) {
            if (value == null) throw new IllegalStateException("fused gate + ShortConv: " + name + " was not set");
        }
    }

    /**
     * Checks every argument in Java, then queues the fused gate + ShortConv on {@code stream}. Never allocates
     * device memory and never synchronizes; with {@code batch * seqLen == 0} nothing is queued (no native call).
     *
     * @param proj            {@code [batch * seqLen * (hcMult + 1) * hiddenSize]} key projections then value
     *                        projection, without bias (as for {@link Gate}), FLOAT32 or BFLOAT16 (the dtype of
     *                        every other float tensor here)
     * @param keyBias         {@code [hcMult * hiddenSize]}
     * @param valueBias       {@code [hiddenSize]}
     * @param hidden          {@code [batch * seqLen * hcMult * hiddenSize]} the hidden states {@code [B, T, G, H]}
     * @param keyNormWeight   {@code [hcMult * hiddenSize]} ({@code norm1[g]})
     * @param queryNormWeight {@code [hcMult * hiddenSize]} ({@code norm2[g]})
     * @param gateEps         eps of the key/query RMSNorms, finite and {@code > 0}
     * @param convNormWeight  {@code [hcMult * hiddenSize]} the conv's RMSNorm weights ({@code short_conv.norms[g]})
     * @param convWeight      {@code [hcMult * hiddenSize * kernelSize]}, torch's {@code [G*H, 1, K]}
     * @param convEps         eps of the conv's RMSNorm (1e-5 in Engram), finite and {@code > 0}
     * @param batch           {@code B >= 0}
     * @param seqLen          {@code T >= 0}
     * @param hcMult          {@code G}, in {@code [1, 64]}
     * @param hiddenSize      {@code H}, in {@code [1, 65536]}
     * @param kernelSize      {@code K}, in {@code [1, 16]}
     * @param dilation        {@code >= 1}
     * @param out             {@code [batch * seqLen * hcMult * hiddenSize]}, same dtype; must not overlap an input
     * @param gateOut         {@code [batch * seqLen * hcMult]} FLOAT32 gates, or {@code null}; must not overlap
     *                        an input or {@code out}
     * @param stream          the stream to queue on
     * @throws IllegalArgumentException naming the problem, for a value out of range, a wrong dtype, an element
     *         count that does not match its shape formula, or overlapping output memory
     * @throws IllegalStateException    when a buffer or the stream is closed
     * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
     * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
     */
    static void enqueueChecked(DeviceArray proj, DeviceArray keyBias, DeviceArray valueBias, DeviceArray hidden,
                               DeviceArray keyNormWeight, DeviceArray queryNormWeight, float gateEps,
                               DeviceArray convNormWeight, DeviceArray convWeight, float convEps, int batch,
                               int seqLen, int hcMult, int hiddenSize, int kernelSize, int dilation, DeviceArray out,
                               DeviceArray gateOut, CudaStream stream) {
        Objects.requireNonNull(proj, "proj");
        Objects.requireNonNull(keyBias, "keyBias");
        Objects.requireNonNull(valueBias, "valueBias");
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(keyNormWeight, "keyNormWeight");
        Objects.requireNonNull(queryNormWeight, "queryNormWeight");
        Objects.requireNonNull(convNormWeight, "convNormWeight");
        Objects.requireNonNull(convWeight, "convWeight");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        DeviceArray[] inputs = {proj, keyBias, valueBias, hidden, keyNormWeight, queryNormWeight, convNormWeight,
                convWeight};
        String[] inputNames = {"proj", "keyBias", "valueBias", "hidden", "keyNormWeight", "queryNormWeight",
                "convNormWeight", "convWeight"};
        // Liveness first: a closed buffer or stream is an IllegalStateException whatever else is wrong.
        for (DeviceArray a : inputs) a.address();
        out.address();
        if (gateOut != null) gateOut.address();
        stream.handle();

        if (batch < 0 || seqLen < 0) {
            throw new IllegalArgumentException(OP + ": batch and seqLen must be >= 0, got " + batch + " x " + seqLen);
        }
        requireRange(OP, "hcMult", hcMult, 1, MAX_HC_MULT);
        requireRange(OP, "hiddenSize", hiddenSize, 1, MAX_HIDDEN_SIZE);
        requireRange(OP, "kernelSize", kernelSize, 1, MAX_KERNEL_SIZE);
        if (dilation < 1) throw new IllegalArgumentException(OP + ": dilation must be >= 1, got " + dilation);
        requirePositiveFinite(OP, "gateEps", gateEps);
        requirePositiveFinite(OP, "convEps", convEps);

        DType dtype = requireFloatDtype(OP, proj, "proj");
        for (int k = 1; k < inputs.length; k++) requireDtype(OP, inputs[k], dtype, inputNames[k] + " (proj's dtype)");
        requireDtype(OP, out, dtype, "out (proj's dtype)");
        if (gateOut != null) requireDtype(OP, gateOut, DType.FLOAT32, "gateOut");

        // Per-token tensors before the weights: with no tokens they are empty, so every check up to the
        // first weight can be exercised without a GPU.
        long tokens = (long) batch * seqLen;
        String n = "batch * seqLen", b = Integer.toString(batch), t = Integer.toString(seqLen);
        String g = Integer.toString(hcMult), h = Integer.toString(hiddenSize);
        requireCount(OP, proj, product(OP, tokens, hcMult + 1L, hiddenSize), "proj",
                n + " * (hcMult + 1) * hiddenSize = " + b + " * " + t + " * (" + g + " + 1) * " + h);
        long perToken = product(OP, tokens, hcMult, hiddenSize);
        String perTokenFormula = n + " * hcMult * hiddenSize = " + b + " * " + t + " * " + g + " * " + h;
        requireCount(OP, hidden, perToken, "hidden", perTokenFormula);
        requireCount(OP, out, perToken, "out", perTokenFormula);
        if (gateOut != null) {
            requireCount(OP, gateOut, product(OP, tokens, hcMult), "gateOut",
                    n + " * hcMult = " + b + " * " + t + " * " + g);
        }
        requireOutputsApart(OP, out, "out", gateOut, inputs, inputNames);
        requireGateWeights(OP, keyBias, valueBias, keyNormWeight, queryNormWeight, hcMult, hiddenSize);
        long weights = (long) hcMult * hiddenSize;
        requireCount(OP, convNormWeight, weights, "convNormWeight", "hcMult * hiddenSize = " + g + " * " + h);
        requireCount(OP, convWeight, weights * kernelSize, "convWeight",
                "hcMult * hiddenSize * kernelSize = " + g + " * " + h + " * " + kernelSize);
        if (tokens == 0) {
            return; // empty buffers have NULL addresses; the C ABI would launch nothing anyway
        }

        requireDevice(OP, -1, "the current device is", stream, "proj", proj, "keyBias", keyBias, "valueBias", valueBias,
                "hidden", hidden, "keyNormWeight", keyNormWeight, "queryNormWeight", queryNormWeight, "convNormWeight",
                convNormWeight, "convWeight", convWeight, "out", out, "gateOut", gateOut);
        NativeLibraryLoader.require();
        MemorySegment gateAddress = gateOut == null ? MemorySegment.NULL : gateOut.address();
        int status = engram_h.engram_gate_short_conv(proj.address(), keyBias.address(), valueBias.address(),
                hidden.address(), keyNormWeight.address(), queryNormWeight.address(), gateEps,
                convNormWeight.address(), convWeight.address(), convEps, batch, seqLen, hcMult, hiddenSize, kernelSize,
                dilation, nativeDtype(dtype), out.address(), gateAddress, stream.handle());
        EngramNative.check("engram_gate_short_conv", status);
    }
}
