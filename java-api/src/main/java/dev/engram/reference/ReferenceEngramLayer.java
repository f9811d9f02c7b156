package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;

import java.util.Objects;

/**
 * The Engram layer forward on the CPU in double precision: the yardstick every GPU result is
 * checked against (SEMANTICS.md §4–5). Plain loops, one method per step, no tricks.
 *
 * <pre>
 * hash   = NgramHashMapping.hash(ids)[layer]                       [B,T,heads]
 * e      = table[hash + offsets] flattened                        [B,T,E]
 * for g:  k = RMSNorm_norm1[g](e W_Kg^T + b_Kg);  q = RMSNorm_norm2[g](h[:,:,g,:])
 *         a = dot(k, q) / sqrt(H);  a = sign(a) sqrt(max(|a|, 1e-6));  gate_g = sigmoid(a)
 * value  = gate[...,None] * (e W_V^T + b_V)                       [B,T,G,H]
 * x      = RMSNorm_conv[g](value) (eps 1e-5), depthwise causal conv over T (kernel K, dilation N), SiLU
 * y      = value + x
 * </pre>
 * The key/query norms use {@link EngramConfig#gateNormEps()} (2^-23 like torch's fp32 default; use
 * 2^-52 to mirror a float64 torch run), the conv norms {@link EngramConfig#convNormEps()}.
 *
 * <p>Besides the rectangular {@code [B, T]} forward, whose rows all start at t = 0, a packed forward runs
 * sequences at any position with their state carried in a {@link ReferenceState} (SEMANTICS.md §8), with the same
 * per-token arithmetic: a sequence run in chunks gives bit for bit the output of the whole sequence.
 *
 * <p>The table is read through {@link EmbeddingRows}: the float32 array of {@link EngramWeights}, or e.g. an fp8
 * table with block scales, whose rows are their exact dequantized values (SEMANTICS.md §9).
 */
public final class ReferenceEngramLayer {
    /** The clamp under the signed square root of the gate. */
    public static final double GATE_CLAMP = 1e-6;

    private final NgramHashMapping mapping;
    private final LayerHashing hashing;
    private final DenseWeights w;
    private final EmbeddingRows table;
    private final EngramConfig c;

    /**
     * A layer of {@code mapping}'s config; the weights must have been built for the same layer.
     *
     * @param mapping the model's hashing: config, compression table and every layer's multipliers and moduli
     * @param layerId which of {@code mapping.layerIds()} this layer is
     * @param weights the layer's parameters; their table size and config must match the layer's
     * @throws IllegalArgumentException when {@code layerId} is not an Engram layer, or the weights belong to
     *                                  another layer or config
     */
    public ReferenceEngramLayer(NgramHashMapping mapping, int layerId, EngramWeights weights) {
        this(mapping, layerId, checkLayer(weights, mapping, layerId).dense(),
                EmbeddingRows.of(weights.embedding(), weights.config().headDim()));
    }

    /**
     * A layer whose embedding table is any {@link EmbeddingRows}, e.g. an fp8 table with block scales
     * ({@code dev.engram.table.Fp8Table}), which the gather reads as exact doubles; everything else is as in
     * {@link #ReferenceEngramLayer(NgramHashMapping, int, EngramWeights)}.
     *
     * @param mapping the model's hashing: config, compression table and every layer's multipliers and moduli
     * @param layerId which of {@code mapping.layerIds()} this layer is
     * @param dense   the layer's parameters other than the table; their config must match the layer's
     * @param table   the layer's table, {@code [totalRows, headDim]} of the layer
     * @throws IllegalArgumentException when {@code layerId} is not an Engram layer, the table's shape is not the
     *                                  layer's, or the parameters belong to another config
     */
    public ReferenceEngramLayer(NgramHashMapping mapping, int layerId, DenseWeights dense, EmbeddingRows table) {
        this.mapping = Objects.requireNonNull(mapping, "mapping");
        this.w = Objects.requireNonNull(dense, "dense");
        this.table = Objects.requireNonNull(table, "table");
        this.hashing = mapping.layer(layerId);
        this.c = mapping.config();
        EngramConfig wc = dense.config();
        if (wc.hiddenSize() != c.hiddenSize() || wc.hcMult() != c.hcMult() || wc.engramHiddenSize() != c.engramHiddenSize()
                || wc.kernelSize() != c.kernelSize() || wc.headDim() != c.headDim()) {
            throw new IllegalArgumentException("weights' config (hidden_size " + wc.hiddenSize() + ", hc_mult " + wc.hcMult()
                    + ", E " + wc.engramHiddenSize() + ", kernel_size " + wc.kernelSize() + ") does not match the layer's"
                    + " (hidden_size " + c.hiddenSize() + ", hc_mult " + c.hcMult() + ", E " + c.engramHiddenSize()
                    + ", kernel_size " + c.kernelSize() + ")");
        }
        if (table.rows() != hashing.totalRows() || table.rowElements() != c.headDim()) {
            throw new IllegalArgumentException("the table is [" + table.rows() + ", " + table.rowElements()
                    + "], but layer " + layerId + " reads [" + hashing.totalRows() + ", " + c.headDim() + "]");
        }
    }

    private static EngramWeights checkLayer(EngramWeights weights, NgramHashMapping mapping, int layerId) {
        LayerHashing hashing = Objects.requireNonNull(mapping, "mapping").layer(layerId);
        Objects.requireNonNull(weights, "weights");
        if (weights.hashing().totalRows() != hashing.totalRows() || weights.hashing().layerId() != layerId) {
            throw new IllegalArgumentException("weights were built for layer " + weights.hashing().layerId() + " with "
                    + weights.hashing().totalRows() + " table rows, but layer " + layerId + " has "
                    + hashing.totalRows());
        }
        return weights;
    }

    /** {@return the layer id} */
    public int layerId() {
        return hashing.layerId();
    }

    /**
     * {@return the output {@code [B, T, G, H]}, row-major, to be added to the residual stream}
     *
     * @param rawIds raw tokenizer ids {@code [B, T]}, row-major; negative ids pass through the compression
     *               table unchanged
     * @param hidden hidden states {@code [B, T, G, H]}, row-major
     * @param batch  {@code B >= 1}
     * @param seqLen {@code T >= 1}
     * @throws IllegalArgumentException  when {@code batch} or {@code seqLen} is below 1, or a length does not
     *                                   match them
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     */
    public double[] forward(long[] rawIds, double[] hidden, int batch, int seqLen) {
        return trace(rawIds, hidden, batch, seqLen).output();
    }

    /**
     * {@return the forward with every intermediate and per-stage times}
     *
     * @param rawIds raw tokenizer ids {@code [B, T]}, row-major; negative ids pass through the compression
     *               table unchanged
     * @param hidden hidden states {@code [B, T, G, H]}, row-major
     * @param batch  {@code B >= 1}
     * @param seqLen {@code T >= 1}
     * @throws IllegalArgumentException  when {@code batch} or {@code seqLen} is below 1, or a length does not
     *                                   match them
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     */
    public ForwardTrace trace(long[] rawIds, double[] hidden, int batch, int seqLen) {
        checkInputs(rawIds, hidden, batch, seqLen);
        int n = batch * seqLen;
        long t0 = System.nanoTime();
        long[] compressed = mapping.compress(rawIds);
        long[] hashIds = mapping.hashCompressed(compressed, batch, seqLen, hashing.layerId());
        long t1 = System.nanoTime();
        TokenStages st = tokenStages(hashIds, hidden, n);
        long t4 = System.nanoTime();
        double[] convIn = convInputs(st.value, n);
        double[] convFull = dilatedCausalConv(convIn, batch, seqLen);
        double[] shortConv = new double[n * g() * h()];
        double[] output = new double[n * g() * h()];
        int channels = g() * h(), fullLen = fullLength(seqLen);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seqLen; t++) {
                for (int ch = 0; ch < channels; ch++) {
                    int i = (b * seqLen + t) * channels + ch;
                    shortConv[i] = silu(convFull[(b * channels + ch) * fullLen + t]);
                    output[i] = st.value[i] + shortConv[i];
                }
            }
        }
        long t5 = System.nanoTime();
        return new ForwardTrace(compressed, hashIds, st.rows, st.emb, st.keyProj, st.normedKey, st.normedQuery, st.dot,
                st.signedSqrt, st.gate, st.valueProj, st.value, convIn, convFull, shortConv, output,
                new ForwardTrace.StageTimes(t1 - t0, st.gatherDone - t1, st.projectionsDone - st.gatherDone,
                        t4 - st.projectionsDone, t5 - t4));
    }

    /**
     * {@return a state of {@code slots} empty sequences for this layer, for the packed forward}
     *
     * @param slots number of slots, {@code >= 0}
     * @throws IllegalArgumentException for a negative count or a state too large for Java arrays
     */
    public ReferenceState newState(int slots) {
        return new ReferenceState(mapping, hashing.layerId(), slots);
    }

    /**
     * {@return the output {@code [N, G, H]} of a packed batch, row-major} and updates the state of the batch's slots
     * (SEMANTICS.md §8): sequence {@code s} owns tokens {@code [cu[s], cu[s+1])}; one that continues reads its slot's
     * hash history and conv window for the positions before its first token, one that starts reads pad ids and zeros
     * whatever its slot holds. Running a sequence in consecutive chunks, its state carried, gives bit for bit the
     * output of {@link #forward(long[], double[], int, int)} on the whole sequence.
     *
     * @param batch  the sequences, their slots and start flags; {@code N = batch.tokens()}
     * @param rawIds raw tokenizer ids {@code [N]}; negative ids pass through the compression table unchanged
     * @param hidden hidden states {@code [N, G, H]}, row-major
     * @param state  the state of this layer, with every slot of the batch; updated only when the call succeeds
     * @throws IllegalArgumentException  when a length does not match {@code N}, a slot is {@code >= state.slots()},
     *                                   or the state belongs to another config or layer
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     */
    public double[] forward(PackedBatch batch, long[] rawIds, double[] hidden, ReferenceState state) {
        return trace(batch, rawIds, hidden, state).output();
    }

    /**
     * {@return the packed forward with every intermediate and per-stage times}, as
     * {@link #forward(PackedBatch, long[], double[], ReferenceState)}, which it is. Shapes are those of
     * {@link ForwardTrace} with {@code [N]} for {@code [B, T]}; {@code convOutFull} is {@code [N, G*H]}, the causal
     * conv outputs only (what the rectangular trace keeps in its first T positions).
     *
     * @param batch  the sequences, their slots and start flags; {@code N = batch.tokens()}
     * @param rawIds raw tokenizer ids {@code [N]}; negative ids pass through the compression table unchanged
     * @param hidden hidden states {@code [N, G, H]}, row-major
     * @param state  the state of this layer, with every slot of the batch; updated only when the call succeeds
     * @throws IllegalArgumentException  when a length does not match {@code N}, a slot is {@code >= state.slots()},
     *                                   or the state belongs to another config or layer
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     */
    public ForwardTrace trace(PackedBatch batch, long[] rawIds, double[] hidden, ReferenceState state) {
        checkPackedInputs(batch, rawIds, hidden, state);
        int n = batch.tokens(), sequences = batch.sequences();
        int m = state.historyLength(), w = state.windowRows(), channels = g() * h();
        long t0 = System.nanoTime();
        long[] compressed = mapping.compress(rawIds);
        // What each sequence sees before its first token: its slot's state, or an empty sequence's.
        long[] history = new long[sequences * m];
        double[] windows = new double[sequences * w * channels];
        for (int s = 0; s < sequences; s++) {
            if (batch.starts(s)) {
                java.util.Arrays.fill(history, s * m, (s + 1) * m, mapping.padIdCompressed());
            } else {
                state.readHistory(batch.slot(s), history, s * m);
                state.readWindow(batch.slot(s), windows, s * w * channels);
            }
        }
        long[] hashIds = mapping.hashCompressedPacked(compressed, batch.cuSeqlens(), history, hashing.layerId());
        long t1 = System.nanoTime();
        TokenStages st = tokenStages(hashIds, hidden, n);
        long t4 = System.nanoTime();
        double[] convIn = convInputs(st.value, n);
        double[] conv = packedCausalConv(convIn, batch, windows);
        double[] shortConv = new double[n * channels];
        double[] output = new double[n * channels];
        for (int i = 0; i < output.length; i++) {
            shortConv[i] = silu(conv[i]);
            output[i] = st.value[i] + shortConv[i];
        }
        long t5 = System.nanoTime();
        commit(batch, state, compressed, history, convIn, windows);
        return new ForwardTrace(compressed, hashIds, st.rows, st.emb, st.keyProj, st.normedKey, st.normedQuery, st.dot,
                st.signedSqrt, st.gate, st.valueProj, st.value, convIn, conv, shortConv, output,
                new ForwardTrace.StageTimes(t1 - t0, st.gatherDone - t1, st.projectionsDone - st.gatherDone,
                        t4 - st.projectionsDone, t5 - t4));
    }

    /**
     * Writes each sequence's new state: the last M compressed ids and W conv inputs of (what it saw before ++ its
     * tokens of this call). Everything old was copied into {@code history}/{@code windows} before, so a slot's
     * new state never reads what another write changed.
     */
    private void commit(PackedBatch batch, ReferenceState state, long[] compressed, long[] history, double[] convIn,
                        double[] windows) {
        int m = state.historyLength(), w = state.windowRows(), channels = g() * h();
        long[] newHistory = new long[m];
        double[] newWindow = new double[w * channels];
        for (int s = 0; s < batch.sequences(); s++) {
            int start = batch.start(s), len = batch.length(s);
            for (int j = 0; j < m; j++) {
                int p = len - m + j;
                newHistory[j] = p >= 0 ? compressed[start + p] : history[s * m + m + p];
            }
            for (int j = 0; j < w; j++) {
                int p = len - w + j;
                if (p >= 0) System.arraycopy(convIn, (start + p) * channels, newWindow, j * channels, channels);
                else System.arraycopy(windows, (s * w + w + p) * channels, newWindow, j * channels, channels);
            }
            state.write(batch.slot(s), newHistory, 0, newWindow, 0);
        }
    }

    /**
     * The causal conv of each packed sequence, {@code [N, G*H]}: the same taps in the same order as
     * {@link #dilatedCausalConv}, positions before the sequence's first token read from its window (zeros for a
     * start, where the rectangular conv skips them: adding {@code w * 0.0} to the +0.0 accumulator changes no bit).
     */
    private double[] packedCausalConv(double[] x, PackedBatch batch, double[] windows) {
        int channels = g() * h(), k = c.kernelSize(), dil = c.convDilation(), w = (k - 1) * dil;
        float[] weight = this.w.convWeight();
        double[] y = new double[batch.tokens() * channels];
        for (int s = 0; s < batch.sequences(); s++) {
            int start = batch.start(s), len = batch.length(s);
            for (int t = 0; t < len; t++) {
                for (int ch = 0; ch < channels; ch++) {
                    double acc = 0;
                    for (int tap = 0; tap < k; tap++) {
                        int src = t - (k - 1 - tap) * dil;
                        double xv = src >= 0 ? x[(start + src) * channels + ch] : windows[((s * w) + w + src) * channels + ch];
                        acc += weight[ch * k + tap] * xv;
                    }
                    y[(start + t) * channels + ch] = acc;
                }
            }
        }
        return y;
    }

    /** The per-token stages from the hash ids to the gated value, the same arithmetic for every batch shape. */
    private TokenStages tokenStages(long[] hashIds, double[] hidden, int n) {
        long[] rows = tableRows(hashIds, n);
        double[] emb = gather(rows, n);
        long gatherDone = System.nanoTime();
        double[] keyProj = keyProjections(emb, n);
        double[] valueProj = linear(emb, n, w.valueWeight(), 0, w.valueBias(), 0);
        long projectionsDone = System.nanoTime();
        int g = g(), h = h();
        double[] normedKey = new double[n * g * h];
        double[] normedQuery = new double[n * g * h];
        double[] dot = new double[n * g], signedSqrt = new double[n * g], gate = new double[n * g];
        double[] value = new double[n * g * h];
        for (int tok = 0; tok < n; tok++) {
            for (int br = 0; br < g; br++) {
                int row = (tok * g + br) * h;
                rmsNorm(keyProj, row, w.keyNormWeight(), br * h, c.gateNormEps(), normedKey, row, h);
                rmsNorm(hidden, row, w.queryNormWeight(), br * h, c.gateNormEps(), normedQuery, row, h);
                double d = 0;
                for (int i = 0; i < h; i++) d += normedKey[row + i] * normedQuery[row + i];
                d /= Math.sqrt(h);
                double s = Math.signum(d) * Math.sqrt(Math.max(Math.abs(d), GATE_CLAMP));
                int gi = tok * g + br;
                dot[gi] = d;
                signedSqrt[gi] = s;
                gate[gi] = sigmoid(s);
                for (int i = 0; i < h; i++) value[row + i] = gate[gi] * valueProj[tok * h + i];
            }
        }
        return new TokenStages(rows, emb, keyProj, valueProj, normedKey, normedQuery, dot, signedSqrt, gate, value,
                gatherDone, projectionsDone);
    }

    /** The conv's inputs: each token's gated value RMSNorm'd per branch. */
    private double[] convInputs(double[] value, int n) {
        int g = g(), h = h();
        double[] convIn = new double[n * g * h];
        for (int tok = 0; tok < n; tok++) {
            for (int br = 0; br < g; br++) {
                int row = (tok * g + br) * h;
                rmsNorm(value, row, w.convNormWeight(), br * h, c.convNormEps(), convIn, row, h);
            }
        }
        return convIn;
    }

    private record TokenStages(long[] rows, double[] emb, double[] keyProj, double[] valueProj, double[] normedKey,
                               double[] normedQuery, double[] dot, double[] signedSqrt, double[] gate, double[] value,
                               long gatherDone, long projectionsDone) {}

    private int g() {
        return c.hcMult();
    }

    private int h() {
        return c.hiddenSize();
    }

    private void checkPackedInputs(PackedBatch batch, long[] rawIds, double[] hidden, ReferenceState state) {
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(rawIds, "rawIds");
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(state, "state");
        if (!state.belongsTo(mapping, hashing.layerId())) {
            throw new IllegalArgumentException("the state belongs to layer " + state.layerId() + " of another model ("
                    + state + "), not to layer " + hashing.layerId() + " of this layer's config; make it with newState");
        }
        batch.requireSlotsBelow(state.slots());
        int n = batch.tokens();
        if (rawIds.length != n) {
            throw new IllegalArgumentException("ids have " + rawIds.length + " elements, expected [N] = " + n
                    + " (the batch's tokens)");
        }
        long hiddenExpected = (long) n * g() * h();
        if (hidden.length != hiddenExpected) {
            throw new IllegalArgumentException("hidden states have " + hidden.length + " elements, expected [N, G, H] = ["
                    + n + ", " + g() + ", " + h() + "] = " + hiddenExpected);
        }
    }

    /**
     * {@return the length of the conv output over the symmetrically padded input, {@code T + (K-1)*dilation}}
     *
     * @param seqLen {@code T}, tokens per sequence
     */
    public int fullLength(int seqLen) {
        return seqLen + (c.kernelSize() - 1) * c.convDilation();
    }

    private void checkInputs(long[] rawIds, double[] hidden, int batch, int seqLen) {
        Objects.requireNonNull(rawIds, "rawIds");
        Objects.requireNonNull(hidden, "hidden");
        if (batch < 1 || seqLen < 1) {
            throw new IllegalArgumentException("batch and seqLen must be >= 1, got batch=" + batch + ", seqLen=" + seqLen);
        }
        long tokens = (long) batch * seqLen;
        if (rawIds.length != tokens) {
            throw new IllegalArgumentException("ids have " + rawIds.length + " elements, expected [B, T] = [" + batch
                    + ", " + seqLen + "] = " + tokens);
        }
        long hiddenExpected = tokens * c.hcMult() * c.hiddenSize();
        if (hidden.length != hiddenExpected) {
            throw new IllegalArgumentException("hidden states have " + hidden.length + " elements, expected [B, T, G, H] = ["
                    + batch + ", " + seqLen + ", " + c.hcMult() + ", " + c.hiddenSize() + "] = " + hiddenExpected);
        }
    }

    /** Row of the single table that head i of each token reads: hash id + offset_i. */
    private long[] tableRows(long[] hashIds, int n) {
        int heads = hashing.heads();
        long[] offsets = hashing.offsets();
        long[] rows = new long[n * heads];
        for (int i = 0; i < rows.length; i++) rows[i] = hashIds[i] + offsets[i % heads];
        return rows;
    }

    private double[] gather(long[] rows, int n) {
        int heads = hashing.heads(), dh = c.headDim(), e = c.engramHiddenSize();
        double[] emb = new double[n * e];
        for (int tok = 0; tok < n; tok++) {
            for (int i = 0; i < heads; i++) table.readRow(rows[tok * heads + i], emb, tok * e + i * dh);
        }
        return emb;
    }

    private double[] keyProjections(double[] emb, int n) {
        int g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize();
        double[] out = new double[n * g * h];
        for (int br = 0; br < g; br++) {
            double[] k = linear(emb, n, w.keyWeight(), br * h * e, w.keyBias(), br * h);
            for (int tok = 0; tok < n; tok++) System.arraycopy(k, tok * h, out, (tok * g + br) * h, h);
        }
        return out;
    }

    /** y[tok, o] = sum_i x[tok, i] * W[o, i] + bias[o], for a Linear weight [H, E] at {@code wOff}. */
    private double[] linear(double[] x, int n, float[] weight, int wOff, float[] bias, int bOff) {
        int h = c.hiddenSize(), e = c.engramHiddenSize();
        double[] y = new double[n * h];
        for (int tok = 0; tok < n; tok++) {
            for (int o = 0; o < h; o++) {
                double acc = 0;
                int wRow = wOff + o * e;
                for (int i = 0; i < e; i++) acc += x[tok * e + i] * weight[wRow + i];
                y[tok * h + o] = acc + bias[bOff + o];
            }
        }
        return y;
    }

    /** out = x * rsqrt(mean(x^2) + eps) * weight over one row of {@code len}. */
    private static void rmsNorm(double[] x, int xOff, float[] weight, int wOff, double eps, double[] out, int outOff, int len) {
        double sumSq = 0;
        for (int i = 0; i < len; i++) sumSq += x[xOff + i] * x[xOff + i];
        double inv = 1.0 / Math.sqrt(sumSq / len + eps);
        for (int i = 0; i < len; i++) out[outOff + i] = x[xOff + i] * inv * weight[wOff + i];
    }

    /**
     * Depthwise conv over time, as torch's Conv1d with padding (K-1)*dil on both sides: output
     * {@code [B, G*H, T + (K-1)*dil]}, of which the first T positions are causal:
     * {@code y[t] = sum_k w[c, k] * x[t - (K-1-k)*dil]}, zero outside [0, T). No leakage across batch rows.
     */
    private double[] dilatedCausalConv(double[] x, int batch, int seqLen) {
        int channels = c.hcMult() * c.hiddenSize(), k = c.kernelSize(), dil = c.convDilation();
        int fullLen = fullLength(seqLen);
        float[] weight = w.convWeight();
        double[] y = new double[batch * channels * fullLen];
        for (int b = 0; b < batch; b++) {
            for (int ch = 0; ch < channels; ch++) {
                for (int t = 0; t < fullLen; t++) {
                    double acc = 0;
                    for (int tap = 0; tap < k; tap++) {
                        int src = t - (k - 1 - tap) * dil;
                        if (src >= 0 && src < seqLen) acc += weight[ch * k + tap] * x[(b * seqLen + src) * channels + ch];
                    }
                    y[(b * channels + ch) * fullLen + t] = acc;
                }
            }
        }
        return y;
    }

    private static double sigmoid(double x) {
        return 1.0 / (1.0 + Math.exp(-x));
    }

    private static double silu(double x) {
        return x * sigmoid(x);
    }
}
