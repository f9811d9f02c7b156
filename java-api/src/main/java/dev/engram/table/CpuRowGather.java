package dev.engram.table;

import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * The CPU gather of one layer's embedding rows from a {@link HostTable}: for hash ids {@code [tokens, heads]}
 * it writes, for every token {@code t} and head {@code h},
 * <pre>
 *   dst[t, h*rowElements .. (h+1)*rowElements) = table row (layer.offsets()[h] + hash[t, h])
 * </pre>
 * which is the reference's {@code e[B*T, E]} ({@code E = heads * rowElements}) in the table's dtype. The
 * destination is typically a pinned staging buffer that one asynchronous copy then moves to the device.
 *
 * <p>An fp8 table ({@link Fp8HostTable}) is gathered as two tables of byte rows with the same ids: its code rows
 * ({@code headDim} bytes) and its scale rows ({@code headDim / block} bytes), for the GPU to dequantize.
 *
 * <p>Every hash id is checked against its head's modulus in a first pass, so a bad id throws
 * {@link IllegalArgumentException} before any byte of {@code dst} is written. The table must have exactly
 * {@code layer.totalRows()} rows, so a checked id never reads outside it.
 *
 * <p>The work is split into contiguous token ranges over a pool of threads owned by this object (the calling
 * thread takes one range), so {@code dst} and a hash id segment must be accessible from other threads (heap
 * segments, or native ones from a shared, global or automatic arena). When libengram is loaded and both the
 * table and {@code dst} are off-heap, rows are copied by its {@code engram_host_gather_rows}, which prefetches
 * rows ahead of the copy (random rows are latency bound; 1.4x to 2.3x faster than the copy in Java on the
 * development VM, bench/RESULTS.md); otherwise, and always with {@code nativeCopy = false}, with {@link MemorySegment#copy}. Both
 * write the same bytes. After the first calls for a layer the Java copy allocates nothing per call, the native
 * copy one slice object per block of 8192 rows. Calls are serialized (one gather at a time per object); use one
 * object per concurrent caller. {@link #close()} stops the threads; it is idempotent, and later gathers throw
 * {@link IllegalStateException}.
 */
public final class CpuRowGather implements AutoCloseable {
    /** Below this payload one thread does it all: waking the pool would cost more than it saves. */
    static final long INLINE_BYTES = 256 << 10;
    private static final int LAYER_CACHE = 16;

    private final GatherWorkers workers;
    private final GatherWorkers.Part partRunner = this::runPart;
    private final long[] firstBad;
    private final Arena scratch = Arena.ofShared();
    private final NativeRowCopy[] nativeCopies; // one per part, or null for the Java copy only
    private boolean closed;

    // Per-layer offsets and moduli, cached because LayerHashing's accessors return fresh copies.
    private final LayerHashing[] cachedLayers = new LayerHashing[LAYER_CACHE];
    private final long[][] cachedOffsets = new long[LAYER_CACHE][];
    private final long[][] cachedModuli = new long[LAYER_CACHE][];
    private int nextCacheSlot;

    // The current call's arguments, read by the parts (published by GatherWorkers.run).
    private boolean validating;
    private MemorySegment src, dst;
    private long[] hashArray;
    private long hashArrayBase;
    private MemorySegment hashSegment;
    private long tokens, rowBytes;
    private int parts, heads;
    private long[] offsets, moduli;
    private LayerHashing currentLayer;
    private long tableRows;
    private boolean copyNatively;

    /** A gather on {@link Runtime#availableProcessors()} threads (the caller's included). */
    public CpuRowGather() {
        this(Runtime.getRuntime().availableProcessors());
    }

    /**
     * A gather on {@code threads} threads, the calling thread included ({@code threads - 1} are started here).
     *
     * @param threads {@code >= 1}
     */
    public CpuRowGather(int threads) {
        this(threads, true);
    }

    /**
     * A gather on {@code threads} threads, the calling thread included ({@code threads - 1} are started here).
     *
     * @param threads    {@code >= 1}
     * @param nativeCopy whether to copy rows with libengram when it is loaded and both segments are off-heap
     *                   ({@code false}: always in Java, e.g. to compare the two)
     */
    public CpuRowGather(int threads, boolean nativeCopy) {
        ParallelChunks.checkThreads(threads);
        firstBad = new long[threads];
        if (nativeCopy && NativeRowCopy.available()) {
            nativeCopies = new NativeRowCopy[threads];
            for (int p = 0; p < threads; p++) nativeCopies[p] = new NativeRowCopy(scratch);
        } else {
            nativeCopies = null;
        }
        workers = new GatherWorkers(threads, "engram-gather");
    }

    /**
     * {@return whether rows are copied by libengram (loaded, and asked for) for off-heap tables and destinations}
     */
    public boolean copiesNatively() {
        return nativeCopies != null;
    }

    /** {@return the number of threads a gather runs on, the caller's included} */
    public int threads() {
        return workers.parts();
    }

    /**
     * {@return the bytes a gather of {@code tokens} tokens writes: {@code tokens * heads * table.rowBytes()}}
     * @param table  the layer's table
     * @param layer  the layer
     * @param tokens token count, {@code >= 0}
     */
    public static long outputBytes(HostTable table, LayerHashing layer, long tokens) {
        if (tokens < 0) throw new IllegalArgumentException("tokens must be >= 0, got " + tokens);
        return Math.multiplyExact(Math.multiplyExact(tokens, (long) layer.heads()), table.rowBytes());
    }

    /**
     * Gathers the rows of all tokens of {@code hashIds} ({@code hashIds.length / heads} tokens).
     *
     * @param table   the layer's table ({@code layer.totalRows()} rows)
     * @param layer   the layer's moduli and row offsets
     * @param hashIds {@code [tokens, heads]} hash ids, as {@link NgramHashMapping#hash} returns them
     * @param dst     receives {@code [tokens, heads * rowElements]} in the table's dtype, from byte 0; at least
     *                {@link #outputBytes} bytes
     * @throws IllegalArgumentException for a bad hash id (nothing written), a table of the wrong size, a length
     *                                  that is not a whole number of tokens, or a too small or read-only {@code dst}
     * @throws IllegalStateException    when this gather or the table is closed
     */
    public void gather(HostTable table, LayerHashing layer, long[] hashIds, MemorySegment dst) {
        Objects.requireNonNull(hashIds, "hashIds");
        Objects.requireNonNull(layer, "layer");
        if (hashIds.length % layer.heads() != 0) {
            throw new IllegalArgumentException("hash ids have " + hashIds.length + " elements, not a multiple of the "
                    + layer.heads() + " heads of layer " + layer.layerId());
        }
        gather(table, layer, hashIds, 0, hashIds.length / layer.heads(), dst);
    }

    /**
     * Gathers the rows of tokens {@code [firstToken, firstToken + tokenCount)} of {@code hashIds} into
     * {@code dst} from byte 0 (for pipelining a large batch in chunks through one staging buffer).
     *
     * @param table      the layer's table ({@code layer.totalRows()} rows)
     * @param layer      the layer's moduli and row offsets
     * @param hashIds    {@code [tokens, heads]} hash ids
     * @param firstToken first token to gather
     * @param tokenCount tokens to gather, {@code >= 0}
     * @param dst        receives {@code [tokenCount, heads * rowElements]}; at least {@link #outputBytes} bytes
     * @throws IllegalArgumentException as {@link #gather(HostTable, LayerHashing, long[], MemorySegment)}, or
     *                                  for a token range outside {@code hashIds}
     * @throws IllegalStateException    when this gather or the table is closed
     */
    public synchronized void gather(HostTable table, LayerHashing layer, long[] hashIds, int firstToken, int tokenCount,
                                    MemorySegment dst) {
        useHashRange(layer, hashIds, firstToken, tokenCount);
        execute(table, layer, tokenCount, dst);
    }

    /**
     * Gathers from hash ids in an INT64 segment (native byte order), e.g. a pinned buffer the hash was written to.
     *
     * @param table   the layer's table ({@code layer.totalRows()} rows)
     * @param layer   the layer's moduli and row offsets
     * @param hashIds {@code [tokens, heads]} int64 hash ids from byte 0; at least {@code tokens * heads * 8} bytes
     * @param tokens  tokens to gather, {@code >= 0}
     * @param dst     receives {@code [tokens, heads * rowElements]}; at least {@link #outputBytes} bytes
     * @throws IllegalArgumentException as {@link #gather(HostTable, LayerHashing, long[], MemorySegment)}, or
     *                                  for a too small {@code hashIds}
     * @throws IllegalStateException    when this gather, the table or a segment's arena is closed
     */
    public synchronized void gather(HostTable table, LayerHashing layer, MemorySegment hashIds, long tokens,
                                    MemorySegment dst) {
        Objects.requireNonNull(hashIds, "hashIds");
        Objects.requireNonNull(layer, "layer");
        if (tokens < 0) throw new IllegalArgumentException("tokens must be >= 0, got " + tokens);
        long need = Math.multiplyExact(Math.multiplyExact(tokens, (long) layer.heads()), Long.BYTES);
        if (hashIds.byteSize() < need) {
            throw new IllegalArgumentException("hash id segment holds " + hashIds.byteSize() + " bytes, " + tokens
                    + " tokens x " + layer.heads() + " heads of int64 need " + need);
        }
        hashSegment = hashIds;
        execute(table, layer, tokens, dst);
    }

    /**
     * Hashes raw token ids on the CPU ({@link NgramHashMapping#hash}, which allocates the returned array), then
     * gathers their rows.
     *
     * @param mapping the model's hash mapping
     * @param layerId the layer
     * @param rawIds  {@code [batch, seqLen]} raw token ids
     * @param batch   batch rows
     * @param seqLen  tokens per row
     * @param table   the layer's table
     * @param dst     receives {@code [batch * seqLen, heads * rowElements]}
     * @return the hash ids {@code [batch, seqLen, heads]}
     */
    public long[] hashAndGather(NgramHashMapping mapping, int layerId, long[] rawIds, int batch, int seqLen,
                                HostTable table, MemorySegment dst) {
        long[] hash = mapping.hash(rawIds, batch, seqLen, layerId);
        gather(table, mapping.layer(layerId), hash, dst);
        return hash;
    }

    /**
     * {@return the code bytes an fp8 gather of {@code tokens} tokens writes: {@code tokens * heads * headDim}}
     * @param table  the layer's fp8 table
     * @param layer  the layer
     * @param tokens token count, {@code >= 0}
     */
    public static long codeBytes(Fp8HostTable table, LayerHashing layer, long tokens) {
        if (tokens < 0) throw new IllegalArgumentException("tokens must be >= 0, got " + tokens);
        return Math.multiplyExact(Math.multiplyExact(tokens, (long) layer.heads()), table.codeRowBytes());
    }

    /**
     * {@return the scale bytes an fp8 gather of {@code tokens} tokens writes: {@code tokens * heads * (headDim / block)}}
     * @param table  the layer's fp8 table
     * @param layer  the layer
     * @param tokens token count, {@code >= 0}
     */
    public static long scaleBytes(Fp8HostTable table, LayerHashing layer, long tokens) {
        if (tokens < 0) throw new IllegalArgumentException("tokens must be >= 0, got " + tokens);
        return Math.multiplyExact(Math.multiplyExact(tokens, (long) layer.heads()), table.scaleRowBytes());
    }

    /**
     * Gathers the code rows and the scale rows of all tokens of {@code hashIds} from an fp8 table: two gathers of the
     * same ids, {@code codesDst[t, h*headDim ..)} and {@code scalesDst[t, h*(headDim/block) ..)} from table row
     * {@code layer.offsets()[h] + hash[t, h]}; the GPU dequantizes them ({@code dev.engram.gpu.Fp8Dequantize}).
     *
     * @param table     the layer's fp8 table ({@code layer.totalRows()} rows)
     * @param layer     the layer's moduli and row offsets
     * @param hashIds   {@code [tokens, heads]} hash ids, as {@link NgramHashMapping#hash} returns them
     * @param codesDst  receives {@code [tokens, heads * headDim]} E4M3 codes, from byte 0; at least {@link #codeBytes}
     * @param scalesDst receives {@code [tokens, heads * (headDim / block)]} E8M0 scales, from byte 0; at least
     *                  {@link #scaleBytes}; not overlapping {@code codesDst}
     * @throws IllegalArgumentException for a bad hash id (nothing written), a table of the wrong size, a length that
     *                                  is not a whole number of tokens, or a too small, read-only or overlapping
     *                                  destination
     * @throws IllegalStateException    when this gather or the table is closed
     */
    public void gather(Fp8HostTable table, LayerHashing layer, long[] hashIds, MemorySegment codesDst,
                       MemorySegment scalesDst) {
        Objects.requireNonNull(hashIds, "hashIds");
        Objects.requireNonNull(layer, "layer");
        if (hashIds.length % layer.heads() != 0) {
            throw new IllegalArgumentException("hash ids have " + hashIds.length + " elements, not a multiple of the "
                    + layer.heads() + " heads of layer " + layer.layerId());
        }
        gather(table, layer, hashIds, 0, hashIds.length / layer.heads(), codesDst, scalesDst);
    }

    /**
     * Gathers the code and scale rows of tokens {@code [firstToken, firstToken + tokenCount)} of {@code hashIds}
     * into {@code codesDst} and {@code scalesDst} from byte 0 (for pipelining a large batch in chunks).
     *
     * @param table      the layer's fp8 table ({@code layer.totalRows()} rows)
     * @param layer      the layer's moduli and row offsets
     * @param hashIds    {@code [tokens, heads]} hash ids
     * @param firstToken first token to gather
     * @param tokenCount tokens to gather, {@code >= 0}
     * @param codesDst   receives {@code [tokenCount, heads * headDim]} codes; at least {@link #codeBytes} bytes
     * @param scalesDst  receives {@code [tokenCount, heads * (headDim / block)]} scales; at least {@link #scaleBytes}
     * @throws IllegalArgumentException as {@link #gather(Fp8HostTable, LayerHashing, long[], MemorySegment,
     *                                  MemorySegment)}, or for a token range outside {@code hashIds}
     * @throws IllegalStateException    when this gather or the table is closed
     */
    public synchronized void gather(Fp8HostTable table, LayerHashing layer, long[] hashIds, int firstToken,
                                    int tokenCount, MemorySegment codesDst, MemorySegment scalesDst) {
        useHashRange(layer, hashIds, firstToken, tokenCount);
        executeFp8(table, layer, tokenCount, codesDst, scalesDst);
    }

    /** Points the workers at tokens {@code [firstToken, firstToken + tokenCount)} of {@code hashIds}, checked. */
    private void useHashRange(LayerHashing layer, long[] hashIds, int firstToken, int tokenCount) {
        Objects.requireNonNull(hashIds, "hashIds");
        Objects.requireNonNull(layer, "layer");
        long heads = layer.heads();
        if (firstToken < 0 || tokenCount < 0 || (firstToken + (long) tokenCount) * heads > hashIds.length) {
            throw new IllegalArgumentException("tokens [" + firstToken + ", " + (firstToken + (long) tokenCount)
                    + ") are outside hash ids of " + hashIds.length / heads + " tokens x " + heads + " heads");
        }
        hashArray = hashIds;
        hashArrayBase = firstToken * heads;
    }

    /** Stops the pool's threads; later calls do nothing. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            workers.close();
            scratch.close();
        }
    }

    /** Checks what both entry points share, validates every id, then copies. Caller holds the lock. */
    private void execute(HostTable table, LayerHashing layer, long tokenCount, MemorySegment out) {
        try {
            if (closed) throw new IllegalStateException("CpuRowGather is closed");
            Objects.requireNonNull(table, "table");
            Objects.requireNonNull(out, "dst");
            requireRows(table, table.rows(), layer);
            long bytes = outputBytes(table, layer, tokenCount);
            requireDestination(out, "dst", bytes, tokenCount, layer, table.rowBytes());
            if (hashSegment != null) requireShared(hashSegment, "hash id segment");
            run(layer, table.segment(), table.rows(), table.rowBytes(), tokenCount, out, bytes, true);
        } finally {
            src = dst = hashSegment = null; // do not keep the caller's memory reachable
            hashArray = null;
            currentLayer = null;
        }
    }

    /** The same for an fp8 table: both destinations checked, the ids validated once, then codes and scales copied. */
    private void executeFp8(Fp8HostTable table, LayerHashing layer, long tokenCount, MemorySegment codesOut,
                            MemorySegment scalesOut) {
        try {
            if (closed) throw new IllegalStateException("CpuRowGather is closed");
            Objects.requireNonNull(table, "table");
            Objects.requireNonNull(codesOut, "codesDst");
            Objects.requireNonNull(scalesOut, "scalesDst");
            requireRows(table, table.rows(), layer);
            long codeBytes = codeBytes(table, layer, tokenCount), scaleBytes = scaleBytes(table, layer, tokenCount);
            requireDestination(codesOut, "codesDst", codeBytes, tokenCount, layer, table.codeRowBytes());
            requireDestination(scalesOut, "scalesDst", scaleBytes, tokenCount, layer, table.scaleRowBytes());
            if (codeBytes > 0 && scaleBytes > 0 && codesOut.asSlice(0, codeBytes)
                    .asOverlappingSlice(scalesOut.asSlice(0, scaleBytes)).isPresent()) {
                throw new IllegalArgumentException("codesDst and scalesDst overlap");
            }
            MemorySegment codes = table.codes(), scales = table.scales(); // open
            run(layer, codes, table.rows(), table.codeRowBytes(), tokenCount, codesOut, codeBytes, true);
            run(layer, scales, table.rows(), table.scaleRowBytes(), tokenCount, scalesOut, scaleBytes, false);
        } finally {
            src = dst = hashSegment = null;
            hashArray = null;
            currentLayer = null;
        }
    }

    private static void requireRows(Object table, long rows, LayerHashing layer) {
        if (rows != layer.totalRows()) {
            throw new IllegalArgumentException("table " + table + " has " + rows + " rows, layer " + layer.layerId()
                    + " has " + layer.totalRows());
        }
    }

    private void requireDestination(MemorySegment out, String name, long bytes, long tokenCount, LayerHashing layer,
                                    long rowBytes) {
        if (out.isReadOnly()) throw new IllegalArgumentException(name + " is read-only");
        requireShared(out, name);
        if (out.byteSize() < bytes) {
            throw new IllegalArgumentException(name + " holds " + out.byteSize() + " bytes, " + tokenCount + " tokens x "
                    + layer.heads() + " heads x " + rowBytes + " bytes per row need " + bytes);
        }
    }

    /**
     * Copies the rows of the current ids from {@code table} ({@code rows} rows of {@code rowBytes}) into {@code out},
     * after validating every id when {@code validate} (else they were validated for this call already).
     */
    private void run(LayerHashing layer, MemorySegment table, long rows, long rowBytes, long tokenCount,
                     MemorySegment out, long bytes, boolean validate) {
        selectLayer(layer);
        currentLayer = layer;
        src = table;
        tableRows = rows;
        dst = out;
        copyNatively = nativeCopies != null && NativeRowCopy.canCopy(src, out);
        tokens = tokenCount;
        this.rowBytes = rowBytes;
        heads = layer.heads();
        parts = bytes < INLINE_BYTES ? 1 : workers.parts();

        if (validate) {
            validating = true;
            runParts();
            long bad = -1;
            for (int p = 0; p < parts; p++) {
                if (firstBad[p] >= 0) {
                    bad = firstBad[p];
                    break; // parts cover ascending token ranges: the first hit is the lowest index
                }
            }
            if (bad >= 0) throw badId(layer, bad);
        }
        validating = false;
        runParts();
    }

    private void requireShared(MemorySegment s, String what) {
        if (!workers.canAccess(s)) {
            throw new IllegalArgumentException(what + " is confined to its arena's owner thread, but this gather runs on "
                    + workers.parts() + " threads; use a shared, global or automatic arena (or a 1-thread gather)");
        }
    }

    private void runParts() {
        if (parts == 1) runPart(0);
        else workers.run(partRunner);
    }

    private IllegalArgumentException badId(LayerHashing layer, long index) {
        long id = hashAt(index);
        int h = (int) (index % heads);
        return new IllegalArgumentException("hash id " + id + " of token " + index / heads + ", head " + h
                + " is outside [0, " + moduli[h] + "), the head's modulus in layer " + layer.layerId()
                + "; nothing was written");
    }

    private void selectLayer(LayerHashing layer) {
        for (int i = 0; i < LAYER_CACHE; i++) {
            if (cachedLayers[i] == layer) {
                offsets = cachedOffsets[i];
                moduli = cachedModuli[i];
                return;
            }
        }
        int slot = nextCacheSlot;
        nextCacheSlot = (slot + 1) % LAYER_CACHE;
        cachedLayers[slot] = layer;
        offsets = cachedOffsets[slot] = layer.offsets();
        moduli = cachedModuli[slot] = layer.moduli();
    }

    /** Part {@code p} of {@code parts}: tokens {@code [tokens*p/parts, tokens*(p+1)/parts)}. */
    private void runPart(int p) {
        if (p >= parts) return;
        long from = tokens * p / parts, to = tokens * (p + 1) / parts;
        if (validating) firstBad[p] = validate(from, to);
        else if (copyNatively) {
            nativeCopies[p].copy(src, tableRows, rowBytes, currentLayer, moduli, offsets, hashArray, hashArrayBase,
                    hashSegment, from, to, dst);
        } else copy(from, to);
    }

    /** {@return the first flat index in the token range whose id is out of range, or -1} */
    private long validate(long from, long to) {
        long[] mod = moduli;
        int h0 = heads;
        for (long t = from; t < to; t++) {
            for (int h = 0; h < h0; h++) {
                long i = t * h0 + h;
                long id = hashAt(i);
                if (id < 0 || id >= mod[h]) return i;
            }
        }
        return -1;
    }

    private void copy(long from, long to) {
        long[] off = offsets;
        int h0 = heads;
        long rb = rowBytes;
        MemorySegment s = src, d = dst;
        for (long t = from; t < to; t++) {
            for (int h = 0; h < h0; h++) {
                long i = t * h0 + h;
                MemorySegment.copy(s, (off[h] + hashAt(i)) * rb, d, i * rb, rb);
            }
        }
    }

    private long hashAt(long i) {
        long[] a = hashArray;
        return a != null ? a[(int) (hashArrayBase + i)] : hashSegment.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
    }
}
