package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.tokenizer.CompressionTable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * One layer's parameters in device memory, in the layouts the kernels and the projection GEMM take.
 * The key and value projection weights are stacked into one {@code [(G+1)H, E]} matrix
 * ({@code [Wk_0; ..; Wk_{G-1}; Wv]}, each torch-Linear {@code [out, in]}), so one GEMM computes every
 * projection; the biases are added by the gate kernel. Device tensors of the layer's dtype and device are used
 * where they are (not owned, not freed); everything else is copied into buffers this object owns. An fp8 table
 * keeps its bytes: E4M3 codes in {@link #table} and E8M0 scales in {@link #tableScales}, uploaded unchanged (or
 * used in place), dequantized by the gather to the layer's dtype.
 */
final class LayerParameters implements AutoCloseable {
    final DeviceArray lut;                // INT64 [lut size]: the compression table
    final DeviceArray table;              // [totalRows, Dh] (fp8: E4M3 codes), or null when the table lives in host memory
    final DeviceArray tableScales;        // fp8 table: E8M0 [totalRows, Dh / scaleBlock]; else null
    final int scaleBlock;                 // fp8 table: values per scale; else 0
    final DeviceArray projectionWeight;   // [(G+1)H, E]
    final DeviceArray keyBias;            // [G*H]
    final DeviceArray valueBias;          // [H]
    final DeviceArray keyNormWeight;      // [G*H]
    final DeviceArray queryNormWeight;    // [G*H]
    final DeviceArray convNormWeight;     // [G*H]
    final DeviceArray convWeight;         // [G*H, K]
    /** Recorded on the upload stream after the last copy: forwards wait for it, nothing waits on the host. */
    final CudaEvent ready;
    private final List<AutoCloseable> owned;

    private LayerParameters(DeviceArray[] a, DeviceArray tableScales, int scaleBlock, CudaEvent ready,
                            List<AutoCloseable> owned) {
        lut = a[0];
        table = a[1];
        this.tableScales = tableScales;
        this.scaleBlock = scaleBlock;
        projectionWeight = a[2];
        keyBias = a[3];
        valueBias = a[4];
        keyNormWeight = a[5];
        queryNormWeight = a[6];
        convNormWeight = a[7];
        convWeight = a[8];
        this.ready = ready;
        this.owned = owned;
    }

    /**
     * Queues the upload of everything on {@code stream} (on the layer's device, current) and records {@link #ready}.
     * Returns without waiting for the copies.
     */
    static LayerParameters upload(CompressionTable compression, LayerWeights w, EngramConfig c, DType dtype, int device,
                                  boolean withTable, CudaStream stream) {
        checkDeviceTensors(w, dtype, device, withTable); // before anything is allocated
        List<AutoCloseable> owned = new ArrayList<>();
        DeviceArray[] a = new DeviceArray[9];
        try (ParameterUpload upload = new ParameterUpload(stream); Arena arena = Arena.ofConfined()) {
            long[] lutValues = compression.toArray();
            DeviceBuffer lut = own(owned, DeviceBuffer.allocate(lutValues.length, DType.INT64));
            lut.copyFromAsync(arena.allocateFrom(ValueLayout.JAVA_LONG, lutValues), stream); // pageable: taken at once
            a[0] = lut;
            ParameterTensor t = withTable ? w.table() : null;
            DeviceArray scales = null;
            if (t != null && t.isFp8()) {
                a[1] = t.onDevice() ? t.device() : own(owned, DeviceBuffer.allocate(t.elementCount(), DType.FP8_E4M3));
                scales = t.onDevice() ? t.deviceScales()
                        : own(owned, DeviceBuffer.allocate(t.scaleCount(), DType.FP8_E8M0));
                if (!t.onDevice()) upload.copyFp8(t, a[1], scales);
            } else {
                a[1] = t != null ? placed(t, dtype, upload, owned) : null;
            }
            long g = c.hcMult(), h = c.hiddenSize(), e = c.engramHiddenSize();
            DeviceBuffer proj = own(owned, DeviceBuffer.allocate((g + 1) * h * e, dtype));
            upload.copy(w.keyWeight(), proj.slice(0, g * h * e));
            upload.copy(w.valueWeight(), proj.slice(g * h * e, h * e));
            a[2] = proj;
            a[3] = placed(w.keyBias(), dtype, upload, owned);
            a[4] = placed(w.valueBias(), dtype, upload, owned);
            a[5] = placed(w.keyNormWeight(), dtype, upload, owned);
            a[6] = placed(w.queryNormWeight(), dtype, upload, owned);
            a[7] = placed(w.convNormWeight(), dtype, upload, owned);
            a[8] = placed(w.convWeight(), dtype, upload, owned);
            CudaEvent ready = own(owned, CudaEvent.createWithoutTiming());
            ready.record(stream);
            return new LayerParameters(a, scales, scales == null ? 0 : t.scaleBlock(), ready, owned);
        } catch (RuntimeException | Error ex) {
            // Copies already queued still write the buffers: let them finish (this stream only) before freeing.
            List<AutoCloseable> release = new ArrayList<>();
            release.add(stream::synchronize);
            release.addAll(owned.reversed());
            RuntimeException late = Closeables.closeAll(null, release);
            if (late != null) ex.addSuppressed(late);
            throw ex;
        }
    }

    /** Device tensors: on the layer's device and of its dtype (used in place, or copied device to device). */
    private static void checkDeviceTensors(LayerWeights w, DType dtype, int device, boolean withTable) {
        if (withTable && w.table() != null) checkDeviceTensor(w.table(), "table", dtype, device);
        checkDeviceTensor(w.keyWeight(), "keyWeight", dtype, device);
        checkDeviceTensor(w.valueWeight(), "valueWeight", dtype, device);
        checkDeviceTensor(w.keyBias(), "keyBias", dtype, device);
        checkDeviceTensor(w.valueBias(), "valueBias", dtype, device);
        checkDeviceTensor(w.keyNormWeight(), "keyNormWeight", dtype, device);
        checkDeviceTensor(w.queryNormWeight(), "queryNormWeight", dtype, device);
        checkDeviceTensor(w.convNormWeight(), "convNormWeight", dtype, device);
        checkDeviceTensor(w.convWeight(), "convWeight", dtype, device);
    }

    private static void checkDeviceTensor(ParameterTensor t, String name, DType dtype, int device) {
        if (t.isFp8()) { // an fp8 table keeps its dtype; its scales live where its codes do
            onDevice(t, name, device);
            if (t.onDevice()) checkPlace(t.deviceScales(), name + " scales", device);
            return;
        }
        if (onDevice(t, name, device).onDevice() && t.dtype() != dtype) {
            throw new IllegalArgumentException("LayerWeights: " + name + " is " + t.dtype() + " device memory, the layer"
                    + " stores " + dtype + " (pass it in the layer's dtype, or as host memory to be converted)");
        }
    }

    /** A device tensor used where it is (checked by checkDeviceTensors), or a new buffer the host tensor is copied into. */
    private static DeviceArray placed(ParameterTensor t, DType dtype, ParameterUpload upload, List<AutoCloseable> owned) {
        if (t.onDevice()) return t.device();
        DeviceBuffer b = own(owned, DeviceBuffer.allocate(t.elementCount(), dtype));
        upload.copy(t, b);
        return b;
    }

    /** Checks that a device tensor is on the layer's device; returns it. */
    private static ParameterTensor onDevice(ParameterTensor t, String name, int device) {
        if (t.onDevice()) checkPlace(t.device(), name, device);
        return t;
    }

    private static void checkPlace(DeviceArray d, String name, int device) {
        d.address(); // a closed buffer or view is an IllegalStateException here, not a fault later
        if (d.device() != DeviceArray.ANY_DEVICE && d.device() != device) {
            throw new IllegalArgumentException("LayerWeights: " + name + " " + d + " is memory of device " + d.device()
                    + ", the layer is on device " + device);
        }
    }

    /** Sets the table on a gather launch: the float table, or the fp8 codes with their scales. */
    HashedGather.Launch gatherFrom(HashedGather.Launch launch) {
        return tableScales == null ? launch.table(table) : launch.fp8Table(table, tableScales, scaleBlock);
    }

    private static <T extends AutoCloseable> T own(List<AutoCloseable> owned, T resource) {
        owned.add(resource);
        return resource;
    }

    /** Device bytes held (owned buffers only; device tensors used in place are the caller's). */
    long byteSize() {
        return owned.stream().filter(r -> r instanceof DeviceBuffer).mapToLong(r -> ((DeviceBuffer) r).byteSize()).sum();
    }

    @Override
    public void close() {
        RuntimeException failure = Closeables.closeAll(null, owned.reversed());
        if (failure != null) throw failure;
    }
}
