package dev.engram.gpu;

import dev.engram.bindings.cuda_runtime_h;
import dev.engram.checkpoint.CheckpointHostTable;
import dev.engram.checkpoint.CheckpointHostTable.Placement;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.GpuLayerWeights;
import dev.engram.checkpoint.LayerTensorWriter;
import dev.engram.checkpoint.TableEncoding;
import dev.engram.checkpoint.TableLayout;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.DType;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsException;
import dev.engram.io.SafetensorsWriter;
import dev.engram.io.TensorInfo;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.ProgressListener;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@link HostTableLayer} over an fp8 checkpoint's table in host memory ({@link CheckpointHostTable#loadFp8}: COPY
 * into pinned huge pages, REGISTER of the codes' and the scales' file ranges in place; CPU and ZERO_COPY paths;
 * FLOAT32 and BFLOAT16 compute; blocks of a row, 4 values and one) against the {@link EngramLayer} built from the same
 * checkpoint with {@link GpuLayerWeights} (the fp8 table on the device): bit-identical outputs, poisoned before each
 * forward (the comparison of {@link CheckpointHostTableGpuTest}). A registered fp8 table is both ranges of the file,
 * pinned and mapped at their host addresses, read-only, unregistered on close; a NaN scale byte is refused by both
 * placements, named by row and block.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class CheckpointFp8HostTableGpuTest {
    private static final long SEED = 20261208L;
    private static final int LAYER = 15;
    private static final int MAX_TOKENS = 160;

    @TempDir
    Path tmp;

    private static NgramHashMapping mapping() {
        return NgramHashMapping.create(EngramLayerGpuVsCpuTest.config(List.of(3001L, 3011L), 3, 64, 4, 4, 64, 2),
                EngramLayerGpuVsCpuTest.randomLut(SEED, 5000, 4000));
    }

    /** Layer 15 with an fp8 table of {@code block} values per scale, dense tensors F32, names behind {@code e.}. */
    private Path checkpoint(NgramHashMapping mapping, int block) {
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(LAYER), SEED + 1, 0.3);
        Path file = tmp.resolve("fp8-" + block + ".safetensors");
        try (Arena arena = Arena.ofConfined()) {
            EmbeddingRows src = EmbeddingRows.of(w.embedding(), mapping.config().headDim());
            SafetensorsWriter writer = new SafetensorsWriter();
            LayerTensorWriter.add(writer, "e.", w.dense(), TableEncoding.fp8(src, block, arena),
                    TableLayout.of(mapping.layer(LAYER)), arena);
            writer.write(file);
        }
        return file;
    }

    private static CheckpointLayer open(SafetensorsCheckpoint ckpt, NgramHashMapping mapping) {
        return CheckpointLayer.open(ckpt, "e.", mapping.config(), TableLayout.of(mapping.layer(LAYER)));
    }

    @ParameterizedTest(name = "block {0}, {1} compute, {2}")
    @CsvSource({"16, FLOAT32, COPY", "16, FLOAT32, REGISTER", "16, BFLOAT16, COPY", "16, BFLOAT16, REGISTER",
            "4, FLOAT32, COPY", "4, BFLOAT16, REGISTER", "1, BFLOAT16, COPY"})
    void hostTableLayerFromAnFp8CheckpointEqualsTheDeviceTableLayer(int block, DType dtype, Placement placement) {
        NgramHashMapping mapping = mapping();
        assertEquals(16, mapping.config().headDim(), "block 16 is a whole row");
        Path path = checkpoint(mapping, block);
        List<long[]> reports = new ArrayList<>();
        EngramLayer device = null;
        Fp8HostTable table = null;
        List<HostTableLayer> hosts = new ArrayList<>();
        long fileBytes;
        try {
            try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(path); Arena arena = Arena.ofShared()) {
                CheckpointLayer l = open(ckpt, mapping);
                fileBytes = l.tensor(EngramTensorNames.EMBEDDING_WEIGHT).byteSize()
                        + l.tensor(EngramTensorNames.EMBEDDING_SCALE).byteSize();
                device = EngramLayer.create(mapping, LAYER, GpuLayerWeights.of(l, dtype, arena),
                        EngramLayer.Options.of(MAX_TOKENS).withDtype(dtype));
                table = CheckpointHostTable.loadFp8(l, placement, (done, total) -> reports.add(new long[] {done, total}));
                for (HostGatherPath p : List.of(HostGatherPath.CPU, HostGatherPath.ZERO_COPY)) {
                    hosts.add(CheckpointHostTable.layer(mapping, l, table, dtype,
                            HostTableLayer.Options.of(p, MAX_TOKENS).withGatherThreads(2)));
                }
            } // the checkpoint is closed from here on: neither placement needs it any more
            assertArrayEquals(new long[] {0, fileBytes}, reports.getFirst());
            assertArrayEquals(new long[] {fileBytes, fileBytes}, reports.getLast());
            assertEquals(block, table.block());
            for (HostTableLayer host : hosts) {
                assertTrue(host.isFp8());
                CheckpointHostTableGpuTest.compare(mapping, device, host, dtype,
                        "fp8 block " + block + ", " + dtype + ", " + placement + ", " + host.path());
            }
        } finally {
            for (HostTableLayer h : hosts) h.close();
            if (device != null) device.close();
            if (table != null) table.close();
        }
    }

    /** REGISTER pins the codes' and the scales' read-only mappings in place; closing the table unregisters both. */
    @Test
    void aRegisteredFp8TableIsBothRangesOfTheFileInPlaceAndClosingUnregistersThem() {
        NgramHashMapping mapping = mapping();
        Path path = checkpoint(mapping, 4);
        Fp8HostTable table;
        MemorySegment codes, scales;
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(path)) {
            CheckpointLayer l = open(ckpt, mapping);
            codes = MemorySegment.ofArray(l.data(EngramTensorNames.EMBEDDING_WEIGHT).toArray(ValueLayout.JAVA_BYTE));
            scales = MemorySegment.ofArray(l.data(EngramTensorNames.EMBEDDING_SCALE).toArray(ValueLayout.JAVA_BYTE));
            table = CheckpointHostTable.registerFp8(l, ProgressListener.NONE);
        }
        long codesAt, scalesAt;
        try (Fp8HostTable t = table) {
            codesAt = t.codes().address();
            scalesAt = t.scales().address();
            assertEquals(-1, t.codes().mismatch(codes), "the file's codes, after the checkpoint was closed");
            assertEquals(-1, t.scales().mismatch(scales), "the file's scales");
            assertEquals(codes.byteSize() + scales.byteSize(), t.byteSize());
            assertEquals(codesAt, CheckpointHostTableGpuTest.devicePointer(codesAt), "codes registered and mapped");
            assertEquals(scalesAt, CheckpointHostTableGpuTest.devicePointer(scalesAt), "scales registered and mapped");
            assertThrows(RuntimeException.class, () -> t.codes().set(ValueLayout.JAVA_BYTE, 0, (byte) 1), "read-only");
            assertThrows(RuntimeException.class, () -> t.scales().set(ValueLayout.JAVA_BYTE, 0, (byte) 1), "read-only");
        }
        assertThrows(IllegalStateException.class, table::codes);
        assertNotEquals(codesAt, CheckpointHostTableGpuTest.devicePointer(codesAt), "codes unregistered after close");
        assertNotEquals(scalesAt, CheckpointHostTableGpuTest.devicePointer(scalesAt), "scales unregistered after close");
    }

    @Test
    void aNanScaleByteIsRefusedByBothPlacementsNamingRowAndBlock() {
        NgramHashMapping mapping = mapping();
        Path path = checkpoint(mapping, 4); // 4 blocks a row
        TensorInfo scale;
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(path)) {
            scale = open(ckpt, mapping).tensor(EngramTensorNames.EMBEDDING_SCALE);
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) 0xFF}), scale.fileOffset() + 4L * 777 + 1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(path)) {
            CheckpointLayer l = open(ckpt, mapping);
            for (Placement p : Placement.values()) {
                var e = assertThrows(SafetensorsException.class,
                        () -> CheckpointHostTable.loadFp8(l, p, ProgressListener.NONE), p.name());
                assertTrue(e.getMessage().contains(scale.name())
                        && e.getMessage().contains("scale byte 255 (NaN) at row 777, block 1"), e.getMessage());
            }
        }
        Cuda.check("after the refusals", cuda_runtime_h.cudaGetLastError());
    }
}
