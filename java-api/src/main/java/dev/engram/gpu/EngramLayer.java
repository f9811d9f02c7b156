package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.cuda.Cublas;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceScope;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;

import java.lang.foreign.Arena;
import java.util.Objects;

/**
 * One Engram layer on the GPU: hashed gather → one projection GEMM (cuBLAS) → gate → ShortConv, queued on
 * a caller's stream with no hidden synchronization. Parameters (compression table, embedding table,
 * weights) and the intermediates' scratch live in device memory owned by the layer, allocated once by
 * {@link #create} and freed by {@link #close()}.
 *
 * <pre>
 *   e     = table rows of every head's n-gram hash          [N, E]        {@link HashedGather}
 *   proj  = e · [W_K0; ..; W_K(G-1); W_V]^T                 [N, (G+1)H]   one cuBLAS GEMM, fp32 accumulate
 *   value = sigmoid(gate(k_g + b_Kg, hidden_g)) · (v + b_V) [N, G, H]     {@link Gate}
 *   out   = value + SiLU(causal dilated conv(RMSNorm(value)))[N, G, H]    {@link ShortConv}
 * </pre>
 * Storage is {@link DType#FLOAT32} or {@link DType#BFLOAT16} for everything (table, weights, activations);
 * arithmetic is fp32. Results match {@link dev.engram.reference.ReferenceEngramLayer} to fp32 rounding
 * (FLOAT32) or to bf16 storage rounding (BFLOAT16).
 * The table may instead be fp8 ({@link ParameterTensor#ofFp8Host}): E4M3 codes with E8M0 block scales stay fp8 in
 * device memory (1 byte a value plus a scale a block) and the gather dequantizes each row to the storage dtype
 * exactly (SEMANTICS.md 9), so the layer's outputs equal those of the same layer built from the dequantized table.
 *
 * <p><b>Device.</b> A layer lives on the device that was current when it was created ({@link #device()}). Each
 * call makes that device current for its duration and restores the caller's; arrays and streams of another device
 * are an {@link IllegalArgumentException} naming both devices. Arrays may be the layer's own buffers or views of
 * another stack's memory ({@link DeviceArray#wrap}), streams the caller's ({@link CudaStream#wrap}).
 *
 * <p><b>Fused gate + ShortConv (off by default).</b> With {@link Options#withFusedGateConv(boolean)} (or
 * {@link #setFusedGateConv(boolean)}) the gate and ShortConv run as one kernel ({@link GateShortConv}) that never
 * stores the gated value; the result is the same (the fused kernel repeats the two kernels' fp32 operations in their
 * order). Forwards whose {@code out} overlaps {@code hidden} keep the two kernels. With {@link StageEvents}, the
 * "gate" stage then times both and "short conv" is empty. Measured slower than the two kernels on an H200
 * (bench/RESULTS.md), hence not the default.
 *
 * <p><b>Packed batches and decoding.</b> The rectangular forwards start every row at t = 0. To run requests of
 * different lengths in one call, prefill in chunks or decode token by token, describe the call as a
 * {@link PackedBatch} (sequences back to back, a state slot per sequence, starting or continuing) and keep each
 * sequence's past in an {@link EngramState} ({@link #newState}): a sequence run in consecutive chunks then gives the
 * outputs of running it whole (SEMANTICS.md §8). The decode fast path,
 * {@link #forward(DeviceBatch, DeviceArray, DeviceArray, DeviceArray, EngramState, CudaStream)}, reads the batch's
 * descriptors from a {@link DeviceBatch} set once, with O(1) checks and no device allocation or host
 * synchronization.
 *
 * <p><b>Ordering.</b> The scratch is shared by all forwards of a layer, so each forward first makes its
 * stream wait for the previous forward's completion event: forwards on different streams are serialized
 * on the device, never interleaved. A layer is not thread-safe: call it from one thread at a time.
 * {@link #close()} waits for the last forward before freeing device memory. Nothing here synchronizes the device:
 * creating a layer waits only for its own parameter copies (on a stream of its own), forwards only queue.
 */
public final class EngramLayer implements AutoCloseable {
    private static final String OP = "EngramLayer.forward";
    private final NgramHashMapping mapping;
    private final LayerHashing hashing;
    private final EngramConfig config;
    private final DType dtype;
    private final LayerParameters params;
    private final LayerWorkspace workspace;
    private final Cublas cublas;
    private final int device;
    private boolean fusedGateConv;
    private final CudaEvent lastForwardDone;
    private final int maxSequences;
    private final NativeHashing nativeHashing; // the hashing's host arrays, marshalled once (GC-freed with the layer)
    private HostArrayIo hostIo; // the host-array forward's device buffers and stream, made on first use
    private DeviceBatch ownBatch; // the PackedBatch forward's descriptors, made on first use
    private boolean closed;

    private EngramLayer(NgramHashMapping mapping, LayerHashing hashing, Options options, int device,
                        LayerParameters params, LayerWorkspace workspace, Cublas cublas, CudaEvent lastForwardDone) {
        this.mapping = mapping;
        this.hashing = hashing;
        this.config = mapping.config();
        this.dtype = options.dtype();
        this.fusedGateConv = options.fusedGateConv();
        this.device = device;
        this.params = params;
        this.workspace = workspace;
        this.cublas = cublas;
        this.lastForwardDone = lastForwardDone;
        this.maxSequences = options.sequenceLimit();
        this.nativeHashing = new NativeHashing(hashing, Arena.ofAuto());
    }

    /**
     * How a layer is built: storage dtype, the most tokens one forward takes, and whether the gate and ShortConv
     * run fused. Start from {@link #of(int)} and change what differs:
     * {@code EngramLayer.Options.of(4 * 4096).withDtype(DType.FLOAT32)}.
     *
     * @param dtype         storage type on the device: FLOAT32 or BFLOAT16 (default)
     * @param maxTokens     the most tokens ({@code batch * seqLen}) one forward may take, {@code >= 1}
     * @param fusedGateConv whether the gate and ShortConv run as one kernel (default false)
     * @param maxSequences  the most sequences of a {@link PackedBatch} given to
     *                      {@link #forward(PackedBatch, DeviceArray, DeviceArray, DeviceArray, EngramState, CudaStream)}
     *                      (the size of the layer's own {@link DeviceBatch}); 0 (the default) means {@code maxTokens}
     */
    public record Options(DType dtype, int maxTokens, boolean fusedGateConv, int maxSequences) {
        /** Checks the values. */
        public Options {
            Objects.requireNonNull(dtype, "dtype");
            if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16) {
                throw new IllegalArgumentException("EngramLayer stores FLOAT32 or BFLOAT16, got " + dtype);
            }
            if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
            if (maxSequences < 0) {
                throw new IllegalArgumentException("maxSequences must be >= 0 (0: maxTokens), got " + maxSequences);
            }
        }

        /**
         * Options with the default {@code maxSequences} (as many as {@code maxTokens}).
         *
         * @param dtype         FLOAT32 or BFLOAT16
         * @param maxTokens     the most tokens one forward may take, {@code >= 1}
         * @param fusedGateConv whether the gate and ShortConv run as one kernel
         */
        public Options(DType dtype, int maxTokens, boolean fusedGateConv) {
            this(dtype, maxTokens, fusedGateConv, 0);
        }

        /** {@return the most sequences of a packed forward: {@code maxSequences}, or {@code maxTokens} when it is 0} */
        public int sequenceLimit() {
            return maxSequences == 0 ? maxTokens : maxSequences;
        }

        /**
         * {@return BFLOAT16 storage, {@code maxTokens}, the two kernels}
         * @param maxTokens the most tokens one forward may take
         */
        public static Options of(int maxTokens) {
            return new Options(DType.BFLOAT16, maxTokens, false);
        }

        /**
         * {@return these options with another storage dtype}
         *
         * @param dtype FLOAT32 or BFLOAT16
         * @throws IllegalArgumentException for any other dtype
         */
        public Options withDtype(DType dtype) {
            return new Options(dtype, maxTokens, fusedGateConv, maxSequences);
        }

        /**
         * {@return these options with another token limit}
         *
         * @param maxTokens the most tokens one forward may take, {@code >= 1}
         * @throws IllegalArgumentException when {@code maxTokens < 1}
         */
        public Options withMaxTokens(int maxTokens) {
            return new Options(dtype, maxTokens, fusedGateConv, maxSequences);
        }

        /**
         * {@return these options with the fused gate + ShortConv kernel on or off}
         *
         * @param on whether the gate and ShortConv run as one kernel
         */
        public Options withFusedGateConv(boolean on) {
            return new Options(dtype, maxTokens, on, maxSequences);
        }

        /**
         * {@return these options with another limit on a packed forward's sequences}
         *
         * @param maxSequences the most sequences, {@code >= 1}, or 0 for as many as {@code maxTokens}
         * @throws IllegalArgumentException when {@code maxSequences < 0}
         */
        public Options withMaxSequences(int maxSequences) {
            return new Options(dtype, maxTokens, fusedGateConv, maxSequences);
        }
    }

    /**
     * The shorthand for the reference's float32 weights:
     * {@code create(mapping, layerId, LayerWeights.of(weights), Options.of(maxTokens).withDtype(dtype))}.
     *
     * @param mapping   the hashing of the model (config, compression table, every layer's multipliers/moduli)
     * @param layerId   which of {@code mapping.layerIds()} this layer is
     * @param weights   the layer's parameters (float32; rounded to nearest even when {@code dtype} is BFLOAT16)
     * @param dtype     storage type on the device: FLOAT32 or BFLOAT16
     * @param maxTokens the most tokens ({@code batch * seqLen}) one forward may take, {@code >= 1}
     * @return the layer, on the current device
     * @throws IllegalArgumentException for an unknown layer, weights of another layer or shape, a bad dtype or
     *                                  {@code maxTokens}, or a config beyond the kernels' limits
     * @throws dev.engram.cuda.CudaException when device memory runs out (nothing stays allocated)
     */
    public static EngramLayer create(NgramHashMapping mapping, int layerId, EngramWeights weights, DType dtype,
                                     int maxTokens) {
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(weights, "weights");
        checkDenseConfig(mapping.config(), weights.config());
        checkWeights(mapping.layer(layerId), weights);
        return create(mapping, layerId, LayerWeights.of(weights), new Options(dtype, maxTokens, false));
    }

    /**
     * Creates one layer on the current device: uploads the host tensors of {@code weights} (converted to the storage
     * dtype), uses device tensors of that dtype in place, allocates scratch for {@code options.maxTokens()}. The
     * copies run on a stream of the layer's own, and this returns once they are done: the host memory may then be
     * reused. Nothing else on the device waits.
     *
     * @param mapping the hashing of the model (config, compression table, every layer's multipliers/moduli)
     * @param layerId which of {@code mapping.layerIds()} this layer is
     * @param weights the layer's parameters, the table included
     * @param options dtype, token limit, fused gate + ShortConv
     * @return the layer
     * @throws IllegalArgumentException for an unknown layer, tensors of the wrong size, device tensors of another
     *                                  device or dtype, or a config beyond the kernels' limits (before any allocation)
     * @throws dev.engram.cuda.CudaException when device memory runs out (nothing stays allocated)
     */
    public static EngramLayer create(NgramHashMapping mapping, int layerId, LayerWeights weights, Options options) {
        return create(mapping, layerId, weights, options, true);
    }

    /**
     * A layer whose embedding table stays off the device (the dense parameters are uploaded): it runs only
     * {@link #forwardFromRows}, on rows gathered elsewhere, e.g. by {@link HostTableLayer}.
     */
    static EngramLayer createWithoutTable(NgramHashMapping mapping, int layerId, LayerWeights dense, Options options) {
        return create(mapping, layerId, dense, options, false);
    }

    private static EngramLayer create(NgramHashMapping mapping, int layerId, LayerWeights weights, Options options,
                                      boolean withTable) {
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(options, "options");
        LayerHashing hashing = mapping.layer(layerId);
        EngramConfig c = mapping.config();
        weights.checkShapes(c, hashing.totalRows(), withTable);
        checkKernelLimits(c, hashing);
        int device = DeviceScope.currentDevice();
        LayerParameters params = null;
        LayerWorkspace workspace = null;
        Cublas cublas = null;
        CudaEvent done = null;
        CudaStream upload = CudaStream.create();
        try {
            params = LayerParameters.upload(mapping.compressionTable(), weights, c, options.dtype(), device, withTable,
                    upload);
            workspace = new LayerWorkspace(options.maxTokens(), c.engramHiddenSize(), c.hcMult(), c.hiddenSize(),
                    options.dtype(), withTable, // without a table the rows arrive elsewhere (forwardFromRows)
                    LayerWorkspace.cublasWorkspaceBytes(CudaDevice.get(device).computeCapabilityMajor()));
            cublas = Cublas.create();
            cublas.setWorkspace(workspace.cublasWorkspace); // nothing allocated by cuBLAS inside a captured forward
            done = CudaEvent.createWithoutTiming();
            params.ready.synchronize(); // only this layer's copies: the caller's host memory is free to go
            upload.close();
            return new EngramLayer(mapping, hashing, options, device, params, workspace, cublas, done);
        } catch (RuntimeException | Error e) {
            // The upload's copies may still be queued: finish them (this stream only) before freeing their buffers.
            RuntimeException late = Closeables.closeAll(null, upload::synchronize, done, cublas, workspace, params, upload);
            if (late != null) e.addSuppressed(late);
            throw e;
        }
    }

    /** The kernels' limits (engram.h), checked before anything is uploaded. */
    private static void checkKernelLimits(EngramConfig c, LayerHashing hashing) {
        String limit = null;
        if (hashing.heads() > 64) limit = "at most 64 heads per layer, got " + hashing.heads();
        else if (c.headDim() > 65536) limit = "head dim at most 65536, got " + c.headDim();
        else if (c.hcMult() > 64) limit = "hc_mult at most 64, got " + c.hcMult();
        else if (c.hiddenSize() > 65536) limit = "hidden_size at most 65536, got " + c.hiddenSize();
        else if (c.kernelSize() > 16) limit = "kernel_size at most 16, got " + c.kernelSize();
        if (limit != null) {
            throw new IllegalArgumentException("config is beyond the GPU kernels' limits: " + limit);
        }
    }

    private static void checkWeights(LayerHashing hashing, EngramWeights w) {
        if (w.hashing().layerId() != hashing.layerId() || w.hashing().totalRows() != hashing.totalRows()) {
            throw new IllegalArgumentException("weights were built for layer " + w.hashing().layerId() + " with "
                    + w.hashing().totalRows() + " table rows, but layer " + hashing.layerId() + " has " + hashing.totalRows());
        }
    }

    static void checkDenseConfig(EngramConfig c, EngramConfig wc) {
        if (wc.hiddenSize() != c.hiddenSize() || wc.hcMult() != c.hcMult() || wc.engramHiddenSize() != c.engramHiddenSize()
                || wc.kernelSize() != c.kernelSize() || wc.headDim() != c.headDim()) {
            throw new IllegalArgumentException("weights' config (hidden_size " + wc.hiddenSize() + ", hc_mult " + wc.hcMult()
                    + ", E " + wc.engramHiddenSize() + ", kernel_size " + wc.kernelSize() + ", head dim " + wc.headDim()
                    + ") does not match the mapping's (hidden_size " + c.hiddenSize() + ", hc_mult " + c.hcMult()
                    + ", E " + c.engramHiddenSize() + ", kernel_size " + c.kernelSize() + ", head dim " + c.headDim() + ")");
        }
    }

    /**
     * {@return whether this layer's forwards use the fused gate + ShortConv kernel} (forwards whose {@code out}
     * overlaps {@code hidden} never do)
     */
    public boolean fusedGateConv() {
        return fusedGateConv;
    }

    /**
     * Switches the fused gate + ShortConv kernel on or off for this layer's forwards queued from now on (both give
     * the same result; the switch is for measuring). Like the forward, not thread-safe.
     *
     * @param on whether to use the fused kernel
     */
    public void setFusedGateConv(boolean on) {
        fusedGateConv = on;
    }

    /**
     * Queues the forward on {@code stream} without recording stage events. Equivalent to
     * {@code forward(rawIds, batch, seqLen, hidden, out, stream, null)}.
     *
     * @param rawIds tokenizer ids {@code [batch, seqLen]}, INT64
     * @param batch  {@code B >= 0}
     * @param seqLen {@code T >= 0}; {@code B * T <= maxTokens()}
     * @param hidden hidden states {@code [B, T, G, H]} of {@link #dtype()}
     * @param out    the output {@code [B, T, G, H]} of {@link #dtype()}; may be {@code hidden} itself
     * @param stream the stream to queue on
     * @throws IllegalArgumentException for a wrong dtype, element count or too many tokens
     * @throws IllegalStateException    when this layer, a buffer or the stream is closed
     * @see #forward(DeviceArray, int, int, DeviceArray, DeviceArray, CudaStream, StageEvents)
     */
    public void forward(DeviceArray rawIds, int batch, int seqLen, DeviceArray hidden, DeviceArray out, CudaStream stream) {
        forward(rawIds, batch, seqLen, hidden, out, stream, null);
    }

    /**
     * Queues the forward on {@code stream}: no allocation, no synchronization. Every argument is checked
     * before anything is queued.
     *
     * <p>Raw ids are mapped through the compression table on the device; ids {@code >= } its size cannot be
     * reported from there (their heads read NaN rows, see {@link HashedGather}), so validate host ids before
     * uploading them, e.g. with {@link NgramHashMapping#compress(long[])}. {@code out} may be the same buffer
     * as {@code hidden} (the gate has consumed {@code hidden} before ShortConv writes {@code out}).
     *
     * @param rawIds tokenizer ids {@code [batch, seqLen]}, INT64
     * @param batch  {@code B >= 0}
     * @param seqLen {@code T >= 0}; {@code B * T <= maxTokens()}
     * @param hidden hidden states {@code [B, T, G, H]} of {@link #dtype()}
     * @param out    the output {@code [B, T, G, H]} of {@link #dtype()} (to be added to the residual stream)
     * @param stream the stream to queue on
     * @param events where to record the stage boundaries, or {@code null}
     * @throws IllegalArgumentException for a wrong dtype, element count or too many tokens
     * @throws IllegalStateException    when this layer, a buffer or the stream is closed
     */
    public void forward(DeviceArray rawIds, int batch, int seqLen, DeviceArray hidden, DeviceArray out, CudaStream stream,
                        StageEvents events) {
        checkOpen();
        if (params.table == null) {
            throw new IllegalStateException("layer " + hashing.layerId() + " keeps its table in host memory: use HostTableLayer");
        }
        Objects.requireNonNull(rawIds, "rawIds");
        rawIds.address();
        long tokens = checkActivations(batch, seqLen, hidden, out, stream);
        requireArray(rawIds, DType.INT64, tokens, "rawIds", "batch * seqLen");
        ArgumentChecks.requireDevice(OP, device, "this layer is on", stream, "rawIds", rawIds, "hidden", hidden, "out", out);
        if (tokens == 0) return;
        DeviceArray embedded = workspace.embedded.slice(0, tokens * config.engramHiddenSize());

        try (DeviceScope scope = DeviceScope.enter(device)) {
            stream.waitEvent(lastForwardDone); // the scratch may still be in use by a forward on another stream
            if (events != null) events.record(0, stream);
            params.gatherFrom(HashedGather.launch()).rawIds(rawIds).tokens(batch, seqLen).lut(params.lut)
                    .padIdCompressed(mapping.padIdCompressed()).layer(hashing).headsPerNgram(config.nHeadPerNgram())
                    .headDim(config.headDim()).out(embedded).enqueue(stream);
            if (events != null) events.record(1, stream);
            dense(embedded, batch, seqLen, hidden, out, stream, events);
        }
    }

    /**
     * The forward from rows gathered elsewhere: projections → gate → ShortConv on {@code embedded}
     * ({@code [batch * seqLen, E]} of {@link #dtype()}, the layout {@link HashedGather} writes). The caller has
     * made {@code stream} wait for whatever wrote {@code embedded}. With {@code events}, boundary 0 and 1 are
     * both recorded before the projections (the gather is not part of this call).
     */
    void forwardFromRows(DeviceArray embedded, int batch, int seqLen, DeviceArray hidden, DeviceArray out, CudaStream stream,
                         StageEvents events) {
        checkOpen();
        Objects.requireNonNull(embedded, "embedded");
        embedded.address();
        long tokens = checkActivations(batch, seqLen, hidden, out, stream);
        requireArray(embedded, dtype, tokens * config.engramHiddenSize(), "embedded", "batch * seqLen * E");
        ArgumentChecks.requireDevice(OP, device, "this layer is on", stream, "embedded", embedded, "hidden", hidden,
                "out", out);
        if (tokens == 0) return;
        try (DeviceScope scope = DeviceScope.enter(device)) {
            stream.waitEvent(lastForwardDone);
            if (events != null) {
                events.record(0, stream);
                events.record(1, stream);
            }
            dense(embedded, batch, seqLen, hidden, out, stream, events);
        }
    }

    /** Checks the arguments every forward shares; returns {@code batch * seqLen}. */
    private long checkActivations(int batch, int seqLen, DeviceArray hidden, DeviceArray out, CudaStream stream) {
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        hidden.address();
        out.address();
        stream.handle();
        if (batch < 0 || seqLen < 0) {
            throw new IllegalArgumentException("EngramLayer.forward: batch and seqLen must be >= 0, got " + batch + " x " + seqLen);
        }
        long tokens = (long) batch * seqLen;
        if (tokens > workspace.maxTokens) {
            throw new IllegalArgumentException("EngramLayer.forward: batch * seqLen = " + batch + " * " + seqLen + " = "
                    + tokens + " tokens, more than this layer's maxTokens " + workspace.maxTokens);
        }
        long activations = tokens * config.hcMult() * config.hiddenSize();
        requireArray(hidden, dtype, activations, "hidden", "batch * seqLen * hc_mult * hidden_size");
        requireArray(out, dtype, activations, "out", "batch * seqLen * hc_mult * hidden_size");
        return tokens;
    }

    /** Projections GEMM → gate → ShortConv on {@code embedded}, then the completion event. */
    private void dense(DeviceArray embedded, int batch, int seqLen, DeviceArray hidden, DeviceArray out, CudaStream stream,
                       StageEvents events) {
        int g = config.hcMult(), h = config.hiddenSize(), e = config.engramHiddenSize();
        int n = batch * seqLen;
        DeviceArray projected = workspace.projected.slice(0, (long) n * (g + 1) * h);
        DeviceArray gated = workspace.gated.slice(0, (long) n * g * h);
        try {
            cublas.setStream(stream);
            cublas.linear(embedded, params.projectionWeight, projected, n, e, (g + 1) * h);
            if (events != null) events.record(2, stream);
            if (fusedGateConv && !ArgumentChecks.overlaps(out, hidden)) {
                GateShortConv.launch().projections(projected).keyBias(params.keyBias).valueBias(params.valueBias)
                        .hidden(hidden).keyNormWeight(params.keyNormWeight).queryNormWeight(params.queryNormWeight)
                        .gateEps((float) config.gateNormEps()).convNormWeight(params.convNormWeight)
                        .convWeight(params.convWeight).convEps((float) config.convNormEps()).tokens(batch, seqLen)
                        .branches(g, h).kernel(config.kernelSize(), config.convDilation()).out(out).enqueue(stream);
                if (events != null) {
                    events.record(3, stream); // "gate" timed gate + conv; "short conv" is empty
                    events.record(4, stream);
                }
            } else {
                Gate.launch().projections(projected).keyBias(params.keyBias).valueBias(params.valueBias).hidden(hidden)
                        .keyNormWeight(params.keyNormWeight).queryNormWeight(params.queryNormWeight)
                        .eps((float) config.gateNormEps()).tokens(n).branches(g, h).valueOut(gated).enqueue(stream);
                if (events != null) events.record(3, stream);
                ShortConv.launch().value(gated).normWeight(params.convNormWeight).convWeight(params.convWeight)
                        .eps((float) config.convNormEps()).tokens(batch, seqLen).branches(g, h)
                        .kernel(config.kernelSize(), config.convDilation()).out(out).enqueue(stream);
                if (events != null) events.record(4, stream);
            }
        } finally {
            lastForwardDone.record(stream); // also after a failed launch: what was queued still uses the scratch
        }
    }

    /**
     * The forward for host arrays: validates and uploads the ids and hidden states, runs the forward on a
     * private stream, waits for that stream only, and returns the output widened to float. For tests, demos and
     * simple use; a pipeline keeps its tensors on the device and calls the stream overload. The first call
     * allocates device buffers for {@code maxTokens} (kept until {@link #close()}).
     *
     * @param rawIds tokenizer ids {@code [batch * seqLen]}; each must be {@code < } the compression table's
     *               size (negative ids pass through, as in the reference)
     * @param hidden hidden states {@code [batch * seqLen * G * H]} (rounded to bf16 for a BFLOAT16 layer)
     * @param batch  {@code B >= 1}
     * @param seqLen {@code T >= 1}; {@code B * T <= maxTokens()}
     * @return the output {@code [batch * seqLen * G * H]}
     * @throws IllegalArgumentException for wrong lengths or too many tokens
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     */
    public float[] forward(long[] rawIds, float[] hidden, int batch, int seqLen) {
        checkOpen();
        Objects.requireNonNull(rawIds, "rawIds");
        Objects.requireNonNull(hidden, "hidden");
        if (batch < 1 || seqLen < 1) {
            throw new IllegalArgumentException("EngramLayer.forward: batch and seqLen must be >= 1, got " + batch + " x " + seqLen);
        }
        long tokens = (long) batch * seqLen;
        long activations = tokens * config.hcMult() * config.hiddenSize();
        if (rawIds.length != tokens) {
            throw new IllegalArgumentException("EngramLayer.forward: rawIds has " + rawIds.length
                    + " elements, expected batch * seqLen = " + tokens);
        }
        if (hidden.length != activations) {
            throw new IllegalArgumentException("EngramLayer.forward: hidden has " + hidden.length
                    + " elements, expected batch * seqLen * hc_mult * hidden_size = " + activations);
        }
        if (tokens > workspace.maxTokens) {
            throw new IllegalArgumentException("EngramLayer.forward: " + tokens + " tokens, more than this layer's maxTokens "
                    + workspace.maxTokens);
        }
        mapping.compress(rawIds); // throws for ids the device could not map
        try (DeviceScope scope = DeviceScope.enter(device)) {
            return hostIo().run(rawIds, hidden, activations, dtype,
                    (ids, h, out, stream) -> forward(ids, batch, seqLen, h, out, stream, null));
        }
    }

    // ---------------------------------------------------------------- packed batches with carried state

    /**
     * Creates the carried state of this layer's packed forwards: {@code slots} empty slots (pad history, zero conv
     * window) on this layer's device. Returns once the state is empty (waits for a stream of its own only). The
     * state belongs to this layer: the forwards of another layer reject it (each layer's conv window is its own).
     *
     * @param slots the number of sequences the state can carry, {@code >= 1}
     * @return the state; the caller closes it
     * @throws IllegalArgumentException when {@code slots < 1} or the state's size overflows
     * @throws IllegalStateException    when this layer is closed
     * @throws dev.engram.cuda.CudaException when device memory runs out (nothing stays allocated)
     */
    public EngramState newState(int slots) {
        checkOpen();
        try (DeviceScope scope = DeviceScope.enter(device)) {
            return EngramState.create(this, "layer " + hashing.layerId(), slots, dtype, config.maxNgramSize() - 1,
                    (config.kernelSize() - 1) * config.convDilation(), config.hcMult() * config.hiddenSize(),
                    mapping.padIdCompressed());
        }
    }

    /**
     * {@return the most sequences a {@link PackedBatch} given to
     * {@link #forward(PackedBatch, DeviceArray, DeviceArray, DeviceArray, EngramState, CudaStream)} may have}
     */
    public int maxSequences() {
        return maxSequences;
    }

    /**
     * The packed forward on descriptors already on the device: the decode and serving fast path (SEMANTICS.md §8).
     * Queues on {@code stream}: the packed hashed gather (positions before a continuing sequence's chunk read its
     * slot's history) → the projection GEMM → the gate → the packed ShortConv (reading the slot's conv window) → the
     * state commit (writing every sequence's slot). A sequence run in consecutive chunks this way gives the outputs
     * of running it whole (hash ids and gathered rows exactly; outputs within the dtype's rounding, as cuBLAS may
     * sum differently for another number of rows).
     *
     * <p>Only O(1) checks (the batch was validated when built), no device allocation, no host synchronization (the
     * hashing's host arrays are marshalled once per layer; only the cuBLAS call still marshals its scalars): set the
     * {@link DeviceBatch} once and call this every decode step with new ids and hidden states. The fused gate +
     * ShortConv kernel has no packed form: packed forwards run the two kernels whatever
     * {@link #fusedGateConv()} says. {@code out} may be {@code hidden} itself.
     *
     * <p><b>Ordering.</b> As for the rectangular forward, the stream first waits for this layer's previous forward
     * (shared scratch) and the forward records its completion. While {@code stream} is capturing a CUDA graph
     * ({@link CudaStream#isCapturing()}) it does neither (a capture may not wait for an event recorded outside it):
     * the caller then orders the graph's launches with the layer's other forwards, e.g. by launching them on the
     * stream of the eager forwards. The state's slots are read and written in {@code stream} order; reset, copy or
     * forwards on other streams touching them must be ordered by the caller.
     *
     * @param batch  the packed batch, already {@link DeviceBatch#set}, on this layer's device
     * @param rawIds tokenizer ids {@code [batch.batch().tokens()]}, INT64, validated beforehand (see the rectangular
     *               forward)
     * @param hidden hidden states {@code [tokens, G, H]} of {@link #dtype()}
     * @param out    the output {@code [tokens, G, H]} of {@link #dtype()}
     * @param state  this layer's state ({@link #newState}); every slot of the batch must be below its
     *               {@link EngramState#slots()}
     * @param stream the stream to queue on
     * @throws IllegalArgumentException for a wrong dtype or element count, more tokens than {@link #maxTokens()},
     *                                  a slot out of range, a state of another layer, or memory or a stream of
     *                                  another device
     * @throws IllegalStateException    when this layer, a buffer, the batch, the state or the stream is closed, no
     *                                  batch was set, or this layer keeps its table in host memory
     */
    public void forward(DeviceBatch batch, DeviceArray rawIds, DeviceArray hidden, DeviceArray out, EngramState state,
                        CudaStream stream) {
        Objects.requireNonNull(batch, "batch");
        checkOpen();
        PackedBatch packed = batch.batch();
        checkPacked(packed, rawIds, hidden, out, state, stream);
        if (batch.device() != device) {
            throw new IllegalArgumentException(OP + ": " + batch + " is on device " + batch.device()
                    + ", this layer is on device " + device);
        }
        if (packed.sequences() == 0) return;
        try (DeviceScope scope = DeviceScope.enter(device)) {
            boolean capturing = stream.isCapturing();
            if (!capturing) stream.waitEvent(lastForwardDone); // the scratch may still be in use on another stream
            queuePacked(batch, packed.tokens(), rawIds, hidden, out, state, stream, capturing);
        }
    }

    /**
     * The packed forward of a host-side batch: uploads {@code batch}'s descriptors into a {@link DeviceBatch} of this
     * layer (made on first use, for {@link #maxSequences()} sequences), then queues as
     * {@link #forward(DeviceBatch, DeviceArray, DeviceArray, DeviceArray, EngramState, CudaStream)}. The upload waits
     * on the host only for this layer's previous upload to have left its pinned staging. Not for CUDA graph capture
     * (the upload reads host memory): capture the {@code DeviceBatch} overload.
     *
     * @param batch  the packed batch, at most {@link #maxSequences()} sequences
     * @param rawIds tokenizer ids {@code [batch.tokens()]}, INT64
     * @param hidden hidden states {@code [tokens, G, H]} of {@link #dtype()}
     * @param out    the output {@code [tokens, G, H]} of {@link #dtype()}
     * @param state  this layer's state
     * @param stream the stream to queue on
     * @throws IllegalArgumentException as the {@code DeviceBatch} overload, or for more sequences than
     *                                  {@link #maxSequences()}
     * @throws IllegalStateException    as the {@code DeviceBatch} overload, or when {@code stream} is capturing
     */
    public void forward(PackedBatch batch, DeviceArray rawIds, DeviceArray hidden, DeviceArray out, EngramState state,
                        CudaStream stream) {
        Objects.requireNonNull(batch, "batch");
        checkPacked(batch, rawIds, hidden, out, state, stream);
        if (batch.sequences() > maxSequences) {
            throw new IllegalArgumentException(OP + ": the batch has " + batch.sequences() + " sequences, more than this "
                    + "layer's maxSequences " + maxSequences + " (Options.withMaxSequences)");
        }
        try (DeviceScope scope = DeviceScope.enter(device)) {
            if (stream.isCapturing()) {
                throw new IllegalStateException(OP + ": " + stream + " is capturing a CUDA graph; uploading a PackedBatch "
                        + "reads host memory: set a DeviceBatch before the capture and capture forward(DeviceBatch, ...)");
            }
            if (ownBatch == null) ownBatch = DeviceBatch.create(maxSequences);
            stream.waitEvent(lastForwardDone); // the scratch and ownBatch's descriptors may still be read
            ownBatch.set(batch, stream);
            if (batch.sequences() == 0) return;
            queuePacked(ownBatch, batch.tokens(), rawIds, hidden, out, state, stream, false);
        }
    }

    /**
     * The packed forward for host arrays: validates the ids ({@link NgramHashMapping#compress(long[])}), uploads ids
     * and hidden states, runs the packed forward on this layer's private stream, waits for that stream only, and
     * returns the output widened to float. The state is read and written on that private stream: state work queued
     * on other streams must be complete (synchronize them first). The first call allocates the device buffers of the
     * host-array forwards (kept until {@link #close()}).
     *
     * @param batch  the packed batch, at most {@link #maxSequences()} sequences and {@link #maxTokens()} tokens
     * @param rawIds tokenizer ids {@code [batch.tokens()]}; each {@code <} the compression table's size
     * @param hidden hidden states {@code [batch.tokens() * G * H]} (rounded to bf16 for a BFLOAT16 layer)
     * @param state  this layer's state
     * @return the output {@code [batch.tokens() * G * H]}
     * @throws IllegalArgumentException for wrong lengths, too many tokens or sequences, a slot out of range or a
     *                                  state of another layer
     * @throws IllegalStateException    when this layer or the state is closed
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     */
    public float[] forward(PackedBatch batch, long[] rawIds, float[] hidden, EngramState state) {
        checkOpen();
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(rawIds, "rawIds");
        Objects.requireNonNull(hidden, "hidden");
        int tokens = batch.tokens();
        long activations = (long) tokens * config.hcMult() * config.hiddenSize();
        if (rawIds.length != tokens) {
            throw new IllegalArgumentException(OP + ": rawIds has " + rawIds.length + " elements, expected batch.tokens() = "
                    + tokens);
        }
        if (hidden.length != activations) {
            throw new IllegalArgumentException(OP + ": hidden has " + hidden.length + " elements, expected batch.tokens()"
                    + " * hc_mult * hidden_size = " + activations);
        }
        checkTokens(tokens);
        checkState(batch, state);
        if (batch.sequences() > maxSequences) {
            throw new IllegalArgumentException(OP + ": the batch has " + batch.sequences() + " sequences, more than this "
                    + "layer's maxSequences " + maxSequences + " (Options.withMaxSequences)");
        }
        mapping.compress(rawIds); // throws for ids the device could not map
        try (DeviceScope scope = DeviceScope.enter(device)) {
            return hostIo().run(rawIds, hidden, activations, dtype,
                    (ids, h, out, stream) -> forward(batch, ids, h, out, state, stream));
        }
    }

    /** Every argument check of the packed forwards except the batch's device and sequence limit. */
    private void checkPacked(PackedBatch batch, DeviceArray rawIds, DeviceArray hidden, DeviceArray out,
                             EngramState state, CudaStream stream) {
        checkOpen();
        if (params.table == null) {
            throw new IllegalStateException("layer " + hashing.layerId() + " keeps its table in host memory: use HostTableLayer");
        }
        Objects.requireNonNull(rawIds, "rawIds");
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        rawIds.address();
        hidden.address();
        out.address();
        stream.handle();
        int tokens = batch.tokens();
        checkTokens(tokens);
        long activations = (long) tokens * config.hcMult() * config.hiddenSize();
        requireArray(rawIds, DType.INT64, tokens, "rawIds", "batch.tokens()");
        requireArray(hidden, dtype, activations, "hidden", "batch.tokens() * hc_mult * hidden_size");
        requireArray(out, dtype, activations, "out", "batch.tokens() * hc_mult * hidden_size");
        checkState(batch, state);
        ArgumentChecks.requireDevice(OP, device, "this layer is on", stream, "rawIds", rawIds, "hidden", hidden, "out", out);
    }

    private void checkTokens(int tokens) {
        if (tokens > workspace.maxTokens) {
            throw new IllegalArgumentException(OP + ": the batch has " + tokens + " tokens, more than this layer's "
                    + "maxTokens " + workspace.maxTokens);
        }
    }

    /** The state is open, this layer's, and holds every slot of the batch. */
    private void checkState(PackedBatch batch, EngramState state) {
        Objects.requireNonNull(state, "state");
        state.checkOpen();
        if (!state.belongsTo(this)) {
            throw new IllegalArgumentException(OP + ": " + state + " was made by another layer, not by this one (layer "
                    + hashing.layerId() + ", " + dtype + ", device " + device + "): each layer keeps its own state "
                    + "(EngramLayer.newState)");
        }
        PackedChecks.requireSlots(OP, batch, state.slots());
    }

    /**
     * Gather → GEMM → gate → packed conv → commit on a checked batch with at least one sequence, in the layer's
     * device scope, after the wait for the previous forward; records the completion unless capturing.
     */
    private void queuePacked(DeviceBatch batch, int tokens, DeviceArray rawIds, DeviceArray hidden, DeviceArray out,
                             EngramState state, CudaStream stream, boolean capturing) {
        try {
            DeviceArray embedded = null;
            if (tokens > 0) {
                embedded = workspace.embedded.slice(0, (long) tokens * config.engramHiddenSize());
                HashedGather.enqueuePackedChecked(rawIds, batch, state.history, state.slots(), params.lut,
                        mapping.padIdCompressed(), nativeHashing, config.nHeadPerNgram(), params.table,
                        params.tableScales, params.scaleBlock, config.headDim(), embedded, null, stream);
            }
            packedDense(batch, tokens, embedded, hidden, out, state, rawIds, stream);
        } finally {
            if (!capturing) lastForwardDone.record(stream); // also after a failed launch: queued work uses the scratch
        }
    }

    /**
     * The packed forward after the gather, on checked arguments: GEMM → gate → packed conv on {@code embedded}
     * ({@code [tokens, E]}, unused when {@code tokens == 0}), then the state commit, last, because the gather and the
     * conv read the old state in stream order. The commit writes the hash history from {@code historyIds} (the call's
     * raw ids) when not null, and the conv window (when the window has rows).
     */
    private void packedDense(DeviceBatch batch, int tokens, DeviceArray embedded, DeviceArray hidden, DeviceArray out,
                             EngramState state, DeviceArray historyIds, CudaStream stream) {
        int g = config.hcMult(), h = config.hiddenSize(), e = config.engramHiddenSize();
        DeviceArray gated = workspace.gated.slice(0, (long) tokens * g * h);
        if (tokens > 0) {
            DeviceArray projected = workspace.projected.slice(0, (long) tokens * (g + 1) * h);
            cublas.setStream(stream);
            cublas.linear(embedded, params.projectionWeight, projected, tokens, e, (g + 1) * h);
            Gate.enqueueChecked(projected, params.keyBias, params.valueBias, hidden, params.keyNormWeight,
                    params.queryNormWeight, (float) config.gateNormEps(), tokens, g, h, gated, null, stream);
            ShortConv.enqueuePackedChecked(gated, params.convNormWeight, params.convWeight,
                    (float) config.convNormEps(), batch, state.convWindow, state.slots(), g, h, config.kernelSize(),
                    config.convDilation(), out, stream);
        }
        if (historyIds == null && state.window() == 0) return; // nothing to commit
        StateCommit.enqueueChecked(batch, state.slots(), historyIds, historyIds == null ? null : params.lut,
                mapping.padIdCompressed(), config.maxNgramSize(), historyIds == null ? null : state.history, gated, g, h,
                config.kernelSize(), config.convDilation(), state.convWindow, stream);
    }

    /**
     * The packed forward from rows gathered elsewhere ({@link HostTableLayer}): GEMM → gate → packed ShortConv
     * (reading the state's conv window) → commit of the conv window only; the hash history is the caller's (kept on
     * the host). The caller has checked that {@code state} is its own and made {@code stream} wait for whatever wrote
     * {@code embedded} and {@code batch}'s descriptors. Checks the rest before anything is queued; not for graph
     * capture (it waits for and records the layer's completion event).
     *
     * @param embedded {@code [batch.tokens(), E]} of {@link #dtype()}, the layout {@link HashedGather} writes
     */
    void forwardFromRows(DeviceBatch batch, DeviceArray embedded, DeviceArray hidden, DeviceArray out, EngramState state,
                         CudaStream stream) {
        checkOpen();
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(embedded, "embedded");
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(stream, "stream");
        PackedBatch packed = batch.batch();
        embedded.address();
        hidden.address();
        out.address();
        stream.handle();
        int tokens = packed.tokens();
        checkTokens(tokens);
        long activations = (long) tokens * config.hcMult() * config.hiddenSize();
        requireArray(embedded, dtype, (long) tokens * config.engramHiddenSize(), "embedded", "batch.tokens() * E");
        requireArray(hidden, dtype, activations, "hidden", "batch.tokens() * hc_mult * hidden_size");
        requireArray(out, dtype, activations, "out", "batch.tokens() * hc_mult * hidden_size");
        state.checkOpen();
        if (state.dtype() != dtype || state.device() != device) {
            throw new IllegalArgumentException(OP + ": " + state + " does not fit this layer (" + dtype + ", device "
                    + device + ")");
        }
        PackedChecks.requireSlots(OP, packed, state.slots());
        ArgumentChecks.requireDevice(OP, device, "this layer is on", stream, "batch", batch.descriptors, "embedded",
                embedded, "hidden", hidden, "out", out);
        if (packed.sequences() == 0) return;
        try (DeviceScope scope = DeviceScope.enter(device)) {
            stream.waitEvent(lastForwardDone); // shared scratch: the previous forward may run on another stream
            try {
                packedDense(batch, tokens, embedded, hidden, out, state, null, stream);
            } finally {
                lastForwardDone.record(stream); // also after a failed launch: queued work uses the scratch
            }
        }
    }

    /** The host-array forwards' device buffers and stream, made on first use (on this layer's device). */
    private HostArrayIo hostIo() {
        if (hostIo == null) hostIo = HostArrayIo.allocate(workspace.maxTokens, config, dtype);
        return hostIo;
    }

    /** The compression table on the device (for gathers queued by {@link HostTableLayer}). */
    DeviceArray lut() {
        checkOpen();
        return params.lut;
    }

    /** {@return the device this layer lives on (current when it was created)} */
    public int device() {
        return device;
    }

    /** {@return the storage dtype (FLOAT32 or BFLOAT16)} */
    public DType dtype() {
        return dtype;
    }

    /** {@return the most tokens one forward takes} */
    public int maxTokens() {
        return workspace.maxTokens;
    }

    /** {@return this layer's id} */
    public int layerId() {
        return hashing.layerId();
    }

    /** {@return the model config} */
    public EngramConfig config() {
        return config;
    }

    /** {@return the layer's hashing (multipliers, moduli, row offsets)} */
    public LayerHashing hashing() {
        return hashing;
    }

    /**
     * {@return device bytes held by this layer: parameters (an fp8 table's codes and scales as they are) plus scratch,
     * the cuBLAS workspace it gives cuBLAS included}
     */
    public long deviceBytes() {
        checkOpen();
        return params.byteSize() + workspace.byteSize();
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed;
    }

    /** Waits for the last queued forward, then frees the parameters, the scratch and the cuBLAS handle. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException failure = null;
        DeviceScope scope = null;
        try {
            scope = DeviceScope.enter(device); // cuBLAS, streams and memory are released on their own device
            lastForwardDone.synchronize();
        } catch (RuntimeException e) {
            failure = e; // e.g. a kernel fault: still free everything below, reporting this first
        }
        AutoCloseable releaseCublas = () -> {
            try {
                cublas.setStream(CudaStream.legacyDefault()); // the last forward's stream may already be destroyed
            } finally {
                cublas.close();
            }
        };
        failure = Closeables.closeAll(failure, hostIo, ownBatch, lastForwardDone, releaseCublas, workspace, params, scope);
        if (failure != null) throw failure;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("EngramLayer (layer " + hashing.layerId() + ") is closed");
    }

    private static void requireArray(DeviceArray a, DType expected, long count, String what, String formula) {
        ArgumentChecks.requireDtype(OP, a, expected, what);
        ArgumentChecks.requireCount(OP, a, count, what, formula);
    }
}
