package dev.engram.gpu;

import dev.engram.EngramConfig;
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
 * <p><b>Staging.</b> Two slots, each a pinned host buffer and a device buffer of {@code maxTokens} rows:
 * a prefetch may be issued while the previous one is still unconsumed. A prefetch first waits (on the host)
 * until its slot's previous copy has left the pinned buffer, and its side-stream work waits for the previous
 * forward that read the slot; a handle whose slot was reused before it was consumed is stale.
 *
 * <p><b>Paths</b> ({@link HostGatherPath}): {@code CPU} hashes on the CPU (token ranges in parallel) and gathers
 * the rows with {@link CpuRowGather} into the pinned slot (on the calling thread and the gather's pool) in
 * chunks of {@value #CHUNK_TOKENS} tokens, queueing each chunk's H2D copy as soon as it is gathered; {@code ZERO_COPY} copies the ids and queues the hashed-gather kernel reading the mapped table.
 *
 * <p>The table is borrowed: it must be pinned and mapped ({@link dev.engram.table.PinnedHostMemory}) and stay
 * open while this layer lives. Not thread-safe. {@link #close()} waits for everything queued, then frees.
 */
public final class HostTableLayer implements AutoCloseable {
    private static final int SLOTS = 2;
    /** CPU path: rows are gathered and copied in chunks of this many tokens, so each copy overlaps the next gather. */
    static final int CHUNK_TOKENS = 2048;
    /** CPU path: fewer tokens than this per hashing task would cost more in fork-join overhead than they save. */
    private static final int HASH_TOKENS_PER_PIECE = 512;

    private final NgramHashMapping mapping;
    private final LayerHashing hashing;
    private final long[] multipliers, moduli; // LayerHashing's accessors copy; the CPU path hashes every prefetch
    private final long[] hashIds;             // CPU path: the current prefetch's hash ids, reused
    private final HostTable table;
    private final HostGatherPath path;
    private final EngramLayer dense;
    private final CpuRowGather gather;
    private final CudaStream side;
    private final PinnedHostBuffer[] hostStaging = new PinnedHostBuffer[SLOTS];  // rows (CPU) or ids (ZERO_COPY)
    private final DeviceBuffer[] deviceRows = new DeviceBuffer[SLOTS];
    private final DeviceBuffer[] deviceIds = new DeviceBuffer[SLOTS];             // ZERO_COPY only
    private final CudaEvent[] copied = new CudaEvent[SLOTS];    // the slot's H2D copy has finished reading host staging
    private final CudaEvent[] ready = new CudaEvent[SLOTS];     // the slot's rows are in deviceRows
    private final CudaEvent[] consumed = new CudaEvent[SLOTS];  // the forward that read the slot has finished
    private final long[] generation = new long[SLOTS];
    private final List<AutoCloseable> resources = new ArrayList<>();
    private int nextSlot;
    private boolean closed;

    private HostTableLayer(NgramHashMapping mapping, int layerId, HostTable table, HostGatherPath path, EngramLayer dense,
                           int gatherThreads) {
        this.mapping = mapping;
        this.hashing = mapping.layer(layerId);
        this.multipliers = hashing.multipliers();
        this.moduli = hashing.moduli();
        this.table = table;
        this.path = path;
        this.dense = dense;
        resources.add(dense);
        hashIds = path == HostGatherPath.CPU ? new long[Math.multiplyExact(dense.maxTokens(), hashing.heads())] : null;
        try {
            gather = path == HostGatherPath.CPU ? track(new CpuRowGather(gatherThreads)) : null;
            side = track(CudaStream.create());
            EngramConfig c = mapping.config();
            long rowElements = (long) dense.maxTokens() * c.engramHiddenSize();
            for (int s = 0; s < SLOTS; s++) {
                deviceRows[s] = track(DeviceBuffer.allocate(rowElements, table.dtype()));
                if (path == HostGatherPath.CPU) {
                    hostStaging[s] = track(PinnedHostBuffer.allocate(rowElements, table.dtype()));
                } else {
                    hostStaging[s] = track(PinnedHostBuffer.allocate(dense.maxTokens(), DType.INT64));
                    deviceIds[s] = track(DeviceBuffer.allocate(dense.maxTokens(), DType.INT64));
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
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(path, "path");
        LayerHashing hashing = mapping.layer(layerId);
        table.segment(); // open
        if (table.rows() != hashing.totalRows() || table.rowElements() != mapping.config().headDim()) {
            throw new IllegalArgumentException("host table is [" + table.rows() + ", " + table.rowElements() + "], layer "
                    + layerId + " needs [" + hashing.totalRows() + ", " + mapping.config().headDim() + "]");
        }
        if (gatherThreads < 1) throw new IllegalArgumentException("gatherThreads must be >= 1, got " + gatherThreads);
        if (path == HostGatherPath.ZERO_COPY) requireMappedAtSameAddress(table);
        EngramLayer denseLayer = EngramLayer.createWithoutTable(mapping, layerId, dense,
                EngramLayer.Options.of(maxTokens).withDtype(table.dtype()));
        return new HostTableLayer(mapping, layerId, table, path, denseLayer, gatherThreads);
    }

    /** The zero-copy kernel is given the host address: the table must be mapped there in the device's space. */
    private static void requireMappedAtSameAddress(HostTable table) {
        MemorySegment host = MemorySegment.ofAddress(table.segment().address());
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = cuda_runtime_h.cudaHostGetDevicePointer(out, host, 0);
            if (status != cuda_runtime_h.cudaSuccess()) {
                // Clear the thread's last error, or the next kernel launch (whose wrapper returns
                // cudaGetLastError()) would report this expected failure as its own.
                cuda_runtime_h.cudaGetLastError();
                throw new IllegalArgumentException("ZERO_COPY needs a table in pinned, mapped host memory (e.g. from"
                        + " PinnedHostMemory); cudaHostGetDevicePointer failed: " + Cuda.errorName(status) + ": "
                        + Cuda.errorString(status) + " (" + table + ")");
            }
            if (out.get(ValueLayout.ADDRESS, 0).address() != host.address()) {
                throw new IllegalArgumentException("ZERO_COPY needs unified addressing (the table's device address equal"
                        + " to its host address); this device maps it elsewhere (" + table + ")");
            }
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
     * @throws IllegalStateException    when this layer or its table is closed
     */
    public Prefetch prefetch(long[] rawIds, int batch, int seqLen) {
        checkOpen();
        Objects.requireNonNull(rawIds, "rawIds");
        table.segment();
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
        long[] compressed = mapping.compress(rawIds); // throws for ids the table cannot map
        int slot = nextSlot;
        nextSlot = (nextSlot + 1) % SLOTS;
        generation[slot]++;
        int n = (int) tokens;
        long rowElements = tokens * mapping.config().engramHiddenSize();
        DeviceArray rows = deviceRows[slot].slice(0, rowElements);

        copied[slot].synchronize(); // the slot's previous H2D copy has left the pinned buffer
        try (DeviceScope scope = DeviceScope.enter(dense.device())) {
            if (path == HostGatherPath.CPU) {
                long[] hashIds = hashInParallel(compressed, seqLen);
                int e = mapping.config().engramHiddenSize();
                long tokenBytes = table.dtype().bytesFor(e);
                side.waitEvent(consumed[slot]);
                for (int first = 0; first < n; first += CHUNK_TOKENS) {
                    int count = Math.min(CHUNK_TOKENS, n - first);
                    MemorySegment chunk = hostStaging[slot].segment().asSlice(first * tokenBytes, count * tokenBytes);
                    gather.gather(table, hashing, hashIds, first, count, chunk);
                    rows.slice((long) first * e, (long) count * e).copyFromAsync(chunk, side); // overlaps the next gather
                }
            } else {
                MemorySegment ids = hostStaging[slot].segment().asSlice(0, tokens * Long.BYTES);
                MemorySegment.copy(rawIds, 0, ids, ValueLayout.JAVA_LONG, 0, n);
                DeviceArray dIds = deviceIds[slot].slice(0, tokens);
                side.waitEvent(consumed[slot]);
                dIds.copyFromAsync(ids, side);
                HashedGather.enqueueFromHost(dIds, batch, seqLen, dense.lut(), mapping.padIdCompressed(), hashing,
                        mapping.config().nHeadPerNgram(), table, rows, null, side);
            }
        } finally {
            // Also after a failure midway: copies already queued read the pinned slot until these fire.
            copied[slot].record(side);
            ready[slot].record(side);
        }
        return new Prefetch(this, slot, generation[slot], batch, seqLen, ready[slot]);
    }

    /**
     * Queues the layer on {@code stream} from prefetched rows: {@code stream} waits for {@code prefetch.ready()},
     * then projections → gate → ShortConv. Consumes the handle.
     *
     * @param prefetch a handle of this layer, not consumed, not stale
     * @param hidden   hidden states {@code [B, T, G, H]} of the table's dtype
     * @param out      the output {@code [B, T, G, H]}
     * @param stream   the compute stream
     * @throws IllegalStateException    for a closed layer, a consumed or stale handle, or a handle of another layer
     * @throws IllegalArgumentException for wrong shapes or dtypes of {@code hidden}/{@code out}
     */
    public void forward(Prefetch prefetch, DeviceArray hidden, DeviceArray out, CudaStream stream) {
        checkOpen();
        Objects.requireNonNull(prefetch, "prefetch");
        if (prefetch.owner != this) throw new IllegalStateException(prefetch + " belongs to another layer");
        if (prefetch.isConsumed()) throw new IllegalStateException(prefetch + " was already used by a forward");
        if (prefetch.generation != generation[prefetch.slot]) {
            throw new IllegalStateException(prefetch + " is stale: its staging slot was reused by a later prefetch");
        }
        Objects.requireNonNull(hidden, "hidden");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        ArgumentChecks.requireDevice("HostTableLayer.forward", dense.device(), "this layer is on", stream, "hidden", hidden,
                "out", out);
        int slot = prefetch.slot;
        long rowElements = (long) prefetch.batch * prefetch.seqLen * mapping.config().engramHiddenSize();
        stream.waitEvent(ready[slot]);
        try {
            dense.forwardFromRows(deviceRows[slot].slice(0, rowElements), prefetch.batch, prefetch.seqLen, hidden, out,
                    stream, null);
            prefetch.markConsumed();
        } finally {
            // Also after a failed launch: work queued before it may still read the slot's rows.
            consumed[slot].record(stream);
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

    /** {@return the path rows take} */
    public HostGatherPath path() {
        return path;
    }

    /** {@return the storage dtype (the table's)} */
    public DType dtype() {
        return table.dtype();
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

    private void checkOpen() {
        if (closed) throw new IllegalStateException("HostTableLayer (layer " + hashing.layerId() + ") is closed");
    }
}
