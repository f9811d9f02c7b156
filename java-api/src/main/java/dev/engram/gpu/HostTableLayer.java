package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.bindings.cuda_runtime_h;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.cuda.DeviceScope;
import dev.engram.cuda.PinnedHostBuffer;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.hash.NgramHasher;
import dev.engram.reference.DenseWeights;
import dev.engram.table.CpuRowGather;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.HostTable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * An Engram layer whose embedding table stays in (pinned) host memory, possibly larger than the GPU's:
 * a layer's rows depend only on token ids, so {@link #prefetch} fetches them into device staging on a
 * side stream while the preceding layers compute, and {@link #forward(Prefetch, DeviceArray, DeviceArray,
 * CudaStream)} makes the compute stream wait for them, then runs projections → gate → ShortConv.
 *
 * <pre>
 * Prefetch p = layer.prefetch(ids, batch, seqLen);   // step k+1's rows, while step k computes
 * ... queue the preceding layers on compute ...
 * layer.forward(p, hidden, out, compute);            // compute waits on p.ready(), then the dense part
 * </pre>
 *
 * <p><b>Packed batches and decoding</b> (SEMANTICS.md §8). {@link #prefetch(PackedBatch, long[], EngramState)} and
 * {@link #forward(Prefetch, DeviceArray, DeviceArray, EngramState, CudaStream)} run a {@link PackedBatch} with carried
 * state, made by {@link #newState}: a sequence fed in chunks (a prefill, then 1-token decode steps) gives the outputs
 * of feeding it whole. The prefetch runs ahead of the compute and knows the ids, so the state's hash history lives on
 * the host: the prefetch hashes with it and advances it at once; the forward runs the dense part on the packed batch
 * (the packed ShortConv reading the state's conv window on the device) and commits the window in stream order. So a
 * state's prefetches must be forwarded in the order they were issued, and a prefetch whose handle is still
 * unconsumed is never dropped (the prefetch that would reuse its staging slot throws). See {@link EngramState} for
 * when to reset or fork a slot.
 * <pre>
 * try (EngramState state = layer.newState(64)) {
 *     PackedBatch step = PackedBatch.decode(slots);           // the same object every step: descriptors kept
 *     Prefetch p = layer.prefetch(step, stepIds, state);      // hash + gather + H2D on the side stream
 *     ... queue the preceding layers on compute ...
 *     layer.forward(p, hidden, out, state, compute);          // [tokens, G, H]
 * }
 * </pre>
 *
 * <p><b>Staging.</b> Two slots, each a pinned host buffer and a device buffer of {@code maxTokens} rows:
 * a prefetch may be issued while the previous one is still unconsumed. A prefetch first waits (on the host)
 * until its slot's previous copy has left the pinned buffer, and its side-stream work waits for the previous
 * forward that read the slot; a rectangular handle whose slot was reused before it was consumed is stale. A packed
 * prefetch also keeps its batch's descriptors in a {@link DeviceBatch} of its staging slot (made on the first packed
 * prefetch, for {@link #maxSequences()} sequences; not uploaded again when the same {@code PackedBatch} object comes
 * back to the slot, as in a decode loop).
 *
 * <p><b>Paths</b> ({@link HostGatherPath}): {@code CPU} hashes on the CPU (token ranges in parallel) and gathers
 * the rows with {@link CpuRowGather} into the pinned slot (on the calling thread and the gather's pool) in
 * chunks of {@value #CHUNK_TOKENS} tokens, queueing each chunk's H2D copy as soon as it is gathered; {@code ZERO_COPY}
 * copies the ids (for a packed batch with its sequences' history rows) and queues the hashed-gather kernel reading
 * the mapped table; {@code AUTO} takes {@code ZERO_COPY} for prefetches of {@link Options#zeroCopyMinTokens()} to
 * {@link Options#zeroCopyMaxTokens()} tokens and {@code CPU} for smaller and larger ones ({@link #pathFor}). A packed decode step allocates
 * no device memory and no host buffer (the host arrays are the layer's, reused; small objects remain).
 *
 * <p>The table is borrowed: it must be pinned and mapped ({@link dev.engram.table.PinnedHostMemory}) for zero copy
 * and stay open while this layer lives. Not thread-safe. {@link #close()} waits for everything queued, then frees.
 *
 * <p><b>fp8 tables</b> (SEMANTICS.md 9): {@link #create(NgramHashMapping, int, LayerWeights, Fp8HostTable, DType,
 * Options)} takes an {@link Fp8HostTable} (E4M3 codes and E8M0 block scales in host memory) and a compute dtype,
 * FLOAT32 or BFLOAT16. Fp8 bytes travel and the GPU dequantizes: the {@code CPU} path gathers each chunk's code rows
 * and scale rows (the same ids) into pinned staging, copies both and dequantizes them into the slot's rows
 * ({@link Fp8Dequantize}) on the side stream; {@code ZERO_COPY} runs the fp8 hashed gather on the mapped codes and
 * scales. Every path, rectangular and packed, gives the bits of an {@link EngramLayer} with the same fp8 table on the
 * device. {@link LayerWeights} with a table, fp8 or not, are refused: the table is the host one.
 */
public final class HostTableLayer implements AutoCloseable {
    private static final String OP = "HostTableLayer";
    private static final int SLOTS = 2;
    /** CPU path: rows are gathered and copied in chunks of this many tokens, so each copy overlaps the next gather. */
    static final int CHUNK_TOKENS = 2048;
    /** CPU path: fewer tokens than this per hashing task would cost more in fork-join overhead than they save. */
    private static final int HASH_TOKENS_PER_PIECE = 512;

    private final NgramHashMapping mapping;
    private final LayerHashing hashing;
    private final long[] multipliers, moduli; // LayerHashing's accessors copy; the CPU path hashes every prefetch
    private final long[] hashIds;             // CPU path: the current prefetch's hash ids, reused
    private final HostTable table;            // a float table, or null
    private final Fp8HostTable fp8Table;      // an fp8 table, or null
    private final Fp8HostStaging fp8;         // with fp8Table: its staging and mapped views
    private final HostGatherPath path;
    private final int zeroCopyMaxTokens;      // prefetches of at most this many tokens go zero-copy; -1: none
    private final int zeroCopyMinTokens;      // ... and of at least this many (AUTO's window; 0 otherwise)
    private final int maxSequences;
    private final EngramLayer dense;
    private final CpuRowGather gather;        // null without CPU staging
    private final CudaStream side;
    private final DeviceArray mappedTable;    // the table as the packed zero-copy gather reads it; null without
    private final NativeHashing nativeHashing;
    private final PinnedHostBuffer[] hostRows = new PinnedHostBuffer[SLOTS];  // CPU: gathered rows
    // Zero copy: ids [zero-copy tokens], then (packed) the sequences' history rows [maxSequences * M]
    private final PinnedHostBuffer[] hostIds = new PinnedHostBuffer[SLOTS];
    private final DeviceBuffer[] deviceIds = new DeviceBuffer[SLOTS];
    private final DeviceBuffer[] deviceRows = new DeviceBuffer[SLOTS];
    private final CudaEvent[] copied = new CudaEvent[SLOTS];    // the slot's H2D copy has finished reading host staging
    private final CudaEvent[] ready = new CudaEvent[SLOTS];     // the slot's rows are in deviceRows
    private final CudaEvent[] consumed = new CudaEvent[SLOTS];  // the forward that read the slot has finished
    private final long[] generation = new long[SLOTS];
    private final Prefetch[] issued = new Prefetch[SLOTS];      // the last prefetch of each slot
    // Packed prefetches, made on the first one: per slot the batch's descriptors (the dense part reads them) and,
    // for zero copy, the identity batch the gather reads; with the batch object each one holds (not set again).
    private final DeviceBatch[] descriptors = new DeviceBatch[SLOTS];
    private final PackedBatch[] descriptorsHeld = new PackedBatch[SLOTS];
    private final DeviceBatch[] identity = new DeviceBatch[SLOTS];
    private final PackedBatch[] identityHeld = new PackedBatch[SLOTS];
    private PackedPrefetchInputs packedInputs;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private int nextSlot;
    private boolean closed;

    /**
     * How a layer is built: the path rows take, the most tokens and sequences one prefetch takes, the CPU gather's
     * threads and {@link HostGatherPath#AUTO}'s window. Start from {@link #of(HostGatherPath, int)} and change what
     * differs: {@code HostTableLayer.Options.of(HostGatherPath.AUTO, 4096).withGatherThreads(16)}.
     *
     * @param path              how rows travel, e.g. {@link HostGatherPath#defaultFor(HostTable)}
     * @param maxTokens         the most tokens one prefetch takes, {@code >= 1}
     * @param gatherThreads     threads of the CPU gather (the {@code CPU} and {@code AUTO} paths), {@code >= 1}
     * @param maxSequences      the most sequences of a packed prefetch, {@code >= 1}, or 0 for {@code maxTokens}
     * @param zeroCopyMaxTokens {@code AUTO}: prefetches of at most this many tokens (and at least
     *                          {@code zeroCopyMinTokens}) take the zero-copy path, larger ones the CPU path
     *                          ({@code >= 0}; 0: always CPU); ignored by the other paths
     * @param zeroCopyMinTokens {@code AUTO}: prefetches of fewer tokens take the CPU path ({@code >= 0}); ignored by
     *                          the other paths
     */
    public record Options(HostGatherPath path, int maxTokens, int gatherThreads, int maxSequences, int zeroCopyMaxTokens,
                          int zeroCopyMinTokens) {
        /** Checks the values. */
        public Options {
            Objects.requireNonNull(path, "path");
            if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
            if (gatherThreads < 1) throw new IllegalArgumentException("gatherThreads must be >= 1, got " + gatherThreads);
            if (maxSequences < 0) {
                throw new IllegalArgumentException("maxSequences must be >= 0 (0: maxTokens), got " + maxSequences);
            }
            if (zeroCopyMaxTokens < 0) {
                throw new IllegalArgumentException("zeroCopyMaxTokens must be >= 0, got " + zeroCopyMaxTokens);
            }
            if (zeroCopyMinTokens < 0) {
                throw new IllegalArgumentException("zeroCopyMinTokens must be >= 0, got " + zeroCopyMinTokens);
            }
        }

        /**
         * {@return options with one gather thread per processor, {@code maxSequences = maxTokens} and
         * {@link HostGatherPath#AUTO}'s default window ({@link HostGatherPath#autoZeroCopyMinTokens()} to
         * {@link HostGatherPath#autoZeroCopyMaxTokens()} tokens)}
         *
         * @param path      how rows travel
         * @param maxTokens the most tokens one prefetch takes, {@code >= 1}
         * @throws IllegalArgumentException for {@code maxTokens < 1} or a bad system property
         */
        public static Options of(HostGatherPath path, int maxTokens) {
            return new Options(path, maxTokens, Runtime.getRuntime().availableProcessors(), 0,
                    HostGatherPath.autoZeroCopyMaxTokens(), HostGatherPath.autoZeroCopyMinTokens());
        }

        /** {@return the most sequences of a packed prefetch: {@code maxSequences}, or {@code maxTokens} when it is 0} */
        public int sequenceLimit() {
            return maxSequences == 0 ? maxTokens : maxSequences;
        }

        /**
         * {@return these options with another number of CPU gather threads}
         *
         * @param gatherThreads {@code >= 1}
         * @throws IllegalArgumentException when {@code gatherThreads < 1}
         */
        public Options withGatherThreads(int gatherThreads) {
            return new Options(path, maxTokens, gatherThreads, maxSequences, zeroCopyMaxTokens, zeroCopyMinTokens);
        }

        /**
         * {@return these options with another limit on a packed prefetch's sequences}
         *
         * @param maxSequences {@code >= 1}, or 0 for as many as {@code maxTokens}
         * @throws IllegalArgumentException when {@code maxSequences < 0}
         */
        public Options withMaxSequences(int maxSequences) {
            return new Options(path, maxTokens, gatherThreads, maxSequences, zeroCopyMaxTokens, zeroCopyMinTokens);
        }

        /**
         * {@return these options with another upper end of {@link HostGatherPath#AUTO}'s zero-copy window}
         *
         * @param zeroCopyMaxTokens prefetches of at most this many tokens take the zero-copy path, {@code >= 0}
         * @throws IllegalArgumentException when {@code zeroCopyMaxTokens < 0}
         */
        public Options withZeroCopyMaxTokens(int zeroCopyMaxTokens) {
            return new Options(path, maxTokens, gatherThreads, maxSequences, zeroCopyMaxTokens, zeroCopyMinTokens);
        }

        /**
         * {@return these options with another lower end of {@link HostGatherPath#AUTO}'s zero-copy window}
         *
         * @param zeroCopyMinTokens prefetches of fewer tokens take the CPU path, {@code >= 0} (0 or 1: from one token)
         * @throws IllegalArgumentException when {@code zeroCopyMinTokens < 0}
         */
        public Options withZeroCopyMinTokens(int zeroCopyMinTokens) {
            return new Options(path, maxTokens, gatherThreads, maxSequences, zeroCopyMaxTokens, zeroCopyMinTokens);
        }
    }

    /** One of {@code table} and {@code fp8Table} is null; the rows are gathered in {@code dense}'s dtype. */
    private HostTableLayer(NgramHashMapping mapping, int layerId, HostTable table, Fp8HostTable fp8Table, Options options,
                           boolean zeroCopy, EngramLayer dense) {
        this.mapping = mapping;
        this.hashing = mapping.layer(layerId);
        this.multipliers = hashing.multipliers();
        this.moduli = hashing.moduli();
        this.table = table;
        this.fp8Table = fp8Table;
        this.path = options.path();
        this.dense = dense;
        this.maxSequences = options.sequenceLimit();
        int maxTokens = options.maxTokens();
        boolean cpu = path != HostGatherPath.ZERO_COPY;
        zeroCopyMaxTokens = !zeroCopy ? -1 : path == HostGatherPath.ZERO_COPY ? maxTokens
                : Math.min(options.zeroCopyMaxTokens(), maxTokens);
        zeroCopyMinTokens = path == HostGatherPath.AUTO ? options.zeroCopyMinTokens() : 0;
        resources.add(dense);
        try {
            hashIds = cpu ? new long[Math.multiplyExact(maxTokens, hashing.heads())] : null;
            nativeHashing = zeroCopy ? new NativeHashing(hashing, Arena.ofAuto()) : null;
            gather = cpu ? track(new CpuRowGather(options.gatherThreads())) : null;
            side = track(CudaStream.create());
            mappedTable = zeroCopy && table != null ? track(DeviceArray.wrap(MemorySegment.ofAddress(
                    table.segment().address()), table.rows() * table.rowElements(), table.dtype())) : null;
            fp8 = fp8Table == null ? null : new Fp8HostStaging(fp8Table, SLOTS,
                    Math.multiplyExact((long) maxTokens, hashing.heads()), cpu, zeroCopy, resources);
            EngramConfig c = mapping.config();
            long rowElements = (long) maxTokens * c.engramHiddenSize();
            long idElements = zeroCopy ? zeroCopyMaxTokens + (long) maxSequences * (c.maxNgramSize() - 1) : 0;
            for (int s = 0; s < SLOTS; s++) {
                deviceRows[s] = track(DeviceBuffer.allocate(rowElements, dense.dtype()));
                if (cpu && table != null) hostRows[s] = track(PinnedHostBuffer.allocate(rowElements, table.dtype()));
                if (zeroCopy) {
                    hostIds[s] = track(PinnedHostBuffer.allocate(idElements, DType.INT64));
                    deviceIds[s] = track(DeviceBuffer.allocate(idElements, DType.INT64));
                }
                copied[s] = track(CudaEvent.createWithoutTiming());
                ready[s] = track(CudaEvent.createWithoutTiming());
                consumed[s] = track(CudaEvent.createWithoutTiming());
            }
        } catch (RuntimeException | Error e) {
            RuntimeException late = releaseAll(null);
            if (late != null) e.addSuppressed(late);
            throw e;
        }
    }

    /**
     * Builds the layer: uploads the dense parameters, allocates the staging, and borrows {@code table}.
     *
     * @param mapping       the model's hashing
     * @param layerId       which layer
     * @param dense         the layer's parameters other than the table (float32; rounded for BFLOAT16)
     * @param table         the layer's rows, {@code [totalRows, headDim]}, FLOAT32 or BFLOAT16, in pinned mapped
     *                      host memory; its dtype is the layer's storage dtype
     * @param path          how rows travel, e.g. {@link HostGatherPath#defaultFor(HostTable)}
     * @param maxTokens     the most tokens one prefetch takes
     * @param gatherThreads threads of the CPU gather (the {@code CPU} path), {@code >= 1}
     * @return the layer, on the current device
     * @throws IllegalArgumentException for a table of the wrong shape or dtype, or as {@link EngramLayer#create}
     */
    public static HostTableLayer create(NgramHashMapping mapping, int layerId, DenseWeights dense, HostTable table,
                                        HostGatherPath path, int maxTokens, int gatherThreads) {
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(dense, "dense");
        EngramLayer.checkDenseConfig(mapping.config(), dense.config());
        return create(mapping, layerId, LayerWeights.of(dense), table, path, maxTokens, gatherThreads);
    }

    /**
     * The same from {@link LayerWeights} (host or device tensors, without a table), on the current device.
     *
     * @param mapping       the model's hashing
     * @param layerId       which layer
     * @param dense         the layer's parameters other than the table
     * @param table         the layer's rows, {@code [totalRows, headDim]}, FLOAT32 or BFLOAT16, in pinned mapped
     *                      host memory; its dtype is the layer's storage dtype
     * @param path          how rows travel, e.g. {@link HostGatherPath#defaultFor(HostTable)}
     * @param maxTokens     the most tokens one prefetch takes
     * @param gatherThreads threads of the CPU gather (the {@code CPU} path), {@code >= 1}
     * @return the layer
     * @throws IllegalArgumentException for a table of the wrong shape or dtype, or as {@link EngramLayer#create}
     */
    public static HostTableLayer create(NgramHashMapping mapping, int layerId, LayerWeights dense, HostTable table,
                                        HostGatherPath path, int maxTokens, int gatherThreads) {
        Objects.requireNonNull(path, "path");
        if (gatherThreads < 1) throw new IllegalArgumentException("gatherThreads must be >= 1, got " + gatherThreads);
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        return create(mapping, layerId, dense, table, new Options(path, maxTokens, gatherThreads, 0,
                path == HostGatherPath.AUTO ? HostGatherPath.autoZeroCopyMaxTokens() : 0,
                path == HostGatherPath.AUTO ? HostGatherPath.autoZeroCopyMinTokens() : 0));
    }

    /**
     * The same with {@link Options} (path, token and sequence limits, gather threads, {@code AUTO}'s threshold), on
     * the current device. {@link HostGatherPath#ZERO_COPY} refuses a table that is not pinned and mapped;
     * {@link HostGatherPath#AUTO} then takes the CPU path for every prefetch.
     *
     * @param mapping the model's hashing
     * @param layerId which layer
     * @param dense   the layer's parameters other than the table
     * @param table   the layer's rows, {@code [totalRows, headDim]}, FLOAT32 or BFLOAT16; its dtype is the layer's
     *                storage dtype
     * @param options path and limits
     * @return the layer
     * @throws IllegalArgumentException for a table of the wrong shape or dtype, a table zero copy cannot read, or as
     *                                  {@link EngramLayer#create}
     */
    public static HostTableLayer create(NgramHashMapping mapping, int layerId, LayerWeights dense, HostTable table,
                                        Options options) {
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(options, "options");
        LayerHashing hashing = mapping.layer(layerId);
        table.segment(); // open
        if (table.rows() != hashing.totalRows() || table.rowElements() != mapping.config().headDim()) {
            throw new IllegalArgumentException("host table is [" + table.rows() + ", " + table.rowElements() + "], layer "
                    + layerId + " needs [" + hashing.totalRows() + ", " + mapping.config().headDim() + "]");
        }
        boolean zeroCopy = switch (options.path()) {
            case CPU -> false;
            case ZERO_COPY -> {
                String problem = zeroCopyProblem(table.segment(), table);
                if (problem != null) throw new IllegalArgumentException(problem);
                yield true;
            }
            case AUTO -> hasZeroCopyWindow(options) && zeroCopyProblem(table.segment(), table) == null;
        };
        EngramLayer denseLayer = EngramLayer.createWithoutTable(mapping, layerId, dense,
                EngramLayer.Options.of(options.maxTokens()).withDtype(table.dtype())
                        .withMaxSequences(options.sequenceLimit()));
        return new HostTableLayer(mapping, layerId, table, null, options, zeroCopy, denseLayer); // closes it on failure
    }

    /**
     * Builds the layer over an fp8 host table (SEMANTICS.md 9), on the current device: E4M3 codes and E8M0 block
     * scales stay in host memory; on the {@code CPU} path the gather moves their bytes (code rows and scale rows of the
     * hashed ids) over PCIe and the GPU dequantizes them into {@code dtype} ({@link Fp8Dequantize}); on the
     * {@code ZERO_COPY} path the fp8 hashed gather reads the mapped codes and scales in place and dequantizes as it
     * gathers. Both give the bits of an {@link EngramLayer} with the same fp8 table on the device, which are those of
     * the exactly dequantized table. {@link HostGatherPath#ZERO_COPY} refuses a table that is not pinned and mapped;
     * {@link HostGatherPath#AUTO} then takes the CPU path for every prefetch.
     *
     * @param mapping the model's hashing
     * @param layerId which layer
     * @param dense   the layer's parameters other than the table
     * @param table   the layer's fp8 rows, {@code [totalRows, headDim]} codes with their scales (any block dividing
     *                {@code headDim}), e.g. {@link Fp8HostTable#copyOf(dev.engram.table.Fp8Table,
     *                dev.engram.table.HostMemory)} into {@link dev.engram.table.PinnedHostMemory}
     * @param dtype   the compute dtype the rows are dequantized to and the dense part runs in: {@link DType#FLOAT32}
     *                or {@link DType#BFLOAT16}
     * @param options path and limits
     * @return the layer
     * @throws IllegalArgumentException for a table of the wrong shape, another dtype, a table zero copy cannot read, or
     *                                  as {@link EngramLayer#create}; before any device memory is allocated
     * @throws IllegalStateException    for a closed table
     */
    public static HostTableLayer create(NgramHashMapping mapping, int layerId, LayerWeights dense, Fp8HostTable table,
                                        DType dtype, Options options) {
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(options, "options");
        LayerHashing hashing = mapping.layer(layerId);
        MemorySegment codes = table.codes(); // open
        if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16) {
            throw new IllegalArgumentException("the compute dtype of an fp8 host table's layer must be FLOAT32 or"
                    + " BFLOAT16, got " + dtype);
        }
        if (table.rows() != hashing.totalRows() || table.headDim() != mapping.config().headDim()) {
            throw new IllegalArgumentException("fp8 host table is [" + table.rows() + ", " + table.headDim() + "] (block "
                    + table.block() + "), layer " + layerId + " needs [" + hashing.totalRows() + ", "
                    + mapping.config().headDim() + "]");
        }
        boolean zeroCopy = switch (options.path()) {
            case CPU -> false;
            case ZERO_COPY -> {
                String problem = zeroCopyProblem(codes, table.scales(), table);
                if (problem != null) throw new IllegalArgumentException(problem);
                yield true;
            }
            case AUTO -> hasZeroCopyWindow(options) && zeroCopyProblem(codes, table.scales(), table) == null;
        };
        EngramLayer denseLayer = EngramLayer.createWithoutTable(mapping, layerId, dense,
                EngramLayer.Options.of(options.maxTokens()).withDtype(dtype).withMaxSequences(options.sequenceLimit()));
        return new HostTableLayer(mapping, layerId, null, table, options, zeroCopy, denseLayer); // closes it on failure
    }

    /** As {@link #zeroCopyProblem(MemorySegment, Object)} for both: an fp8 table's scales may be another allocation. */
    private static String zeroCopyProblem(MemorySegment codes, MemorySegment scales, Object table) {
        String problem = zeroCopyProblem(codes, table);
        return problem != null ? problem : zeroCopyProblem(scales, table);
    }

    /**
     * Why the zero-copy kernel cannot read {@code table}, or null when it can: it is given the host address, so the
     * table must be mapped there in the device's space.
     */
    private static String zeroCopyProblem(MemorySegment memory, Object table) {
        MemorySegment host = MemorySegment.ofAddress(memory.address());
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = cuda_runtime_h.cudaHostGetDevicePointer(out, host, 0);
            if (status != cuda_runtime_h.cudaSuccess()) {
                // Clear the thread's last error, or the next kernel launch (whose wrapper returns
                // cudaGetLastError()) would report this expected failure as its own.
                cuda_runtime_h.cudaGetLastError();
                return "ZERO_COPY needs a table in pinned, mapped host memory (e.g. from PinnedHostMemory);"
                        + " cudaHostGetDevicePointer failed: " + Cuda.errorName(status) + ": " + Cuda.errorString(status)
                        + " (" + table + ")";
            }
            if (out.get(ValueLayout.ADDRESS, 0).address() != host.address()) {
                return "ZERO_COPY needs unified addressing (the table's device address equal to its host address); this"
                        + " device maps it elsewhere (" + table + ")";
            }
            return null;
        }
    }

    /**
     * Creates the carried state of this layer's packed prefetches and forwards: {@code slots} empty slots, the hash
     * history on the host (advanced by {@link #prefetch(PackedBatch, long[], EngramState)}), the conv window on this
     * layer's device (committed by {@link #forward(Prefetch, DeviceArray, DeviceArray, EngramState, CudaStream)}).
     * Only this layer takes it; {@link EngramState} says how reset and copy are ordered.
     *
     * @param slots the number of sequences the state can carry, {@code >= 1}
     * @return the state; the caller closes it
     * @throws IllegalArgumentException when {@code slots < 1} or the state's size overflows
     * @throws IllegalStateException    when this layer is closed
     * @throws dev.engram.cuda.CudaException when device memory runs out (nothing stays allocated)
     */
    public EngramState newState(int slots) {
        checkOpen();
        EngramConfig c = mapping.config();
        try (DeviceScope scope = DeviceScope.enter(dense.device())) {
            return EngramState.create(this, "host-table layer " + hashing.layerId(), slots, dense.dtype(),
                    c.maxNgramSize() - 1, (c.kernelSize() - 1) * c.convDilation(), c.hcMult() * c.hiddenSize(),
                    mapping.padIdCompressed(), true);
        }
    }

    /**
     * Starts fetching the rows of {@code rawIds} into a staging slot; returns at once for {@code ZERO_COPY},
     * after the CPU gather for {@code CPU} (the copy to the device is queued on the side stream either way).
     *
     * @param rawIds tokenizer ids {@code [batch * seqLen]}, each below the compression table's size
     * @param batch  {@code >= 1}
     * @param seqLen {@code >= 1}, {@code batch * seqLen <= maxTokens}
     * @return the handle to pass to {@link #forward(Prefetch, DeviceArray, DeviceArray, CudaStream)}
     * @throws IllegalArgumentException for a wrong length or too many tokens
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     * @throws IllegalStateException    when this layer or its table is closed, or the staging slot to reuse holds a
     *                                  packed prefetch not yet consumed
     */
    public Prefetch prefetch(long[] rawIds, int batch, int seqLen) {
        checkOpen();
        Objects.requireNonNull(rawIds, "rawIds");
        checkTableOpen();
        if (batch < 1 || seqLen < 1) {
            throw new IllegalArgumentException("prefetch: batch and seqLen must be >= 1, got " + batch + " x " + seqLen);
        }
        long tokens = (long) batch * seqLen;
        if (tokens > dense.maxTokens()) {
            throw new IllegalArgumentException("prefetch: " + tokens + " tokens, more than this layer's maxTokens "
                    + dense.maxTokens());
        }
        if (rawIds.length != tokens) {
            throw new IllegalArgumentException("prefetch: rawIds has " + rawIds.length + " elements, expected batch * seqLen = "
                    + tokens);
        }
        int n = (int) tokens;
        int slot = freeSlot();
        long[] compressed = mapping.compress(rawIds); // throws for ids the table cannot map
        HostGatherPath route = pathFor(n);
        if (route == HostGatherPath.CPU) hashInParallel(compressed, seqLen);
        stage(slot, route, n, rawIds, batch, seqLen, null);
        return issue(new Prefetch(this, slot, generation[slot], batch, seqLen, ready[slot], null, null, 0, route));
    }

    /**
     * Starts fetching the rows of a packed batch (SEMANTICS.md §8) into a staging slot, as the rectangular
     * {@link #prefetch(long[], int, int)} does: positions before a continuing sequence's chunk hash with its slot's
     * history, which this call takes from {@code state} (on the host) and then advances past the chunk at once. The
     * batch's descriptors go to the staging slot's {@link DeviceBatch} on the side stream. Every argument is checked
     * before anything is queued or the history changes.
     *
     * @param batch  the packed batch: at most {@link #maxTokens()} tokens and {@link #maxSequences()} sequences, every
     *               slot below {@code state.slots()}
     * @param rawIds tokenizer ids {@code [batch.tokens()]}, each below the compression table's size
     * @param state  this layer's state ({@link #newState}); its prefetches are forwarded in the order they are issued
     * @return the handle to pass to {@link #forward(Prefetch, DeviceArray, DeviceArray, EngramState, CudaStream)}
     * @throws IllegalArgumentException for a wrong length, too many tokens or sequences, a slot out of range, or a
     *                                  state of another layer (a device-table {@link EngramLayer}'s included)
     * @throws IndexOutOfBoundsException for an id {@code >=} the compression table's size
     * @throws IllegalStateException    when this layer, its table or the state is closed, or the staging slot to
     *                                  reuse holds a packed prefetch not yet consumed (forward it first)
     */
    public Prefetch prefetch(PackedBatch batch, long[] rawIds, EngramState state) {
        checkOpen();
        Objects.requireNonNull(batch, "batch");
        Objects.requireNonNull(rawIds, "rawIds");
        checkTableOpen();
        checkState("prefetch", state);
        int n = batch.tokens();
        if (n > dense.maxTokens()) {
            throw new IllegalArgumentException("prefetch: the batch has " + n + " tokens, more than this layer's maxTokens "
                    + dense.maxTokens());
        }
        if (batch.sequences() > maxSequences) {
            throw new IllegalArgumentException("prefetch: the batch has " + batch.sequences() + " sequences, more than "
                    + "this layer's maxSequences " + maxSequences + " (Options.withMaxSequences)");
        }
        if (rawIds.length != n) {
            throw new IllegalArgumentException("prefetch: rawIds has " + rawIds.length + " elements, expected batch.tokens()"
                    + " = " + n);
        }
        PackedChecks.requireSlots(OP + ".prefetch", batch, state.slots());
        int slot = freeSlot();
        if (packedInputs == null) {
            packedInputs = new PackedPrefetchInputs(mapping.compressionTable(), multipliers, moduli,
                    mapping.config().nHeadPerNgram(), dense.maxTokens(), maxSequences);
        }
        PackedPrefetchInputs in = packedInputs;
        in.compress("prefetch", rawIds, n); // throws for ids the table cannot map
        in.readHistory(batch, state.hostHistory);
        HostGatherPath route = pathFor(n);
        if (route == HostGatherPath.CPU) in.hash(batch, hashIds);
        stage(slot, route, n, rawIds, 1, n, batch);
        state.hostHistory.advance(batch, in.compressed); // everything is queued: the history moves past the chunk
        return issue(new Prefetch(this, slot, generation[slot], 1, n, ready[slot], batch, state, state.hostPrefetches++,
                route));
    }

    /**
     * The staging slot the next prefetch takes, after checking that no unconsumed packed prefetch of an open state
     * holds it (dropping it would leave its sequences' history advanced and their conv windows not).
     */
    private int freeSlot() {
        int slot = nextSlot;
        Prefetch last = issued[slot];
        if (last != null && last.packed != null && !last.isConsumed() && last.generation == generation[slot]
                && !last.state.isClosed()) {
            throw new IllegalStateException("prefetch: both staging slots are in use and " + last + " is not consumed yet;"
                    + " its state's history already moved past it, so it cannot be dropped: forward it first (or close"
                    + " its state)");
        }
        return slot;
    }

    private Prefetch issue(Prefetch prefetch) {
        issued[prefetch.slot] = prefetch;
        return prefetch;
    }

    /**
     * Queues the rows of {@code n} tokens into staging slot {@code slot} on the side stream, by {@code route}
     * ({@code CPU}: from {@link #hashIds}); with {@code packed}, also its descriptors (and for zero copy, the
     * sequences' history rows of {@link #packedInputs}). Records the slot's events, also after a failure midway.
     */
    private void stage(int slot, HostGatherPath route, int n, long[] rawIds, int batch, int seqLen, PackedBatch packed) {
        nextSlot = (slot + 1) % SLOTS;
        generation[slot]++;
        long rowElements = (long) n * mapping.config().engramHiddenSize();
        DeviceArray rows = deviceRows[slot].slice(0, rowElements);

        copied[slot].synchronize(); // the slot's previous H2D copy has left the pinned buffer
        try (DeviceScope scope = DeviceScope.enter(dense.device())) {
            if (route == HostGatherPath.CPU) {
                int e = mapping.config().engramHiddenSize();
                side.waitEvent(consumed[slot]);
                if (packed != null) setDescriptors(slot, packed);
                for (int first = 0; first < n; first += CHUNK_TOKENS) {
                    int count = Math.min(CHUNK_TOKENS, n - first);
                    DeviceArray chunkRows = rows.slice((long) first * e, (long) count * e);
                    if (fp8 != null) { // codes and scales copied, dequantized on the side stream
                        fp8.gatherChunk(slot, gather, hashing, hashIds, first, count, chunkRows, side);
                        continue;
                    }
                    long tokenBytes = table.dtype().bytesFor(e);
                    MemorySegment chunk = hostRows[slot].segment().asSlice(first * tokenBytes, count * tokenBytes);
                    gather.gather(table, hashing, hashIds, first, count, chunk);
                    chunkRows.copyFromAsync(chunk, side); // overlaps the next gather
                }
            } else if (packed == null) {
                MemorySegment ids = hostIds[slot].segment().asSlice(0, (long) n * Long.BYTES);
                MemorySegment.copy(rawIds, 0, ids, ValueLayout.JAVA_LONG, 0, n);
                DeviceArray dIds = deviceIds[slot].slice(0, n);
                side.waitEvent(consumed[slot]);
                dIds.copyFromAsync(ids, side);
                if (fp8 != null) {
                    fp8.zeroCopyGather(dIds, batch, seqLen, dense.lut(), mapping.padIdCompressed(), hashing,
                            mapping.config().nHeadPerNgram(), rows, side);
                } else {
                    HashedGather.enqueueFromHost(dIds, batch, seqLen, dense.lut(), mapping.padIdCompressed(), hashing,
                            mapping.config().nHeadPerNgram(), table, rows, null, side);
                }
            } else {
                side.waitEvent(consumed[slot]); // the previous forward of the slot reads its rows and descriptors
                setDescriptors(slot, packed);
                if (n > 0) zeroCopyGather(slot, n, rawIds, packed, rows);
            }
        } finally {
            // Also after a failure midway: copies already queued read the pinned slot until these fire.
            copied[slot].record(side);
            ready[slot].record(side);
        }
    }

    /**
     * Zero copy, packed: one copy of the ids and the sequences' history rows, then the packed gather reading the
     * mapped table with the identity batch (sequence s reads history row s; a starting sequence's row is pad).
     */
    private void zeroCopyGather(int slot, int n, long[] rawIds, PackedBatch packed, DeviceArray rows) {
        int sequences = packed.sequences();
        int historyEntries = sequences * packedInputs.historyLength();
        MemorySegment host = hostIds[slot].segment().asSlice(0, (long) (n + historyEntries) * Long.BYTES);
        MemorySegment.copy(rawIds, 0, host, ValueLayout.JAVA_LONG, 0, n);
        MemorySegment.copy(packedInputs.sequenceHistory, 0, host, ValueLayout.JAVA_LONG, (long) n * Long.BYTES,
                historyEntries);
        deviceIds[slot].slice(0, n + historyEntries).copyFromAsync(host, side);
        PackedBatch byIndex = packedInputs.identityOf(packed);
        if (identity[slot] == null) identity[slot] = track(DeviceBatch.create(maxSequences));
        if (identityHeld[slot] != byIndex) {
            identityHeld[slot] = null; // until the upload is queued
            identity[slot].set(byIndex, side);
            identityHeld[slot] = byIndex;
        }
        DeviceArray codes = fp8 != null ? fp8.mappedCodes : mappedTable;
        HashedGather.enqueuePackedChecked(deviceIds[slot].slice(0, n), identity[slot],
                deviceIds[slot].slice(n, historyEntries), sequences, dense.lut(), mapping.padIdCompressed(),
                nativeHashing, mapping.config().nHeadPerNgram(), codes, fp8 != null ? fp8.mappedScales : null,
                fp8 != null ? fp8.block() : 0, mapping.config().headDim(), rows, null, side);
    }

    /** Uploads {@code packed}'s descriptors into the slot's {@link DeviceBatch} on the side stream, unless it holds them. */
    private void setDescriptors(int slot, PackedBatch packed) {
        if (descriptors[slot] == null) descriptors[slot] = track(DeviceBatch.create(maxSequences));
        if (descriptorsHeld[slot] == packed) return;
        descriptorsHeld[slot] = null; // until the upload is queued
        descriptors[slot].set(packed, side);
        descriptorsHeld[slot] = packed;
    }

    /**
     * Queues the layer on {@code stream} from prefetched rows: {@code stream} waits for {@code prefetch.ready()},
     * then projections → gate → ShortConv. Consumes the handle.
     *
     * @param prefetch a rectangular handle of this layer, not consumed, not stale
     * @param hidden   hidden states {@code [B, T, G, H]} of the table's dtype
     * @param out      the output {@code [B, T, G, H]}
     * @param stream   the compute stream
     * @throws IllegalStateException    for a closed layer, a consumed or stale handle, or a handle of another layer
     * @throws IllegalArgumentException for wrong shapes or dtypes of {@code hidden}/{@code out}, or a packed handle
     */
    public void forward(Prefetch prefetch, DeviceArray hidden, DeviceArray out, CudaStream stream) {
        checkHandle(prefetch);
        if (prefetch.packed != null) {
            throw new IllegalArgumentException(prefetch + " is a packed prefetch: use forward(prefetch, hidden, out, state,"
                    + " stream)");
        }
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        ArgumentChecks.requireDevice("HostTableLayer.forward", dense.device(), "this layer is on", stream, "hidden", hidden,
                "out", out);
        forwardRows(prefetch, hidden, out, stream);
    }

    /**
     * Queues the layer on {@code stream} from a packed prefetch: {@code stream} waits for {@code prefetch.ready()},
     * then projections → gate → the packed ShortConv (a continuing sequence's rows before its chunk from its slot's
     * conv window) → the commit of every sequence's conv window. Consumes the handle. Every argument is checked before
     * anything is queued. The state's prefetches must be forwarded in the order they were issued (their windows chain
     * in stream order); queue them on one stream, or order the streams. Not for CUDA graph capture.
     *
     * @param prefetch a packed handle of this layer, not consumed
     * @param hidden   hidden states {@code [tokens, G, H]} of the table's dtype
     * @param out      the output {@code [tokens, G, H]}; may be {@code hidden} itself
     * @param state    the state the prefetch was issued with
     * @param stream   the compute stream
     * @throws IllegalStateException    for a closed layer or state, a consumed handle, a handle of another layer, or a
     *                                  handle whose state has an earlier prefetch not forwarded yet
     * @throws IllegalArgumentException for wrong shapes, dtypes or devices of {@code hidden}/{@code out}, a
     *                                  rectangular handle, or another state than the prefetch's
     */
    public void forward(Prefetch prefetch, DeviceArray hidden, DeviceArray out, EngramState state, CudaStream stream) {
        checkHandle(prefetch);
        if (prefetch.packed == null) {
            throw new IllegalArgumentException(prefetch + " is a rectangular prefetch: use forward(prefetch, hidden, out,"
                    + " stream)");
        }
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(stream, "stream");
        if (state != prefetch.state) {
            throw new IllegalArgumentException("HostTableLayer.forward: " + state + " is not the state " + prefetch
                    + " was issued with (" + prefetch.state + ")");
        }
        state.checkOpen();
        if (prefetch.ticket != state.hostForwards) {
            throw new IllegalStateException("HostTableLayer.forward: " + prefetch + " is prefetch #" + prefetch.ticket
                    + " of " + state + ", but #" + state.hostForwards + " is not forwarded yet: forward a state's "
                    + "prefetches in the order they were issued");
        }
        hidden.address();
        out.address();
        stream.handle();
        EngramConfig c = mapping.config();
        long activations = (long) prefetch.packed.tokens() * c.hcMult() * c.hiddenSize();
        String formula = "batch.tokens() * hc_mult * hidden_size";
        ArgumentChecks.requireDtype("HostTableLayer.forward", hidden, dense.dtype(), "hidden");
        ArgumentChecks.requireCount("HostTableLayer.forward", hidden, activations, "hidden", formula);
        ArgumentChecks.requireDtype("HostTableLayer.forward", out, dense.dtype(), "out");
        ArgumentChecks.requireCount("HostTableLayer.forward", out, activations, "out", formula);
        ArgumentChecks.requireDevice("HostTableLayer.forward", dense.device(), "this layer is on", stream, "hidden", hidden,
                "out", out);
        try {
            forwardRows(prefetch, hidden, out, stream);
        } finally {
            // Queued (or failed at a launch, leaving the batch's slots undefined): the next prefetch's forward may run.
            prefetch.markConsumed();
            state.hostForwards++;
        }
    }

    /** The wait for the slot's rows, the dense part, the slot's consumed event (also after a failed launch). */
    private void forwardRows(Prefetch prefetch, DeviceArray hidden, DeviceArray out, CudaStream stream) {
        int slot = prefetch.slot;
        long rowElements = (long) prefetch.batch * prefetch.seqLen * mapping.config().engramHiddenSize();
        DeviceArray rows = deviceRows[slot].slice(0, rowElements);
        stream.waitEvent(ready[slot]);
        try {
            if (prefetch.packed == null) {
                dense.forwardFromRows(rows, prefetch.batch, prefetch.seqLen, hidden, out, stream, null);
            } else {
                dense.forwardFromRows(descriptors[slot], rows, hidden, out, prefetch.state, stream);
            }
            prefetch.markConsumed();
        } finally {
            // Also after a failed launch: work queued before it may still read the slot's rows.
            consumed[slot].record(stream);
        }
    }

    /** A handle this layer can consume now. */
    private void checkHandle(Prefetch prefetch) {
        checkOpen();
        Objects.requireNonNull(prefetch, "prefetch");
        if (prefetch.owner != this) throw new IllegalStateException(prefetch + " belongs to another layer");
        if (prefetch.isConsumed()) throw new IllegalStateException(prefetch + " was already used by a forward");
        if (prefetch.generation != generation[prefetch.slot]) {
            throw new IllegalStateException(prefetch + " is stale: its staging slot was reused by a later prefetch");
        }
    }

    /** The state is open, this layer's, with its history on the host. */
    private void checkState(String op, EngramState state) {
        Objects.requireNonNull(state, "state");
        state.checkOpen();
        if (!state.belongsTo(this) || state.hostHistory == null) {
            throw new IllegalArgumentException(OP + "." + op + ": " + state + " was made by another layer, not by this one"
                    + " (host-table layer " + hashing.layerId() + "): a host-table layer keeps its own state, with the "
                    + "hash history on the host (HostTableLayer.newState)");
        }
    }

    /**
     * The layer's hash ids {@code [B, T, heads]} into {@link #hashIds}: every position depends only on the ids
     * before it in its own sequence, so token ranges hash independently (on the common fork-join pool).
     */
    private long[] hashInParallel(long[] compressed, int seqLen) {
        int tokens = compressed.length;
        int pieces = Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), tokens / HASH_TOKENS_PER_PIECE));
        long[] out = hashIds;
        IntStream.range(0, pieces).parallel().forEach(p -> NgramHasher.hashRange(compressed, seqLen,
                mapping.padIdCompressed(), multipliers, moduli, mapping.config().nHeadPerNgram(),
                (int) ((long) tokens * p / pieces), (int) ((long) tokens * (p + 1) / pieces), out));
        return out;
    }

    /** {@return whether {@code AUTO}'s window holds any token count} (else the layer keeps no zero-copy staging) */
    private static boolean hasZeroCopyWindow(Options options) {
        return options.zeroCopyMaxTokens() >= Math.max(1, options.zeroCopyMinTokens());
    }

    /**
     * {@return the path a prefetch of {@code tokens} tokens takes: {@link HostGatherPath#CPU} or
     * {@link HostGatherPath#ZERO_COPY}} ({@code AUTO}: zero copy from {@link Options#zeroCopyMinTokens()} to
     * {@link Options#zeroCopyMaxTokens()} tokens when the table is mapped, else CPU)
     *
     * @param tokens the prefetch's token count
     */
    public HostGatherPath pathFor(int tokens) {
        return tokens <= zeroCopyMaxTokens && tokens >= zeroCopyMinTokens ? HostGatherPath.ZERO_COPY : HostGatherPath.CPU;
    }

    /** {@return the path this layer was built with (for {@code AUTO}, see {@link #pathFor} for one prefetch)} */
    public HostGatherPath path() {
        return path;
    }

    /**
     * {@return the dtype of the rows and activations: a float table's dtype, or the dtype an fp8 table is dequantized
     * to}
     */
    public DType dtype() {
        return dense.dtype();
    }

    /** {@return whether the table is an fp8 one ({@link Fp8HostTable}), dequantized on the GPU} */
    public boolean isFp8() {
        return fp8Table != null;
    }

    /** {@return the layer id} */
    public int layerId() {
        return hashing.layerId();
    }

    /** {@return the device this layer lives on (current when it was created)} */
    public int device() {
        return dense.device();
    }

    /** {@return the most tokens one prefetch takes} */
    public int maxTokens() {
        return dense.maxTokens();
    }

    /** {@return the most sequences one packed prefetch takes} */
    public int maxSequences() {
        return maxSequences;
    }

    /** Waits for every queued prefetch and forward of this layer, then frees its device and pinned memory. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException failure = null;
        DeviceScope scope = null;
        try {
            scope = DeviceScope.enter(dense.device()); // released on the layer's device, whichever is current
            side.synchronize();
            for (CudaEvent e : consumed) e.synchronize();
        } catch (RuntimeException e) {
            failure = e; // still free everything, reporting this first
        }
        failure = releaseAll(failure);
        failure = Closeables.closeAll(failure, scope);
        if (failure != null) throw failure;
    }

    /** Closes what this layer owns, newest first; {@return the first failure, later ones suppressed in it} */
    private RuntimeException releaseAll(RuntimeException failure) {
        List<AutoCloseable> newestFirst = new ArrayList<>(resources);
        Collections.reverse(newestFirst);
        resources.clear();
        return Closeables.closeAll(failure, newestFirst);
    }

    private <T extends AutoCloseable> T track(T resource) {
        resources.add(resource);
        return resource;
    }

    /** The table is open (an {@link IllegalStateException} otherwise). */
    private void checkTableOpen() {
        if (table != null) table.segment();
        else fp8Table.codes();
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("HostTableLayer (layer " + hashing.layerId() + ") is closed");
    }
}
