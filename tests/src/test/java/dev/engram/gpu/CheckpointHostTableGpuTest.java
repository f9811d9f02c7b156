package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.bindings.cuda_runtime_h;
import dev.engram.checkpoint.CheckpointHostTable;
import dev.engram.checkpoint.CheckpointHostTable.Placement;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.GpuLayerWeights;
import dev.engram.checkpoint.LayerTensorWriter;
import dev.engram.checkpoint.TableEncoding;
import dev.engram.checkpoint.TableLayout;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.table.HostTable;
import dev.engram.table.ProgressListener;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A {@link HostTableLayer} built from a checkpoint ({@link CheckpointHostTable}, both placements, both gather paths)
 * against the {@link EngramLayer} built from the same checkpoint with {@link GpuLayerWeights} (the table on the
 * device): the same rows reach the same dense part, so the outputs are bit-identical, FLOAT32 and BFLOAT16 (an F32
 * file copied into BFLOAT16 rounds as the device upload does). Outputs are NaN-poisoned before each forward. A
 * registered table owns its mapping: the layers run after the checkpoint is closed, and closing the table
 * unregisters it.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class CheckpointHostTableGpuTest {
    private static final long SEED = 20261207L;
    private static final int LAYER = 15;
    private static final int MAX_TOKENS = 160;

    @TempDir
    Path tmp;

    private static NgramHashMapping mapping() {
        return NgramHashMapping.create(EngramLayerGpuVsCpuTest.config(List.of(3001L, 3011L), 3, 64, 4, 4, 64, 2),
                EngramLayerGpuVsCpuTest.randomLut(SEED, 5000, 4000));
    }

    /** Layer 15 with its table in {@code table} (F32 or BF16), dense tensors F32, names behind {@code e.}. */
    private Path checkpoint(NgramHashMapping mapping, String table) {
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(LAYER), SEED + 1, 0.3);
        Path file = tmp.resolve(table + ".safetensors");
        try (Arena arena = Arena.ofConfined()) {
            EmbeddingRows src = EmbeddingRows.of(w.embedding(), mapping.config().headDim());
            TableEncoding enc = table.equals("F32") ? TableEncoding.float32(src, arena) : TableEncoding.bfloat16(src, arena);
            SafetensorsWriter writer = new SafetensorsWriter();
            LayerTensorWriter.add(writer, "e.", w.dense(), enc, TableLayout.of(mapping.layer(LAYER)), arena);
            writer.write(file);
        }
        return file;
    }

    @ParameterizedTest(name = "{0} file, {1} storage, {2}")
    @CsvSource({"F32, FLOAT32, COPY", "F32, FLOAT32, REGISTER", "BF16, BFLOAT16, COPY", "BF16, BFLOAT16, REGISTER",
            "F32, BFLOAT16, COPY", "BF16, FLOAT32, COPY"})
    void hostTableLayerFromACheckpointEqualsTheDeviceTableLayer(String file, DType storage, Placement placement) {
        NgramHashMapping mapping = mapping();
        Path path = checkpoint(mapping, file);
        List<long[]> reports = new ArrayList<>();
        EngramLayer device = null;
        HostTable table = null;
        List<HostTableLayer> hosts = new ArrayList<>();
        try {
            try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(path); Arena arena = Arena.ofShared()) {
                CheckpointLayer l = CheckpointLayer.open(ckpt, "e.", mapping.config(), TableLayout.of(mapping.layer(LAYER)));
                device = EngramLayer.create(mapping, LAYER, GpuLayerWeights.of(l, storage, arena),
                        EngramLayer.Options.of(MAX_TOKENS).withDtype(storage));
                table = CheckpointHostTable.load(l, placement, storage, (done, total) -> reports.add(new long[] {done, total}));
                for (HostGatherPath p : List.of(HostGatherPath.CPU, HostGatherPath.ZERO_COPY)) {
                    hosts.add(CheckpointHostTable.layer(mapping, l, table,
                            HostTableLayer.Options.of(p, MAX_TOKENS).withGatherThreads(2)));
                }
            } // the checkpoint is closed from here on: neither placement needs it any more
            long total = table.byteSize();
            assertArrayEquals(new long[] {0, total}, reports.getFirst());
            assertArrayEquals(new long[] {total, total}, reports.getLast());
            assertEquals(storage, table.dtype());
            for (HostTableLayer host : hosts) {
                compare(mapping, device, host, storage, file + " file, " + storage + ", " + placement + ", " + host.path());
            }
        } finally {
            for (HostTableLayer h : hosts) h.close();
            if (device != null) device.close();
            if (table != null) table.close();
        }
    }

    static void compare(NgramHashMapping mapping, EngramLayer device, HostTableLayer host, DType dtype, String what) {
        EngramConfig c = mapping.config();
        int[][] shapes = {{2, 33}, {1, 1}, {3, 50}};
        try (CudaStream stream = CudaStream.create()) {
            for (int k = 0; k < shapes.length; k++) {
                int b = shapes[k][0], t = shapes[k][1], act = b * t * c.hcMult() * c.hiddenSize();
                var in = EngramLayerGpuVsCpuTest.Inputs.random(mapping, b * t, act, SEED + 10 + k);
                Prefetch p = host.prefetch(in.ids(), b, t);
                try (DeviceBuffer ids = DeviceBuffer.allocate(b * t, DType.INT64);
                     DeviceBuffer hidden = DeviceBuffer.allocate(act, dtype);
                     DeviceBuffer outHost = EngramLayerGpuVsCpuTest.poisoned(act, dtype);
                     DeviceBuffer outDevice = EngramLayerGpuVsCpuTest.poisoned(act, dtype)) {
                    ids.copyFrom(in.ids());
                    if (dtype == DType.FLOAT32) hidden.copyFrom(in.hidden());
                    else hidden.copyFrom(BFloat16.fromFloats(in.hidden()));
                    Cuda.deviceSynchronize();
                    host.forward(p, hidden, outHost, stream);
                    device.forward(ids, b, t, hidden, outDevice, stream);
                    stream.synchronize();
                    assertBitsEqual(outDevice, outHost, dtype, what + ", B=" + b + " T=" + t);
                }
            }
        }
    }

    /** Bit for bit, and no NaN: the outputs were poisoned, so an unwritten element shows. */
    private static void assertBitsEqual(DeviceBuffer expected, DeviceBuffer actual, DType dtype, String what) {
        int n = (int) expected.elementCount();
        double[] e = DeviceTensors.download(expected), a = DeviceTensors.download(actual);
        for (int i = 0; i < n; i++) {
            boolean same = dtype == DType.FLOAT32
                    ? Float.floatToRawIntBits((float) e[i]) == Float.floatToRawIntBits((float) a[i])
                    : BFloat16.fromFloat((float) e[i]) == BFloat16.fromFloat((float) a[i]); // exact: widened bf16
            if (Double.isNaN(a[i]) || !same) {
                throw new AssertionError(what + ": element " + i + " host-table " + a[i] + " != device-table " + e[i]);
            }
        }
    }

    /** REGISTER pins the table's own read-only mapping in place; closing the table unregisters it. */
    @Test
    void aRegisteredTableIsTheFileInPlaceAndClosingUnregistersIt() {
        NgramHashMapping mapping = mapping();
        Path path = checkpoint(mapping, "BF16");
        HostTable table;
        MemorySegment mapped;
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(path)) {
            CheckpointLayer l = CheckpointLayer.open(ckpt, "e.", mapping.config(), TableLayout.of(mapping.layer(LAYER)));
            mapped = MemorySegment.ofArray(l.data(EngramTensorNames.EMBEDDING_WEIGHT).toArray(ValueLayout.JAVA_BYTE));
            table = CheckpointHostTable.register(l, DType.BFLOAT16, ProgressListener.NONE);
        }
        long address;
        try (HostTable t = table) {
            address = t.segment().address();
            assertEquals(-1, t.segment().mismatch(mapped), "the file's bytes, after the checkpoint was closed");
            assertEquals(address, devicePointer(address), "registered and mapped at its host address");
            assertThrows(RuntimeException.class, () -> t.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1), "read-only");
        }
        assertThrows(IllegalStateException.class, table::segment);
        assertNotEquals(address, devicePointer(address), "no longer registered after close");
    }

    /** {@code cudaHostGetDevicePointer(host)}, or -1 when the runtime says it is not pinned memory. */
    static long devicePointer(long host) {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = cuda_runtime_h.cudaHostGetDevicePointer(out, MemorySegment.ofAddress(host), 0);
            if (status != cuda_runtime_h.cudaSuccess()) {
                cuda_runtime_h.cudaGetLastError(); // expected: keep it from the next launch
                return -1;
            }
            return out.get(ValueLayout.ADDRESS, 0).address();
        }
    }
}
