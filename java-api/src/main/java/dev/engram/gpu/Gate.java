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
 * The Engram gate on the GPU ({@code engram_gate}, {@code kernels/gate.cu}, SEMANTICS.md §5): key and
 * query RMSNorms, the signed-square-root sigmoid gate and the gated value, in one kernel launch.
 *
 * <p>With {@code G = hcMult} branches, {@code H = hiddenSize} and {@code N = tokens}, for every token
 * {@code i} and branch {@code g}:
 * <pre>
 *   k    = proj[i, g*H .. (g+1)*H) + keyBias[g*H ..]                   (key projection g)
 *   v    = proj[i, G*H .. (G+1)*H) + valueBias                         (value projection)
 *   nk   = RMSNorm(k, gateEps) * keyNormWeight[g*H ..]
 *   nq   = RMSNorm(hidden[i, g, :], gateEps) * queryNormWeight[g*H ..]
 *   dot  = sum(nk * nq) / sqrt(H);   s = sign(dot) * sqrt(max(|dot|, 1e-6));   gate = sigmoid(s)
 *   valueOut[i, g, :] = gate * v;    gateOut[i*G + g] = gate            (when gateOut is not null)
 * </pre>
 * where {@code RMSNorm(x, eps) = x / sqrt(mean(x^2) + eps)} over the H elements of the row.
 *
 * <p>{@code proj} is {@code [N, (G+1)*H]}: per token the G key projections, then the value projection,
 * all <b>without</b> bias: one GEMM {@code e @ W^T} with {@code W = concat(Wk[0], .., Wk[G-1], Wv)}
 * stacked along the output dimension (see {@code engram_gate} in {@code engram.h} for the cuBLAS call).
 * Arithmetic is fp32 throughout; with BFLOAT16 tensors only {@code valueOut} is rounded to bf16
 * ({@code gateOut} is always FLOAT32).
 */
public final class Gate {
    private static final String OP = "gate";

    private Gate() {}

    /**
     * {@return a gate launch to fill in by name, then queue with {@link Launch#enqueue(CudaStream)}}
     * Every argument is checked when it is queued.
     */
    public static Launch launch() {
        return new Launch();
    }

    /**
     * The arguments of one gate launch, set by name (no positional list of same-typed values to swap).
     * Required: every setter whose parameter is not documented as optional. Not thread-safe; reusable.
     */
    public static final class Launch {
        private DeviceArray projections;
        private DeviceArray keyBias;
        private DeviceArray valueBias;
        private DeviceArray hidden;
        private DeviceArray keyNormWeight;
        private DeviceArray queryNormWeight;
        private Float eps;
        private Long tokens;
        private DeviceArray valueOut;
        private DeviceArray gateOut;
        private Integer hcMult, hiddenSize;

        private Launch() {}

        /**
         * Sets the projections, required: per token the G key projections, then the value projection, all
         * without bias.
         *
         * @param v {@code [N, (G + 1) * H]}, FLOAT32 or BFLOAT16 (the dtype of every other float tensor here)
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
         * @param v {@code [N, G, H]}
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
         * Sets the eps of both RMSNorms, required.
         *
         * @param v finite and {@code > 0}; torch's fp32 default is {@code 2^-23}
         * @return this launch
         */
        public Launch eps(float v) {
            eps = v;
            return this;
        }

        /**
         * Sets the number of tokens, required.
         *
         * @param v {@code N = batch * seqLen}, {@code >= 0}
         * @return this launch
         */
        public Launch tokens(long v) {
            tokens = v;
            return this;
        }

        /**
         * Sets where the gated value is written, required.
         *
         * @param v {@code [N, G, H]}, the inputs' dtype; must not overlap an input
         * @return this launch
         */
        public Launch valueOut(DeviceArray v) {
            valueOut = Objects.requireNonNull(v, "valueOut");
            return this;
        }

        /**
         * Sets where the gates are written; optional.
         *
         * @param v {@code [N, G]} FLOAT32 gates, or {@code null} (the default) not to write them; must not
         *          overlap an input or the value output
         * @return this launch
         */
        public Launch gateOut(DeviceArray v) {
            gateOut = v;
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
            require(eps, "eps");
            require(tokens, "tokens");
            require(valueOut, "valueOut");
            require(hcMult, "branches");
            enqueueChecked(projections, keyBias, valueBias, hidden, keyNormWeight, queryNormWeight, eps, tokens, hcMult, hiddenSize, valueOut, gateOut, stream);
        }

        private static void require(Object value, String name) {
            if (value == null) throw new IllegalStateException("gate: " + name + " was not set");
        }
    }

    /**
     * Checks every argument in Java, then queues the gate on {@code stream}. Never allocates device memory
     * and never synchronizes; with {@code tokens == 0} nothing is queued (no native call).
     *
     * @param proj            {@code [tokens * (hcMult + 1) * hiddenSize]} key projections then value projection,
     *                        without bias, FLOAT32 or BFLOAT16 (the dtype of every other float tensor here)
     * @param keyBias         {@code [hcMult * hiddenSize]} the G key biases, concatenated
     * @param valueBias       {@code [hiddenSize]}
     * @param hidden          {@code [tokens * hcMult * hiddenSize]} the hidden states {@code [N, G, H]}
     * @param keyNormWeight   {@code [hcMult * hiddenSize]} the key RMSNorm weights ({@code norm1[g]})
     * @param queryNormWeight {@code [hcMult * hiddenSize]} the query RMSNorm weights ({@code norm2[g]})
     * @param gateEps         eps of both RMSNorms (torch's fp32 default {@code 2^-23}), finite and {@code > 0}
     * @param tokens          {@code N = batch * seqLen >= 0}
     * @param hcMult          {@code G}, in {@code [1, 64]}
     * @param hiddenSize      {@code H}, in {@code [1, 65536]}
     * @param valueOut        {@code [tokens * hcMult * hiddenSize]} the gated value {@code [N, G, H]}, same dtype;
     *                        must not overlap an input
     * @param gateOut         {@code [tokens * hcMult]} FLOAT32 gates {@code [N, G]}, or {@code null}; must not
     *                        overlap an input or {@code valueOut}
     * @param stream          the stream to queue on
     * @throws IllegalArgumentException naming the problem, for a value out of range, a wrong dtype, an element
     *         count that does not match its shape formula, or overlapping output memory
     * @throws IllegalStateException    when a buffer or the stream is closed
     * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
     * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
     */
    static void enqueueChecked(DeviceArray proj, DeviceArray keyBias, DeviceArray valueBias, DeviceArray hidden,
                               DeviceArray keyNormWeight, DeviceArray queryNormWeight, float gateEps, long tokens,
                               int hcMult, int hiddenSize, DeviceArray valueOut, DeviceArray gateOut,
                               CudaStream stream) {
        Objects.requireNonNull(proj, "proj");
        Objects.requireNonNull(keyBias, "keyBias");
        Objects.requireNonNull(valueBias, "valueBias");
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(keyNormWeight, "keyNormWeight");
        Objects.requireNonNull(queryNormWeight, "queryNormWeight");
        Objects.requireNonNull(valueOut, "valueOut");
        Objects.requireNonNull(stream, "stream");
        DeviceArray[] inputs = {proj, keyBias, valueBias, hidden, keyNormWeight, queryNormWeight};
        String[] inputNames = {"proj", "keyBias", "valueBias", "hidden", "keyNormWeight", "queryNormWeight"};
        // Liveness first: a closed buffer or stream is an IllegalStateException whatever else is wrong.
        for (DeviceArray a : inputs) a.address();
        valueOut.address();
        if (gateOut != null) gateOut.address();
        stream.handle();

        if (tokens < 0) throw new IllegalArgumentException("gate: tokens must be >= 0, got " + tokens);
        requireRange(OP, "hcMult", hcMult, 1, MAX_HC_MULT);
        requireRange(OP, "hiddenSize", hiddenSize, 1, MAX_HIDDEN_SIZE);
        requirePositiveFinite(OP, "gateEps", gateEps);

        DType dtype = requireFloatDtype(OP, proj, "proj");
        for (int k = 1; k < inputs.length; k++) requireDtype(OP, inputs[k], dtype, inputNames[k] + " (proj's dtype)");
        requireDtype(OP, valueOut, dtype, "valueOut (proj's dtype)");
        if (gateOut != null) requireDtype(OP, gateOut, DType.FLOAT32, "gateOut");

        // Per-token tensors before the weights: with tokens == 0 they are empty, so every check up to the
        // first weight can be exercised without a GPU.
        String n = Long.toString(tokens), g = Integer.toString(hcMult), h = Integer.toString(hiddenSize);
        requireCount(OP, proj, product(OP, tokens, hcMult + 1L, hiddenSize), "proj",
                "tokens * (hcMult + 1) * hiddenSize = " + n + " * (" + g + " + 1) * " + h);
        long perToken = product(OP, tokens, hcMult, hiddenSize);
        String perTokenFormula = "tokens * hcMult * hiddenSize = " + n + " * " + g + " * " + h;
        requireCount(OP, hidden, perToken, "hidden", perTokenFormula);
        requireCount(OP, valueOut, perToken, "valueOut", perTokenFormula);
        if (gateOut != null) {
            requireCount(OP, gateOut, product(OP, tokens, hcMult), "gateOut", "tokens * hcMult = " + n + " * " + g);
        }
        requireOutputsApart(OP, valueOut, "valueOut", gateOut, inputs, inputNames);
        requireGateWeights(OP, keyBias, valueBias, keyNormWeight, queryNormWeight, hcMult, hiddenSize);
        if (tokens == 0) {
            return; // empty buffers have NULL addresses; the C ABI would launch nothing anyway
        }

        requireDevice(OP, -1, "the current device is", stream, "proj", proj, "keyBias", keyBias, "valueBias", valueBias,
                "hidden", hidden, "keyNormWeight", keyNormWeight, "queryNormWeight", queryNormWeight, "valueOut", valueOut,
                "gateOut", gateOut);
        NativeLibraryLoader.require();
        MemorySegment gateAddress = gateOut == null ? MemorySegment.NULL : gateOut.address();
        int status = engram_h.engram_gate(proj.address(), keyBias.address(), valueBias.address(), hidden.address(),
                keyNormWeight.address(), queryNormWeight.address(), gateEps, tokens, hcMult, hiddenSize,
                nativeDtype(dtype), valueOut.address(), gateAddress, stream.handle());
        EngramNative.check("engram_gate", status);
    }
}
