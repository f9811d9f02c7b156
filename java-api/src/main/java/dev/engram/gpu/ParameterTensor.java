package dev.engram.gpu;

import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
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
 */
public final class ParameterTensor {
    private final MemorySegment host;
    private final DeviceArray device;
    private final DType dtype;
    private final long elements;
    private final ProgressListener uploadProgress;

    private ParameterTensor(MemorySegment host, DeviceArray device, DType dtype, long elements,
                            ProgressListener uploadProgress) {
        this.host = host;
        this.device = device;
        this.dtype = dtype;
        this.elements = elements;
        this.uploadProgress = uploadProgress;
    }

    private ParameterTensor(MemorySegment host, DeviceArray device, DType dtype, long elements) {
        this(host, device, dtype, elements, null);
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
     * the tensor's host bytes and {@code done} the bytes read and handed to the driver so far (the last copies may
     * still be in flight then: the layer's creation waits for them). For a table of many gigabytes, where the upload
     * reads a memory-mapped checkpoint from disk.
     *
     * @param listener receives the reports; an exception it throws stops the upload and propagates
     * @throws IllegalArgumentException for a device tensor (it is used in place or copied on the device)
     */
    public ParameterTensor withUploadProgress(ProgressListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (device != null) throw new IllegalArgumentException("a device tensor is not uploaded: " + this);
        return new ParameterTensor(host, null, dtype, elements, listener);
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
        return "ParameterTensor[" + elements + " x " + dtype + (device != null ? ", " + device : ", host") + "]";
    }
}
