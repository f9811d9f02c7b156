package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.bindings.engram_h;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.hash.LayerHashing;
import dev.engram.nativelib.EngramNative;
import dev.engram.nativelib.NativeLibraryLoader;
import dev.engram.table.HostTable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

import static dev.engram.gpu.ArgumentChecks.nativeDtype;
import static dev.engram.gpu.ArgumentChecks.product;
import static dev.engram.gpu.ArgumentChecks.requireCount;
import static dev.engram.gpu.ArgumentChecks.requireDevice;
import static dev.engram.gpu.ArgumentChecks.requireDtype;
import static dev.engram.gpu.ArgumentChecks.requireFloatDtype;

/**
 * The fused hashed gather on the GPU ({@code engram_hashed_gather}, {@code kernels/hashed_gather.cu}):
 * raw token ids → compression table → n-gram hash ids of every head of one layer → rows of the layer's
 * multi-head embedding table, in one kernel launch on a stream.
 *
 * <p>With {@code H = layer.heads()} heads of {@code headDim} columns, for every token
 * {@code i = b*seqLen + t} and head {@code h}:
 * <pre>
 *   out[i, h*headDim .. (h+1)*headDim) = table[layer.offsets()[h] + hash[i, h], 0 .. headDim)
 *   hashIdsOut[i*H + h]                = hash[i, h]          (when hashIdsOut is not null)
 * </pre>
 * where {@code hash} is bit-identical to {@link dev.engram.hash.NgramHashMapping#hash} (CPU).
 *
 * <p><b>fp8 tables</b> ({@link Launch#fp8Table}, {@code engram_hashed_gather_fp8}, SEMANTICS.md 9): the table holds
 * {@link DType#FP8_E4M3} codes with one {@link DType#FP8_E8M0} scale per block of {@code scaleBlock} values of a row;
 * the kernel writes {@code e4m3(q) * 2^(b - 127)}, exact in float32, as FLOAT32 or rounded to nearest even to
 * BFLOAT16 ({@code out}'s dtype): the exact dequantization, bit for bit. A NaN code or scale byte (255) gives the
 * canonical NaN ({@code 0x7fc00000} / {@code 0x7fc0}); scale bytes are not checked here (tables are validated when
 * they are built).
 *
 * <p><b>Ids are not range-checked on the device.</b> With a LUT, ids {@code >= 0} are mapped through it
 * and ids {@code < 0} pass through unchanged (as {@link dev.engram.tokenizer.CompressionTable#compress}).
 * An id {@code >= lut.elementCount()} cannot be reported from the kernel: every head whose n-gram window
 * holds one gets hash id {@code -1} and a row of NaNs. Callers validate host ids before uploading them,
 * e.g. with {@link dev.engram.tokenizer.CompressionTable#compress(long[])}, which throws for such ids.
 */
public final class HashedGather {
    private static final String OP = "hashed gather";

    private HashedGather() {}

    /**
     * {@return a hashed gather launch to fill in by name, then queue with {@link Launch#enqueue(CudaStream)}}
     * Every argument is checked when it is queued.
     */
    public static Launch launch() {
        return new Launch();
    }

    /**
     * The arguments of one hashed gather launch, set by name (no positional list of same-typed values to swap).
     * Required: every setter whose parameter is not documented as optional. Not thread-safe; reusable.
     */
    public static final class Launch {
        private DeviceArray rawIds;
        private DeviceArray lut;
        private Long padIdCompressed;
        private LayerHashing layer;
        private Integer headsPerNgram;
        private DeviceArray table;
        private DeviceArray fp8Codes, fp8Scales;
        private int scaleBlock;
        private Integer headDim;
        private DeviceArray out;
        private DeviceArray hashIdsOut;
        private Integer batch, seqLen;
        private DeviceBatch packed;
        private DeviceArray history;
        private int historySlots;

        private Launch() {}

        /**
         * Sets the token ids, required.
         *
         * @param v {@code [B, T]} INT64 ids: raw when a compression table is set, else already compressed
         * @return this launch
         */
        public Launch rawIds(DeviceArray v) {
            rawIds = Objects.requireNonNull(v, "rawIds");
            return this;
        }

        /**
         * Sets the compression table; optional.
         *
         * @param v INT64, non-empty, indexed by raw id; {@code null} (the default) when the ids are
         *          already compressed
         * @return this launch
         */
        public Launch lut(DeviceArray v) {
            lut = v;
            return this;
        }

        /**
         * Sets the pad id, required: the id the n-gram windows see before each sequence start.
         *
         * @param v the pad id, already mapped through the compression table
         * @return this launch
         */
        public Launch padIdCompressed(long v) {
            padIdCompressed = v;
            return this;
        }

        /**
         * Sets the layer's hashing, required.
         *
         * @param v the layer's multipliers, moduli and row offsets
         * @return this launch
         */
        public Launch layer(LayerHashing v) {
            layer = Objects.requireNonNull(v, "layer");
            return this;
        }

        /**
         * Sets the hash heads per n-gram order, required.
         *
         * @param v {@code n_head_per_ngram}; {@code layer.heads()} must be
         *          {@code (layer.multipliers().length - 1) * headsPerNgram}
         * @return this launch
         */
        public Launch headsPerNgram(int v) {
            headsPerNgram = v;
            return this;
        }

        /**
         * Sets the embedding table the rows are gathered from, required.
         *
         * @param v the layer's table {@code [layer.totalRows(), headDim]}, row-major, FLOAT32 or BFLOAT16
         * @return this launch
         */
        public Launch table(DeviceArray v) {
            table = Objects.requireNonNull(v, "table");
            return this;
        }

        /**
         * Sets an fp8 table instead of {@link #table(DeviceArray)} ({@code engram_hashed_gather_fp8}): E4M3 codes with
         * E8M0 block scales, dequantized into {@code out}'s dtype (FLOAT32 or BFLOAT16) bit for bit as
         * SEMANTICS.md 9 states. Scale bytes of 255 (NaN) are not checked: the rows they scale come out NaN.
         *
         * @param codes      {@code [layer.totalRows(), headDim]} {@link DType#FP8_E4M3} codes, row-major
         * @param scales     {@code [layer.totalRows(), headDim / scaleBlock]} {@link DType#FP8_E8M0} scales, row-major
         * @param scaleBlock consecutive values of a row per scale, {@code >= 1}, dividing {@code headDim}
         *                   ({@code headDim}: one scale per row)
         * @return this launch
         */
        public Launch fp8Table(DeviceArray codes, DeviceArray scales, int scaleBlock) {
            fp8Codes = Objects.requireNonNull(codes, "codes");
            fp8Scales = Objects.requireNonNull(scales, "scales");
            this.scaleBlock = scaleBlock;
            return this;
        }

        /**
         * Sets the width of one head's rows, required.
         *
         * @param v columns per head, {@code >= 1}
         * @return this launch
         */
        public Launch headDim(int v) {
            headDim = v;
            return this;
        }

        /**
         * Sets where the gathered rows are written, required.
         *
         * @param v {@code [B, T, heads * headDim]}, the table's dtype (an fp8 table: FLOAT32 or BFLOAT16)
         * @return this launch
         */
        public Launch out(DeviceArray v) {
            out = Objects.requireNonNull(v, "out");
            return this;
        }

        /**
         * Sets where the hash ids are written; optional.
         *
         * @param v {@code [B, T, heads]} INT64 hash ids, or {@code null} (the default) not to write them
         * @return this launch
         */
        public Launch hashIdsOut(DeviceArray v) {
            hashIdsOut = v;
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
         * Sets the tokens as a packed batch instead of {@link #tokens(int, int)} ({@code engram_hashed_gather_packed}):
         * {@code rawIds}, {@code out} and {@code hashIdsOut} then hold {@code batch.batch().tokens()} tokens, and token
         * {@code cu[s] + t} of sequence {@code s} shifts within its sequence only: positions before the chunk read the
         * slot's {@link #history} when the sequence continues, the pad id when it starts.
         *
         * @param v the batch, already {@link DeviceBatch#set}
         * @return this launch
         */
        public Launch batch(DeviceBatch v) {
            packed = Objects.requireNonNull(v, "batch");
            return this;
        }

        /**
         * Sets the hash history a packed batch's continuing sequences read; optional (only with {@link #batch}, and
         * only when every sequence starts). The gather reads it and never writes it ({@link StateCommit} does).
         *
         * @param v     {@code [slots, max_ngram_size - 1]} INT64 compressed ids, oldest first
         * @param slots its rows; every slot of the batch must be below it
         * @return this launch
         */
        public Launch history(DeviceArray v, int slots) {
            history = Objects.requireNonNull(v, "history");
            historySlots = slots;
            return this;
        }

        /**
         * Checks every argument in Java, then queues the launch on {@code stream}. Never allocates device memory and
         * never synchronizes; with no tokens nothing is queued (no native call).
         *
         * @param stream the stream to queue on
         * @throws IllegalStateException    when a required argument was not set, both {@code tokens} and {@code batch}
         *                                  were, both {@code table} and {@code fp8Table} were, or a buffer, the batch
         *                                  or the stream is closed
         * @throws IllegalArgumentException naming the problem, for a value out of range, a wrong dtype or device, an
         *         element count that does not match its shape formula, or overlapping output memory
         * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
         * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
         */
        public void enqueue(CudaStream stream) {
            require(rawIds, "rawIds");
            require(padIdCompressed, "padIdCompressed");
            require(layer, "layer");
            require(headsPerNgram, "headsPerNgram");
            if (table != null && fp8Codes != null) {
                throw new IllegalStateException("hashed gather: both table and fp8Table were set");
            }
            require(table != null ? table : fp8Codes, "table (or fp8Table)");
            require(headDim, "headDim");
            require(out, "out");
            TableView view = table != null ? deviceTable(table, headDim)
                    : new Fp8Table(fp8Codes, fp8Scales, scaleBlock, headDim);
            if (packed != null) {
                if (batch != null) throw new IllegalStateException("hashed gather: both tokens and batch were set");
                try (Arena arena = Arena.ofConfined()) {
                    enqueuePacked(rawIds, packed, history, historySlots, lut, padIdCompressed,
                            new NativeHashing(layer, arena), headsPerNgram, view, headDim, out, hashIdsOut, stream);
                }
                return;
            }
            if (history != null) throw new IllegalStateException("hashed gather: history was set without a batch");
            require(batch, "tokens");
            checkAndLaunch(rawIds, batch, seqLen, lut, padIdCompressed, layer, headsPerNgram, view, headDim, out,
                    hashIdsOut, stream);
        }

        private static void require(Object value, String name) {
            if (value == null) throw new IllegalStateException("hashed gather: " + name + " was not set");
        }
    }

    /**
     * Checks every argument in Java, then queues the gather on {@code stream}. Never allocates device
     * memory and never synchronizes; with {@code batch * seqLen == 0} nothing is queued (no native call).
     *
     * @param rawIds          {@code [batch * seqLen]} INT64 token ids (raw with a LUT, else already compressed)
     * @param batch           {@code B >= 0}
     * @param seqLen          {@code T >= 0}
     * @param lut             the compression table, INT64 {@code [lut size]} (non-empty), or {@code null} when
     *                        {@code rawIds} are already compressed
     * @param padIdCompressed the pad id used before each sequence start, already mapped through the table
     * @param layer           the layer's multipliers, moduli and row offsets
     * @param headsPerNgram   {@code n_head_per_ngram}; {@code layer.heads()} must equal
     *                        {@code (layer.multipliers().length - 1) * headsPerNgram}
     * @param table           the layer's embedding table, FLOAT32 or BFLOAT16
     *                        {@code [layer.totalRows() * headDim]}, row-major
     * @param headDim         columns per head, {@code >= 1}
     * @param out             {@code [batch * seqLen * H * headDim]}, same dtype as {@code table}
     * @param hashIdsOut      {@code [batch * seqLen * H]} INT64, or {@code null} to skip writing hash ids
     * @param stream          the stream to queue on
     * @throws IllegalArgumentException naming the problem, for a wrong dtype, element count or shape
     * @throws IllegalStateException    when a buffer or the stream is closed
     * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
     * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
     *         (e.g. limits of {@code engram.h}: max n-gram 16, at most 64 heads, head dim at most 65536)
     */
    static void enqueueChecked(DeviceArray rawIds, int batch, int seqLen, DeviceArray lut, long padIdCompressed,
                               LayerHashing layer, int headsPerNgram, DeviceArray table, int headDim,
                               DeviceArray out, DeviceArray hashIdsOut, CudaStream stream) {
        Objects.requireNonNull(table, "table");
        checkAndLaunch(rawIds, batch, seqLen, lut, padIdCompressed, layer, headsPerNgram, deviceTable(table, headDim),
                headDim, out, hashIdsOut, stream);
    }

    /**
     * The same gather from a table in pinned, mapped host memory (zero-copy: the kernel reads the rows over
     * PCIe). {@code table} must come from a pinned {@link dev.engram.table.HostMemory} (e.g.
     * {@link dev.engram.table.PinnedHostMemory}); with unified addressing its host address is its device address.
     */
    static void enqueueFromHost(DeviceArray rawIds, int batch, int seqLen, DeviceArray lut, long padIdCompressed,
                                LayerHashing layer, int headsPerNgram, HostTable table,
                                DeviceArray out, DeviceArray hashIdsOut, CudaStream stream) {
        Objects.requireNonNull(table, "table");
        checkAndLaunch(rawIds, batch, seqLen, lut, padIdCompressed, layer, headsPerNgram, new TableView() {
            public void checkLive() { table.segment(); }
            public DType dtype() {
                if (table.dtype() != DType.FLOAT32 && table.dtype() != DType.BFLOAT16) {
                    throw new IllegalArgumentException("hashed gather: table must be FLOAT32 or BFLOAT16, got " + table);
                }
                return table.dtype();
            }
            public void checkSize(long rows) {
                if (table.rows() != rows) {
                    throw new IllegalArgumentException("hashed gather: host table has " + table.rows()
                            + " rows, the layer has " + rows + " (" + table + ")");
                }
            }
            public MemorySegment address() { return MemorySegment.ofAddress(table.segment().address()); }
        }, table.rowElements(), out, hashIdsOut, stream);
    }

    /**
     * {@link #enqueueChecked} from an fp8 table: E4M3 {@code codes} {@code [layer.totalRows(), headDim]} and E8M0
     * {@code scales} {@code [layer.totalRows(), headDim / scaleBlock]} (device memory, or mapped host memory as
     * device views), dequantized into {@code out}'s dtype, FLOAT32 or BFLOAT16 ({@code engram_hashed_gather_fp8}).
     */
    static void enqueueFp8Checked(DeviceArray rawIds, int batch, int seqLen, DeviceArray lut, long padIdCompressed,
                                  LayerHashing layer, int headsPerNgram, DeviceArray codes, DeviceArray scales,
                                  int scaleBlock, int headDim, DeviceArray out, DeviceArray hashIdsOut,
                                  CudaStream stream) {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(scales, "scales");
        checkAndLaunch(rawIds, batch, seqLen, lut, padIdCompressed, layer, headsPerNgram,
                new Fp8Table(codes, scales, scaleBlock, headDim), headDim, out, hashIdsOut, stream);
    }

    /** What the shared checks need of a table, device or host, float or fp8. */
    private interface TableView {
        void checkLive();

        /** The table's device memory, or null for a host table (every device reaches it). */
        default DeviceArray deviceArray() {
            return null;
        }

        /** An fp8 table's scales (device memory), else null. */
        default DeviceArray scales() {
            return null;
        }

        DType dtype();

        /** {@return the dtype of the gathered rows}, after checking {@code out} has it. */
        default DType outDtype(DeviceArray out) {
            DType dtype = dtype();
            requireDtype(OP, out, dtype, "out (the table's dtype)");
            return dtype;
        }

        void checkSize(long rows);

        MemorySegment address();
    }

    /**
     * An fp8 table in device memory: E4M3 codes {@code [rows, headDim]} and E8M0 scales {@code [rows, headDim /
     * scaleBlock]}, gathered into FLOAT32 or BFLOAT16 rows ({@code engram_hashed_gather_fp8}).
     */
    private record Fp8Table(DeviceArray codes, DeviceArray scales, int scaleBlock, int headDim) implements TableView {
        public void checkLive() {
            codes.address();
            scales.address();
        }

        public DeviceArray deviceArray() {
            return codes;
        }

        public DType dtype() {
            requireDtype(OP, codes, DType.FP8_E4M3, "fp8 table codes");
            requireDtype(OP, scales, DType.FP8_E8M0, "fp8 table scales");
            return DType.FP8_E4M3;
        }

        public DType outDtype(DeviceArray out) {
            dtype();
            return requireFloatDtype(OP, out, "out (from an fp8 table)");
        }

        public void checkSize(long rows) {
            if (scaleBlock < 1 || headDim % scaleBlock != 0) {
                throw new IllegalArgumentException("hashed gather: scaleBlock must be >= 1 and divide headDim " + headDim
                        + ", got " + scaleBlock);
            }
            requireCount(OP, codes, product(OP, rows, headDim), "fp8 table codes",
                    "layer.totalRows() * headDim = " + rows + " * " + headDim);
            requireCount(OP, scales, product(OP, rows, headDim / scaleBlock), "fp8 table scales",
                    "layer.totalRows() * (headDim / scaleBlock) = " + rows + " * (" + headDim + " / " + scaleBlock + ")");
        }

        public MemorySegment address() {
            return codes.address();
        }
    }

    /** Every check in the documented order, then the launch. */
    private static void checkAndLaunch(DeviceArray rawIds, int batch, int seqLen, DeviceArray lut, long padIdCompressed,
                                       LayerHashing layer, int headsPerNgram, TableView table, int headDim,
                                       DeviceArray out, DeviceArray hashIdsOut, CudaStream stream) {
        Objects.requireNonNull(rawIds, "rawIds");
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        // Liveness first: a closed buffer or stream is an IllegalStateException whatever else is wrong.
        rawIds.address();
        if (lut != null) lut.address();
        table.checkLive();
        out.address();
        if (hashIdsOut != null) hashIdsOut.address();
        stream.handle();

        if (batch < 0 || seqLen < 0) {
            throw new IllegalArgumentException("hashed gather: batch and seqLen must be >= 0, got " + batch + " x " + seqLen);
        }
        long tokens = (long) batch * seqLen;
        DType dtype = checkShapes(rawIds, tokens, "batch * seqLen", batch + " * " + seqLen, lut, layer, headsPerNgram,
                table, headDim, out, hashIdsOut);
        if (tokens == 0) {
            return; // zero-element buffers have NULL addresses; the C ABI would launch nothing anyway
        }

        requireDevice(OP, -1, "the current device is", stream, "rawIds", rawIds, "lut", lut, "table", table.deviceArray(),
                "scales", table.scales(), "out", out, "hashIdsOut", hashIdsOut);
        NativeLibraryLoader.require();
        int nativeDtype = nativeDtype(dtype);
        long lutSize = lut == null ? 0 : lut.elementCount();
        MemorySegment lutAddress = lut == null ? MemorySegment.NULL : lut.address();
        MemorySegment hashAddress = hashIdsOut == null ? MemorySegment.NULL : hashIdsOut.address();
        try (Arena arena = Arena.ofConfined()) {
            NativeHashing h = new NativeHashing(layer, arena);
            if (table instanceof Fp8Table f) {
                int status = engram_h.engram_hashed_gather_fp8(rawIds.address(), batch, seqLen, lutAddress, lutSize,
                        padIdCompressed, h.multipliers, layer.multipliers().length, h.moduli, h.offsets, headsPerNgram,
                        f.codes.address(), f.scales.address(), layer.totalRows(), headDim, f.scaleBlock, nativeDtype,
                        out.address(), hashAddress, stream.handle());
                EngramNative.check("engram_hashed_gather_fp8", status);
                return;
            }
            int status = engram_h.engram_hashed_gather(rawIds.address(), batch, seqLen, lutAddress, lutSize,
                    padIdCompressed, h.multipliers, layer.multipliers().length, h.moduli, h.offsets, headsPerNgram,
                    table.address(), layer.totalRows(), headDim, nativeDtype, out.address(), hashAddress, stream.handle());
            EngramNative.check("engram_hashed_gather", status);
        }
    }

    /**
     * The checks of a gather's tensors for {@code tokens} tokens ({@code tokenNames = tokenValues} in messages, e.g.
     * {@code "batch * seqLen"} and {@code "3 * 5"}); returns the table's dtype.
     */
    private static DType checkShapes(DeviceArray rawIds, long tokens, String tokenNames, String tokenValues,
                                     DeviceArray lut, LayerHashing layer, int headsPerNgram, TableView table,
                                     int headDim, DeviceArray out, DeviceArray hashIdsOut) {
        requireDtype(OP, rawIds, DType.INT64, "rawIds");
        requireCount(OP, rawIds, tokens, "rawIds", tokenNames + " = " + tokenValues);
        if (lut != null) {
            requireDtype(OP, lut, DType.INT64, "lut");
            if (lut.elementCount() == 0) {
                throw new IllegalArgumentException("hashed gather: lut is empty (pass null when the ids are already compressed)");
            }
        }
        int maxNgram = layer.multipliers().length;
        int heads = layer.heads();
        if (headsPerNgram < 1) {
            throw new IllegalArgumentException("hashed gather: headsPerNgram must be >= 1, got " + headsPerNgram);
        }
        if (maxNgram < 2 || (long) (maxNgram - 1) * headsPerNgram != heads) {
            throw new IllegalArgumentException("hashed gather: layer " + layer.layerId() + " has " + heads
                    + " heads and " + maxNgram + " multipliers, expected (max_ngram_size - 1) * headsPerNgram = ("
                    + maxNgram + " - 1) * " + headsPerNgram + " heads");
        }
        if (headDim < 1) {
            throw new IllegalArgumentException("hashed gather: headDim must be >= 1, got " + headDim);
        }
        DType dtype = table.outDtype(out);
        if (hashIdsOut != null) requireDtype(OP, hashIdsOut, DType.INT64, "hashIdsOut");
        long rows = layer.totalRows();
        table.checkSize(rows);
        requireCount(OP, out, product(OP, tokens, heads, headDim), "out",
                tokenNames + " * heads * headDim = " + tokenValues + " * " + heads + " * " + headDim);
        if (hashIdsOut != null) {
            requireCount(OP, hashIdsOut, product(OP, tokens, heads), "hashIdsOut",
                    tokenNames + " * heads = " + tokenValues + " * " + heads);
        }
        return dtype;
    }

    /**
     * The gather on a packed batch ({@code engram_hashed_gather_packed}): every check in Java, then the launch. Token
     * {@code i} of sequence {@code s} shifts within its sequence only; positions before the chunk read the slot's
     * {@code history} when the sequence continues, the pad id when it starts. Never allocates device memory, never
     * synchronizes, marshals nothing ({@code hashing} is in native memory already); with no tokens nothing is queued.
     *
     * @param history {@code [slots, max_ngram_size - 1]} INT64 compressed ids, or null when every sequence starts
     * @param slots   the rows of {@code history}
     */
    static void enqueuePackedChecked(DeviceArray rawIds, DeviceBatch batch, DeviceArray history, int slots,
                                     DeviceArray lut, long padIdCompressed, NativeHashing hashing, int headsPerNgram,
                                     DeviceArray table, int headDim, DeviceArray out, DeviceArray hashIdsOut,
                                     CudaStream stream) {
        enqueuePackedChecked(rawIds, batch, history, slots, lut, padIdCompressed, hashing, headsPerNgram, table, null, 0,
                headDim, out, hashIdsOut, stream);
    }

    /**
     * The same from a float table ({@code scales} null) or an fp8 table: E4M3 codes in {@code table}, E8M0
     * {@code scales} per {@code scaleBlock} values of a row.
     */
    static void enqueuePackedChecked(DeviceArray rawIds, DeviceBatch batch, DeviceArray history, int slots,
                                     DeviceArray lut, long padIdCompressed, NativeHashing hashing, int headsPerNgram,
                                     DeviceArray table, DeviceArray scales, int scaleBlock, int headDim, DeviceArray out,
                                     DeviceArray hashIdsOut, CudaStream stream) {
        Objects.requireNonNull(table, "table");
        TableView view = scales == null ? deviceTable(table, headDim) : new Fp8Table(table, scales, scaleBlock, headDim);
        enqueuePacked(rawIds, batch, history, slots, lut, padIdCompressed, hashing, headsPerNgram, view, headDim, out,
                hashIdsOut, stream);
    }

    /** {@link #enqueuePackedChecked} from a float or an fp8 table ({@code engram_hashed_gather_fp8_packed}). */
    private static void enqueuePacked(DeviceArray rawIds, DeviceBatch batch, DeviceArray history, int slots,
                                      DeviceArray lut, long padIdCompressed, NativeHashing hashing, int headsPerNgram,
                                      TableView table, int headDim, DeviceArray out, DeviceArray hashIdsOut,
                                      CudaStream stream) {
        Objects.requireNonNull(rawIds, "rawIds");
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(hashing, "hashing");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        rawIds.address();
        PackedBatch packed = batch.batch();
        if (history != null) history.address();
        if (lut != null) lut.address();
        table.checkLive();
        out.address();
        if (hashIdsOut != null) hashIdsOut.address();
        stream.handle();

        long tokens = packed.tokens();
        LayerHashing layer = hashing.layer;
        DType dtype = checkShapes(rawIds, tokens, "batch.tokens()", Long.toString(tokens), lut, layer, headsPerNgram,
                table, headDim, out, hashIdsOut);
        int maxNgram = layer.multipliers().length;
        PackedChecks.requireState(OP, batch, history, "history", DType.INT64, slots, maxNgram - 1,
                "(max_ngram_size - 1)");
        if (tokens == 0) return; // the C ABI would launch nothing

        requireDevice(OP, -1, "the current device is", stream, "rawIds", rawIds, "batch", batch.descriptors,
                "history", history, "lut", lut, "table", table.deviceArray(), "scales", table.scales(), "out", out,
                "hashIdsOut", hashIdsOut);
        NativeLibraryLoader.require();
        if (table instanceof Fp8Table f) {
            int status = engram_h.engram_hashed_gather_fp8_packed(rawIds.address(), tokens, batch.cuSeqlens(),
                    batch.seqSlots(), batch.seqStarts(), packed.sequences(), PackedChecks.addressOrNull(history), slots,
                    lut == null ? MemorySegment.NULL : lut.address(), lut == null ? 0 : lut.elementCount(),
                    padIdCompressed, hashing.multipliers, maxNgram, hashing.moduli, hashing.offsets, headsPerNgram,
                    f.codes.address(), f.scales.address(), layer.totalRows(), headDim, f.scaleBlock, nativeDtype(dtype),
                    out.address(), hashIdsOut == null ? MemorySegment.NULL : hashIdsOut.address(), stream.handle());
            EngramNative.check("engram_hashed_gather_fp8_packed", status);
            return;
        }
        int status = engram_h.engram_hashed_gather_packed(rawIds.address(), tokens, batch.cuSeqlens(), batch.seqSlots(),
                batch.seqStarts(), packed.sequences(), PackedChecks.addressOrNull(history), slots,
                lut == null ? MemorySegment.NULL : lut.address(), lut == null ? 0 : lut.elementCount(), padIdCompressed,
                hashing.multipliers, maxNgram, hashing.moduli, hashing.offsets, headsPerNgram, table.address(),
                layer.totalRows(), headDim, nativeDtype(dtype), out.address(),
                hashIdsOut == null ? MemorySegment.NULL : hashIdsOut.address(), stream.handle());
        EngramNative.check("engram_hashed_gather_packed", status);
    }

    private static TableView deviceTable(DeviceArray table, int headDim) {
        return new TableView() {
            public void checkLive() { table.address(); }
            public DType dtype() { return requireFloatDtype(OP, table, "table"); }
            public void checkSize(long rows) {
                requireCount(OP, table, product(OP, rows, headDim), "table",
                        "layer.totalRows() * headDim = " + rows + " * " + headDim);
            }
            public MemorySegment address() { return table.address(); }
            public DeviceArray deviceArray() { return table; }
        };
    }
}
