package dev.engram.checkpoint;

import dev.engram.bindings.cuda_runtime_h;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.DType;
import dev.engram.gpu.HostTableLayer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsException;
import dev.engram.io.TensorInfo;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.HostAllocation;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.PinnedHostMemory;
import dev.engram.table.ProgressListener;
import dev.engram.table.TableCopy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A checkpoint layer's table in host memory for a {@link HostTableLayer}: the rows stay in host memory and the
 * layer's prefetch brings the ones a batch needs to the GPU. An F32 or BF16 table becomes a {@link HostTable}
 * ({@link #load}); an fp8 table (F8_E4M3 codes with F8_E8M0 block scales) an {@link Fp8HostTable} ({@link #loadFp8}),
 * whose bytes stay fp8 and are dequantized on the GPU. Two placements ({@link Placement}):
 * {@link Placement#COPY} copies the mapped table once into pinned memory, {@link Placement#REGISTER} pins the file's
 * mapping itself. A layer from a checkpoint in a few lines:
 * <pre>{@code
 * try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
 *     CheckpointLayer l = CheckpointLayer.open(ckpt, LayerPrefix.of("model.layers.{layer}.engram."), config,
 *             mapping.layer(15));
 *     try (HostTable table = CheckpointHostTable.load(l, Placement.COPY, DType.BFLOAT16, ProgressListener.NONE);
 *          HostTableLayer layer = CheckpointHostTable.layer(mapping, l, table,
 *                  HostTableLayer.Options.of(HostGatherPath.AUTO, 4096))) {
 *         Prefetch p = layer.prefetch(ids, batch, seqLen);
 *         layer.forward(p, hidden, out, stream);
 *     }
 * }
 * }</pre>
 *
 * <p><b>Ownership.</b> The caller owns the returned table and closes it after the layer that reads it. Neither
 * placement needs the checkpoint once the table is made: a copy holds its own memory, and a registered table maps
 * the tensor's byte range of the file a second time (the same page-cache pages, no copy) and owns that mapping and
 * its registration; closing the table unregisters, then unmaps. So the checkpoint may be closed before or after the
 * table. Making a table from a closed checkpoint throws {@link IllegalStateException} naming it. The file must not
 * be truncated or rewritten in place while a registered table is open (as for the checkpoint itself).
 *
 * <p><b>fp8 tables</b> (SEMANTICS.md §9) have their own methods, as their table type differs: {@link #loadFp8},
 * {@link #copyFp8}, {@link #registerFp8} and {@link #layer(NgramHashMapping, CheckpointLayer, Fp8HostTable, DType,
 * HostTableLayer.Options)} with a compute dtype the rows are dequantized to. {@code COPY} copies the codes and the
 * scales into one pinned allocation; {@code REGISTER} pins the two tensors' file ranges in place (two registrations,
 * both owned by the table). Either way every scale byte is read once before the table is returned: a NaN scale (byte
 * 255) is a {@link dev.engram.io.SafetensorsException} naming the scale tensor, its row and its block. The float
 * methods refuse an fp8 table ({@link UnsupportedOperationException}), the fp8 methods a float table
 * ({@link IllegalArgumentException}).
 * <pre>{@code
 * try (Fp8HostTable table = CheckpointHostTable.loadFp8(l, Placement.COPY, ProgressListener.NONE);
 *      HostTableLayer layer = CheckpointHostTable.layer(mapping, l, table, DType.BFLOAT16,
 *              HostTableLayer.Options.of(HostGatherPath.AUTO, 4096))) {
 *     ...
 * }
 * }</pre>
 */
public final class CheckpointHostTable {
    /**
     * Where a checkpoint's table lives for a {@link HostTableLayer}.
     *
     * <p>Which to prefer is <b>not measured on a GPU yet</b>: {@code bench/.../CheckpointLoadBench} times both (load
     * time, and the host-table prefetch rate on the CPU and ZERO_COPY paths) for the same file, and its numbers
     * should decide. The default is {@link #COPY}: pinned, huge-page memory is the path the host-table benchmarks
     * measured (a pinned host-to-device copy ran at 53 GB/s on the H200), and huge pages may spare the CPU gather
     * TLB misses (page-cache pages are 4 KiB unless the kernel backs the file with large folios; on the 2-core
     * development VM neither placement's gather was consistently faster, bench/RESULTS.md). {@link #REGISTER} costs
     * no second copy of the table in RAM and no copy time, which matters when the table is a large share of the
     * machine's memory.
     */
    public enum Placement {
        /**
         * Copy the mapped table once, in parallel chunks with progress, into pinned memory (by default huge-page
         * anonymous memory registered with {@code cudaHostRegister}); any storage dtype (F32 tables round to BF16
         * to nearest even, BF16 tables widen to F32 exactly; an fp8 table's codes and scales are copied as they
         * are). Needs the table's size in memory besides the page cache.
         */
        COPY,
        /**
         * Pin the file's pages in place ({@code cudaHostRegister} with {@code Portable | Mapped | ReadOnly} on the
         * page-aligned range enclosing the tensor): zero copy, no second copy in memory. Only when the storage
         * dtype equals the table's dtype in the file, and the tensor's file offset is a multiple of its element
         * size; the device must support read-only registration. With a cold page cache the registration reads the
         * whole table from disk in one driver call (no progress between its start and end). An fp8 table pins two
         * ranges, its codes' and its scales'.
         */
        REGISTER;

        /** {@return the default, {@link #COPY} (see the class comment)} */
        public static Placement defaultPlacement() {
            return COPY;
        }
    }

    private CheckpointHostTable() {}

    /**
     * {@return the layer's table in host memory, placed as {@code placement} says} ({@link Placement#COPY}: into
     * {@link #pinnedHugePages()} on every processor)
     *
     * @param layer     the checked checkpoint layer, its checkpoint open
     * @param placement copy or register
     * @param storage   the host-table layer's storage dtype, FLOAT32 or BFLOAT16
     * @param progress  receives the table bytes placed so far, on this thread ({@link ProgressListener#NONE} for
     *                  none); {@code REGISTER} reports only its start and its end
     * @throws UnsupportedOperationException for an fp8 table (use {@link #loadFp8}), or ({@code REGISTER}) a device
     *                                       without read-only registration
     * @throws IllegalArgumentException      for another storage dtype, or {@code REGISTER} of a table whose dtype
     *                                       differs from {@code storage} or whose offset is misaligned
     * @throws IllegalStateException         when the checkpoint is closed
     * @throws dev.engram.cuda.CudaException when pinning fails
     */
    public static HostTable load(CheckpointLayer layer, Placement placement, DType storage, ProgressListener progress) {
        Objects.requireNonNull(placement, "placement");
        return switch (placement) {
            case COPY -> copy(layer, storage, pinnedHugePages(), Runtime.getRuntime().availableProcessors(), progress);
            case REGISTER -> register(layer, storage, progress);
        };
    }

    /**
     * {@return the default memory of {@link Placement#COPY}: huge-page anonymous mappings pinned with
     * {@code cudaHostRegister(Portable | Mapped)}, what {@code HostTableBench} measures} (Linux; needs the CUDA
     * runtime when it allocates)
     */
    public static HostMemory pinnedHugePages() {
        return PinnedHostMemory.registered(HostMemory.anonymousMapping(true));
    }

    /**
     * {@return a copy of the layer's table in memory from {@code memory}}: {@link Placement#COPY} with a chosen
     * allocator (e.g. {@link HostMemory#plain()} for the CPU gather alone, without a GPU)
     *
     * @param layer    the checked checkpoint layer, its checkpoint open during the copy
     * @param storage  the table's dtype, FLOAT32 or BFLOAT16 (converted from the file's as {@link TableCopy} says)
     * @param memory   the allocator
     * @param threads  copy threads, {@code >= 1}
     * @param progress receives the table bytes written so far, on this thread
     * @throws UnsupportedOperationException for an fp8 table (use {@link #copyFp8})
     * @throws IllegalArgumentException      for another storage dtype or {@code threads < 1}
     * @throws IllegalStateException         when the checkpoint is closed (before or during the copy)
     */
    public static HostTable copy(CheckpointLayer layer, DType storage, HostMemory memory, int threads,
                                 ProgressListener progress) {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(progress, "progress");
        DType file = fileDtype(layer);
        requireStorage(storage);
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        MemorySegment src = mappedTable(layer);
        HostTable table = HostTable.allocate(layer.layout().rows(), layer.config().headDim(), storage, memory);
        try {
            TableCopy.copy(src, file, table, threads, progress);
            return table;
        } catch (IllegalStateException e) {
            table.close();
            throw new IllegalStateException("copying the table of " + layer + " from " + layer.checkpoint().path()
                    + " stopped: " + e.getMessage() + " (was the checkpoint closed during the copy?)", e);
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
    }

    /**
     * {@return the layer's table pinned in place}: {@link Placement#REGISTER}, zero copy. The table is read-only
     * (writing it throws); its dtype is the file's.
     *
     * @param layer    the checked checkpoint layer, its checkpoint open
     * @param storage  the host-table layer's storage dtype: must be the table's dtype in the file
     * @param progress receives {@code (0, bytes)} before and {@code (bytes, bytes)} after the registration
     * @throws UnsupportedOperationException for an fp8 table (use {@link #registerFp8}), or a device without read-only
     *                                       registration
     * @throws IllegalArgumentException      when {@code storage} is not the file's dtype, or the tensor's file offset
     *                                       is not a multiple of its element size (both: use {@link Placement#COPY})
     * @throws IllegalStateException         when the checkpoint is closed
     * @throws dev.engram.cuda.CudaException when {@code cudaHostRegister} fails (its message suggests {@code COPY})
     * @throws dev.engram.io.SafetensorsException when the file cannot be mapped again, or its bytes changed since the
     *                                            checkpoint was opened
     */
    public static HostTable register(CheckpointLayer layer, DType storage, ProgressListener progress) {
        Objects.requireNonNull(progress, "progress");
        DType file = fileDtype(layer);
        requireStorage(storage);
        TensorInfo t = layer.tensor(EngramTensorNames.EMBEDDING_WEIGHT);
        if (storage != file) {
            throw new IllegalArgumentException("REGISTER reads " + t.name() + " in place, as its " + t.dtype()
                    + ", but the layer stores " + storage + ": use Placement.COPY, which converts the table");
        }
        if (!t.isNaturallyAligned()) {
            throw new IllegalArgumentException("REGISTER cannot read " + t.name() + " in place: its file offset "
                    + t.fileOffset() + " is not a multiple of its element size " + t.dtype().byteSize()
                    + " (the GPU reads aligned elements); use Placement.COPY");
        }
        MemorySegment checked = mappedTable(layer);
        requireReadOnlyRegistration();
        progress.progress(0, t.byteSize());
        HostTable table = HostTable.allocate(layer.layout().rows(), layer.config().headDim(), storage,
                new RegisteredTensorMapping(t, checked));
        try {
            progress.progress(t.byteSize(), t.byteSize());
            return table;
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
    }

    /**
     * {@return the layer's fp8 table in host memory, placed as {@code placement} says}: the E4M3 codes and E8M0
     * scales as they are in the file ({@link Placement#COPY}: into {@link #pinnedHugePages()} on every processor),
     * every scale byte checked
     *
     * @param layer     the checked checkpoint layer, its table F8_E4M3, its checkpoint open
     * @param placement copy or register
     * @param progress  receives the code and scale bytes placed so far, on this thread ({@link ProgressListener#NONE}
     *                  for none); {@code REGISTER} reports only its start and its end
     * @throws IllegalArgumentException      when the table is not fp8 (use {@link #load})
     * @throws UnsupportedOperationException ({@code REGISTER}) for a device without read-only registration
     * @throws IllegalStateException         when the checkpoint is closed
     * @throws dev.engram.io.SafetensorsException naming the scale tensor, row and block for a scale byte 255 (NaN)
     * @throws dev.engram.cuda.CudaException when pinning fails
     */
    public static Fp8HostTable loadFp8(CheckpointLayer layer, Placement placement, ProgressListener progress) {
        Objects.requireNonNull(placement, "placement");
        return switch (placement) {
            case COPY -> copyFp8(layer, pinnedHugePages(), Runtime.getRuntime().availableProcessors(), progress);
            case REGISTER -> registerFp8(layer, progress);
        };
    }

    /**
     * {@return a copy of the layer's fp8 table in memory from {@code memory}}: {@link Placement#COPY} with a chosen
     * allocator; codes and scales copied byte for byte in parallel chunks ({@link TableCopy#copyFp8}), every scale
     * byte checked as it is copied
     *
     * @param layer    the checked checkpoint layer, its table F8_E4M3, its checkpoint open during the copy
     * @param memory   the allocator (e.g. {@link HostMemory#plain()} for the CPU gather alone, without a GPU)
     * @param threads  copy threads, {@code >= 1}
     * @param progress receives the code and scale bytes written so far, on this thread
     * @throws IllegalArgumentException when the table is not fp8 (use {@link #copy}), or {@code threads < 1}
     * @throws IllegalStateException    when the checkpoint is closed (before or during the copy)
     * @throws dev.engram.io.SafetensorsException naming the scale tensor, row and block for a scale byte 255 (NaN)
     */
    public static Fp8HostTable copyFp8(CheckpointLayer layer, HostMemory memory, int threads, ProgressListener progress) {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(progress, "progress");
        int block = fp8Block(layer);
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        MemorySegment codes = mappedTable(layer);
        MemorySegment scales = mapped(layer, EngramTensorNames.EMBEDDING_SCALE);
        Fp8HostTable table = Fp8HostTable.allocate(layer.layout().rows(), layer.config().headDim(), block, memory);
        try {
            TableCopy.copyFp8(codes, scales, table, threads, progress);
            return table;
        } catch (IllegalArgumentException e) { // the sizes were checked with the layer: a NaN scale byte
            table.close();
            TensorInfo s = layer.tensor(EngramTensorNames.EMBEDDING_SCALE);
            throw new SafetensorsException(s.file(), s.name(), e.getMessage(), e);
        } catch (IllegalStateException e) {
            table.close();
            throw new IllegalStateException("copying the fp8 table of " + layer + " from " + layer.checkpoint().path()
                    + " stopped: " + e.getMessage() + " (was the checkpoint closed during the copy?)", e);
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
    }

    /**
     * {@return the layer's fp8 table pinned in place}: {@link Placement#REGISTER} for fp8, zero copy. The codes and
     * the scales are two tensors, so two ranges of the file are mapped again and pinned read-only, each as
     * {@link #register} pins a float table; the table owns both (closing it unregisters and unmaps them). Every scale
     * byte of the pinned mapping is read once. The table is read-only (writing it throws).
     *
     * @param layer    the checked checkpoint layer, its table F8_E4M3, its checkpoint open
     * @param progress receives {@code (0, bytes)} before and {@code (bytes, bytes)} after the registrations, bytes the
     *                 codes' and the scales' together
     * @throws IllegalArgumentException      when the table is not fp8 (use {@link #register})
     * @throws UnsupportedOperationException for a device without read-only registration
     * @throws IllegalStateException         when the checkpoint is closed
     * @throws dev.engram.cuda.CudaException when {@code cudaHostRegister} fails (its message suggests {@code COPY})
     * @throws dev.engram.io.SafetensorsException naming the scale tensor, row and block for a scale byte 255 (NaN);
     *                                            or when the file cannot be mapped again, or its bytes changed since
     *                                            the checkpoint was opened
     */
    public static Fp8HostTable registerFp8(CheckpointLayer layer, ProgressListener progress) {
        Objects.requireNonNull(progress, "progress");
        int block = fp8Block(layer);
        TensorInfo c = layer.tensor(EngramTensorNames.EMBEDDING_WEIGHT);
        TensorInfo s = layer.tensor(EngramTensorNames.EMBEDDING_SCALE);
        MemorySegment checkedCodes = mappedTable(layer); // one-byte elements: any file offset is aligned
        MemorySegment checkedScales = mapped(layer, EngramTensorNames.EMBEDDING_SCALE);
        requireReadOnlyRegistration();
        long total = c.byteSize() + s.byteSize();
        progress.progress(0, total);
        HostAllocation codes = new RegisteredTensorMapping(c, checkedCodes).allocate(c.byteSize());
        HostAllocation scales;
        try {
            scales = new RegisteredTensorMapping(s, checkedScales).allocate(s.byteSize());
        } catch (RuntimeException | Error e) {
            codes.close();
            throw e;
        }
        Fp8HostTable table;
        try {
            table = Fp8HostTable.of(layer.layout().rows(), layer.config().headDim(), block, codes, scales);
        } catch (IllegalArgumentException e) { // shapes checked with the layer: a NaN scale byte; both closed
            String m = e.getMessage();
            int at = m.indexOf("scale byte 255");
            throw new SafetensorsException(s.file(), s.name(), at >= 0 ? m.substring(at) : m, e);
        }
        try {
            progress.progress(total, total);
            return table;
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
    }

    /**
     * {@return a host-table layer on the current device}: the checkpoint layer's dense tensors
     * ({@link GpuLayerWeights#withoutTable}, uploaded and converted to the table's dtype) with {@code table} as its
     * rows. The layer borrows {@code table}: close the layer first, then the table. The checkpoint is needed only
     * while this runs.
     *
     * @param mapping the model's hashing (the layer's id is {@code layer.layerId()})
     * @param layer   the checked checkpoint layer, its checkpoint open
     * @param table   the layer's rows, e.g. from {@link #load}; its dtype is the layer's storage dtype
     * @param options path and limits of the host-table layer
     * @throws IllegalArgumentException as {@link HostTableLayer#create(NgramHashMapping, int,
     *                                  dev.engram.gpu.LayerWeights, HostTable, HostTableLayer.Options)}
     * @throws IllegalStateException    when the checkpoint or the table is closed
     */
    public static HostTableLayer layer(NgramHashMapping mapping, CheckpointLayer layer, HostTable table,
                                       HostTableLayer.Options options) {
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(layer, "layer");
        try (Arena arena = Arena.ofShared()) { // the stacked dense tensors: free once the layer uploaded them
            return HostTableLayer.create(mapping, layer.layerId(), GpuLayerWeights.withoutTable(layer, arena), table,
                    options);
        }
    }

    /**
     * {@return a host-table layer over an fp8 host table on the current device}: the checkpoint layer's dense tensors
     * ({@link GpuLayerWeights#withoutTable}, uploaded and converted to {@code computeDtype}) with {@code table}'s
     * codes and scales as its rows, dequantized on the GPU into {@code computeDtype} (bit for bit the rows of the
     * {@link dev.engram.gpu.EngramLayer} with the same fp8 table on the device). The layer borrows {@code table}:
     * close the layer first, then the table. The checkpoint is needed only while this runs.
     *
     * @param mapping      the model's hashing (the layer's id is {@code layer.layerId()})
     * @param layer        the checked checkpoint layer, its checkpoint open
     * @param table        the layer's fp8 rows, e.g. from {@link #loadFp8}
     * @param computeDtype the dtype the rows are dequantized to and the dense part runs in, FLOAT32 or BFLOAT16
     * @param options      path and limits of the host-table layer
     * @throws IllegalArgumentException as {@link HostTableLayer#create(NgramHashMapping, int,
     *                                  dev.engram.gpu.LayerWeights, Fp8HostTable, DType, HostTableLayer.Options)}
     * @throws IllegalStateException    when the checkpoint or the table is closed
     */
    public static HostTableLayer layer(NgramHashMapping mapping, CheckpointLayer layer, Fp8HostTable table,
                                       DType computeDtype, HostTableLayer.Options options) {
        Objects.requireNonNull(mapping, "mapping");
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(table, "table");
        try (Arena arena = Arena.ofShared()) { // the stacked dense tensors: free once the layer uploaded them
            return HostTableLayer.create(mapping, layer.layerId(), GpuLayerWeights.withoutTable(layer, arena), table,
                    computeDtype, options);
        }
    }

    /** The one place that says which file dtypes a {@link HostTable} takes (fp8 goes to {@link #loadFp8}). */
    private static DType fileDtype(CheckpointLayer layer) {
        Objects.requireNonNull(layer, "layer");
        return switch (layer.tableDtype()) {
            case F32 -> DType.FLOAT32;
            case BF16 -> DType.BFLOAT16;
            case F8_E4M3 -> throw new UnsupportedOperationException("the table of " + layer + " is fp8 (F8_E4M3 with"
                    + " F8_E8M0 block scales): a HostTable holds FLOAT32 or BFLOAT16 rows; use"
                    + " CheckpointHostTable.loadFp8 (or copyFp8, registerFp8), which keeps it fp8 in an Fp8HostTable");
            default -> throw new IllegalStateException("table dtype " + layer.tableDtype()); // refused by check()
        };
    }

    private static void requireStorage(DType storage) {
        Objects.requireNonNull(storage, "storage");
        if (storage != DType.FLOAT32 && storage != DType.BFLOAT16) {
            throw new IllegalArgumentException("a host table stores FLOAT32 or BFLOAT16, got " + storage);
        }
    }

    /** The fp8 table's block; a float table is refused, pointing to the float methods. */
    private static int fp8Block(CheckpointLayer layer) {
        Objects.requireNonNull(layer, "layer");
        if (layer.tableDtype() != SafetensorsDType.F8_E4M3) {
            throw new IllegalArgumentException("the table of " + layer + " is " + layer.tableDtype() + ", not fp8"
                    + " (F8_E4M3): use CheckpointHostTable.load (or copy, register), which makes a HostTable");
        }
        return layer.fp8Block().getAsInt();
    }

    /** The table's bytes in the checkpoint's mapping, or a clear exception when the checkpoint is closed. */
    private static MemorySegment mappedTable(CheckpointLayer layer) {
        return mapped(layer, EngramTensorNames.EMBEDDING_WEIGHT);
    }

    /** A table tensor's bytes in the checkpoint's mapping, or a clear exception when the checkpoint is closed. */
    private static MemorySegment mapped(CheckpointLayer layer, String shortName) {
        try {
            return layer.data(shortName);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("cannot place the table of " + layer + " in host memory: the checkpoint "
                    + layer.checkpoint().path() + " is closed (keep it open until the host table is made)", e);
        }
    }

    private static void requireReadOnlyRegistration() {
        CudaDevice device = CudaDevice.current();
        if (device.attribute(cuda_runtime_h.cudaDevAttrHostRegisterReadOnlySupported()) == 0) {
            throw new UnsupportedOperationException("REGISTER pins the read-only file mapping, but " + device
                    + " does not support cudaHostRegisterReadOnly (cudaDevAttrHostRegisterReadOnlySupported = 0);"
                    + " use Placement.COPY");
        }
    }
}
