package dev.engram.gpu;

import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.table.Fp8Table;
import dev.engram.table.ProgressListener;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One parameter tensor of a GPU layer, wherever it lives: host memory of any size ({@link #ofHost}: a memory-mapped
 * checkpoint, a native buffer, a heap array), or memory already on the device ({@link #ofDevice}). Host tensors are
 * uploaded when the layer is created, converted to the layer's dtype on the way (bfloat16 rounds to nearest even);
 * device tensors of the layer's dtype are used where they are, without a copy. Row-major, in the layouts of
 * {@link LayerWeights}. Holds references only: the memory must stay valid until the layer is created (host) or
 * closed (device).
 *
 * <p><b>fp8 tables</b> ({@link #ofFp8Host}, {@link #ofFp8Device}, {@link #of(Fp8Table)}; SEMANTICS.md 9): the
 * embedding table alone may be given as {@link DType#FP8_E4M3} codes {@code [rows, headDim]} with one
 * {@link DType#FP8_E8M0} scale per block of a row, {@code [rows, headDim / block]}. Such a tensor keeps its bytes
 * as they are on the device (uploaded raw, or used in place) and the layer's gather dequantizes rows to the layer's
 * storage dtype, which stays the compute dtype. Rows, head dim and block are checked against the config when the
 * layer is created, before anything is allocated.
 */
public final class ParameterTensor {
    private final MemorySegment host;
    private final DeviceArray device;
    private final DType dtype;
    private final long elements;
    private final ProgressListener uploadProgress;
    // fp8 tables only: the E8M0 scales (host or device, where the codes are) and the values per scale; else null, 0
    private final MemorySegment hostScales;
    private final DeviceArray deviceScales;
    private final int scaleBlock;

    private ParameterTensor(MemorySegment host, DeviceArray device, DType dtype, long elements,
                            ProgressListener uploadProgress, MemorySegment hostScales, DeviceArray deviceScales,
                            int scaleBlock) {
        this.host = host;
        this.device = device;
        this.dtype = dtype;
        this.elements = elements;
        this.uploadProgress = uploadProgress;
        this.hostScales = hostScales;
        this.deviceScales = deviceScales;
        this.scaleBlock = scaleBlock;
    }

    private ParameterTensor(MemorySegment host, DeviceArray device, DType dtype, long elements) {
        this(host, device, dtype, elements, null, null, null, 0);
    }

    /**
     * {@return a float32 tensor over {@code values}} (not copied until the upload)
     * @param values the values, row-major
     */
    public static ParameterTensor of(float[] values) {
        Objects.requireNonNull(values, "values");
        return new ParameterTensor(MemorySegment.ofArray(values), null, DType.FLOAT32, values.length);
    }

    /**
     * {@return a tensor over host memory} of FLOAT32 or BFLOAT16 elements, little-endian (native or heap; any
     * size, so tables beyond 2^31 elements fit)
     * @param data  the bytes, a whole number of elements
     * @param dtype FLOAT32 or BFLOAT16
     * @throws IllegalArgumentException for another dtype or a size that is not a whole number of elements
     */
    public static ParameterTensor ofHost(MemorySegment data, DType dtype) {
        Objects.requireNonNull(data, "data");
        requireFloat(dtype);
        if (data.byteSize() % dtype.byteSize() != 0) {
            throw new IllegalArgumentException("host tensor of " + data.byteSize() + " bytes is not a whole number of "
                    + dtype + " elements");
        }
        return new ParameterTensor(data, null, dtype, data.byteSize() / dtype.byteSize());
    }

    /**
     * {@return a tensor in device memory}, used in place by a layer of the same dtype on the same device (checked
     * when the layer is created); the caller keeps it alive and unchanged until the layer is closed, and has finished
     * writing it (e.g. synchronized its stream) before creating the layer
     * @param data FLOAT32 or BFLOAT16 device memory
     */
    public static ParameterTensor ofDevice(DeviceArray data) {
        Objects.requireNonNull(data, "data");
        requireFloat(data.dtype());
        return new ParameterTensor(null, data, data.dtype(), data.elementCount());
    }

    /**
     * {@return an fp8 table in host memory} (any size, e.g. slices of a mapped checkpoint; not copied until the
     * upload, which copies the bytes unchanged), the block inferred as {@code codes / scales} bytes
     * @param codes  E4M3 codes {@code [rows, headDim]}, one byte each, row-major
     * @param scales E8M0 scales {@code [rows, headDim / block]}, one byte each, row-major
     * @throws IllegalArgumentException when there are no scales or the codes are not a whole number of blocks
     */
    public static ParameterTensor ofFp8Host(MemorySegment codes, MemorySegment scales) {
        return ofFp8Host(codes, scales, inferBlock(codes == null ? 0 : codes.byteSize(), scales));
    }

    /**
     * {@return an fp8 table in host memory with the given block} (checked against the config's head dim and the
     * scales' size when the layer is created)
     * @param codes  E4M3 codes {@code [rows, headDim]}, one byte each, row-major
     * @param scales E8M0 scales {@code [rows, headDim / block]}, one byte each, row-major
     * @param block  consecutive values of a row per scale, {@code >= 1}
     * @throws IllegalArgumentException for a block below 1
     */
    public static ParameterTensor ofFp8Host(MemorySegment codes, MemorySegment scales, int block) {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(scales, "scales");
        requireBlock(block);
        return new ParameterTensor(codes, null, DType.FP8_E4M3, codes.byteSize(), null, scales, null, block);
    }

    /**
     * {@return an fp8 table over a CPU {@link Fp8Table}'s bytes} (its values and scales, not copied until the upload)
     * @param table the table; its block is the tensor's
     */
    public static ParameterTensor of(Fp8Table table) {
        Objects.requireNonNull(table, "table");
        return ofFp8Host(table.values(), table.scales(), table.block());
    }

    /**
     * {@return an fp8 table in device memory}, used in place (no copy) on the same device; the caller keeps both
     * arrays alive and unchanged until the layer is closed. The block is inferred as {@code codes / scales}.
     * @param codes  {@link DType#FP8_E4M3} codes {@code [rows, headDim]}
     * @param scales {@link DType#FP8_E8M0} scales {@code [rows, headDim / block]}
     * @throws IllegalArgumentException for other dtypes, no scales, or codes that are not a whole number of blocks
     */
    public static ParameterTensor ofFp8Device(DeviceArray codes, DeviceArray scales) {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(scales, "scales");
        requireFp8(codes, scales);
        if (scales.elementCount() == 0 || codes.elementCount() % scales.elementCount() != 0) {
            throw new IllegalArgumentException("fp8 table: " + codes.elementCount() + " codes are not a whole number of"
                    + " blocks of " + scales.elementCount() + " scales, so the block cannot be inferred");
        }
        return ofFp8Device(codes, scales, Math.toIntExact(codes.elementCount() / scales.elementCount()));
    }

    /**
     * {@return an fp8 table in device memory with the given block}, used in place as {@link #ofFp8Device(DeviceArray,
     * DeviceArray)} says
     * @param codes  {@link DType#FP8_E4M3} codes {@code [rows, headDim]}
     * @param scales {@link DType#FP8_E8M0} scales {@code [rows, headDim / block]}
     * @param block  consecutive values of a row per scale, {@code >= 1}
     * @throws IllegalArgumentException for other dtypes or a block below 1
     */
    public static ParameterTensor ofFp8Device(DeviceArray codes, DeviceArray scales, int block) {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(scales, "scales");
        requireFp8(codes, scales);
        requireBlock(block);
        return new ParameterTensor(null, codes, DType.FP8_E4M3, codes.elementCount(), null, null, scales, block);
    }

    private static int inferBlock(long codeBytes, MemorySegment scales) {
        Objects.requireNonNull(scales, "scales");
        long n = scales.byteSize();
        if (n == 0 || codeBytes % n != 0 || codeBytes / n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("fp8 table: " + codeBytes + " code bytes are not a whole number of blocks"
                    + " of " + n + " scale bytes, so the block cannot be inferred");
        }
        return (int) (codeBytes / n);
    }

    private static void requireBlock(int block) {
        if (block < 1) throw new IllegalArgumentException("fp8 table: block must be >= 1, got " + block);
    }

    private static void requireFp8(DeviceArray codes, DeviceArray scales) {
        if (codes.dtype() != DType.FP8_E4M3 || scales.dtype() != DType.FP8_E8M0) {
            throw new IllegalArgumentException("fp8 table: codes must be FP8_E4M3 and scales FP8_E8M0, got "
                    + codes.dtype() + " and " + scales.dtype());
        }
    }

    private static void requireFloat(DType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16) {
            throw new IllegalArgumentException("parameter tensors are FLOAT32 or BFLOAT16, got " + dtype);
        }
    }

    /**
     * {@return this host tensor, reporting the progress of its upload} The listener is called on the thread that
     * creates the layer, once per upload chunk (32 MiB): first with
     * {@code (0, total)}, then at most about every 100 ms, last with {@code (total, total)}, where {@code total} is
     * the tensor's host bytes (an fp8 table's codes and scales together) and {@code done} the bytes read and handed
     * to the driver so far (the last copies may still be in flight then: the layer's creation waits for them). For a table of many gigabytes, where the upload
     * reads a memory-mapped checkpoint from disk.
     *
     * @param listener receives the reports; an exception it throws stops the upload and propagates
     * @throws IllegalArgumentException for a device tensor (it is used in place or copied on the device)
     */
    public ParameterTensor withUploadProgress(ProgressListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (device != null) throw new IllegalArgumentException("a device tensor is not uploaded: " + this);
        return new ParameterTensor(host, null, dtype, elements, listener, hostScales, null, scaleBlock);
    }

    /** The listener of {@link #withUploadProgress}, or null. */
    ProgressListener uploadProgress() {
        return uploadProgress;
    }

    /** {@return the number of elements} */
    public long elementCount() {
        return elements;
    }

    /** {@return the element type} */
    public DType dtype() {
        return dtype;
    }

    /** {@return whether this is an fp8 table (E4M3 codes with E8M0 block scales)} */
    public boolean isFp8() {
        return dtype == DType.FP8_E4M3;
    }

    /** {@return the values of a row per scale of an fp8 table; 0 for a float tensor} */
    public int scaleBlock() {
        return scaleBlock;
    }

    /** {@return the number of scales of an fp8 table; 0 for a float tensor} */
    public long scaleCount() {
        if (!isFp8()) return 0;
        return deviceScales != null ? deviceScales.elementCount() : hostScales.byteSize();
    }

    /** The host scale bytes of an fp8 host table, else null. */
    MemorySegment hostScales() {
        return hostScales;
    }

    /** The device scales of an fp8 device table, else null. */
    DeviceArray deviceScales() {
        return deviceScales;
    }

    /** {@return whether the tensor is in device memory} */
    public boolean onDevice() {
        return device != null;
    }

    /** The host bytes, or null for a device tensor. */
    MemorySegment host() {
        return host;
    }

    /** The device memory, or null for a host tensor. */
    DeviceArray device() {
        return device;
    }

    @Override
    public String toString() {
        return "ParameterTensor[" + elements + " x " + dtype + (isFp8() ? ", " + scaleCount() + " scales of block "
                + scaleBlock : "") + (device != null ? ", " + device : ", host") + "]";
    }
}
