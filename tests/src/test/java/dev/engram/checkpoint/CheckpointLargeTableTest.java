package dev.engram.checkpoint;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import dev.engram.gpu.LayerWeights;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsDType;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.table.Fp8;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A layer whose table has more than 2^31 elements (8.4 M rows of 256), BF16 (4.3 GB) or fp8 (2.15 GB), in a sparse
 * file: the checkpoint layer reads it in place (its last row is the one written at the end of the file), the CPU
 * reference runs a forward on it, and the GPU weights hand the mapped BF16 table over without a copy.
 */
class CheckpointLargeTableTest {
    private static final int DIM = 256;
    /** One head of 8.4 M rows: 2.15 G elements. */
    private static final EngramConfig CONFIG = new EngramConfig(List.of(8_400_000L), 2, DIM, 1, List.of(0), 0, 0, 2, 8, 1,
            OptionalLong.of(50), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"BF16", "F8_E4M3"})
    void tablesBeyondTwoToTheThirtyOneElements(String dtypeName) throws IOException {
        SafetensorsDType dtype = SafetensorsDType.valueOf(dtypeName);
        TableLayout layout = TableLayout.of(CONFIG, 0);
        long rows = layout.rows(), elements = rows * DIM;
        assertTrue(elements > Integer.MAX_VALUE, elements + " elements");
        long tableBytes = elements * dtype.byteSize();
        long usable = Files.getFileStore(dir).getUsableSpace();
        assumeTrue(usable > tableBytes + (1L << 30), "needs " + (tableBytes >> 20) + " MiB free in " + dir + " in case the"
                + " file system has no sparse files; " + (usable >> 20) + " MiB free");

        DenseWeights dense = RandomWeights.createDense(CONFIG, 5, 0.3);
        Path file = dir.resolve("large.safetensors");
        boolean fp8 = dtype == SafetensorsDType.F8_E4M3;
        byte[] lastRow = new byte[DIM * dtype.byteSize()];
        ByteBuffer last = ByteBuffer.wrap(lastRow).order(ByteOrder.LITTLE_ENDIAN);
        for (int d = 0; d < DIM; d++) {
            if (fp8) last.put((byte) (d % 0x70)); // finite codes 0x00..0x6F
            else last.putShort(BFloat16.fromFloat((d - 100) * 0.25f));
        }
        writeSparse(file, dense, dtype, rows, lastRow);

        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file); Arena arena = Arena.ofShared()) {
            CheckpointLayer layer = CheckpointLayer.open(ckpt, "m.0.", CONFIG, layout);
            assertEquals(dtype, layer.tableDtype());
            var table = layer.table();
            assertEquals(rows, table.rows());
            double[] row = new double[DIM];
            table.readRow(rows - 1, row, 0);
            for (int d = 0; d < DIM; d++) {
                double expected = fp8 ? Fp8.dequantize((byte) (d % 0x70), (byte) 127) : (d - 100) * 0.25;
                assertEquals(expected, row[d], "last row, value " + d);
            }
            table.readRow(rows / 2, row, 0);
            for (double v : row) assertEquals(0.0, v, "a row in the hole");

            NgramHashMapping mapping = NgramHashMapping.forCompressedIds(CONFIG);
            double[] out = new ReferenceEngramLayer(mapping, 0, layer.denseWeights(), table)
                    .forward(new long[] {3, 17, 42, 7}, new double[4 * 8], 1, 4);
            for (double v : out) assertTrue(Double.isFinite(v));

            if (!fp8) { // an fp8 table would be dequantized to 4.3 GB here; the BF16 one is the mapping itself
                LayerWeights w = GpuLayerWeights.of(layer, DType.BFLOAT16, arena);
                assertEquals(elements, w.table().elementCount());
                assertEquals(DType.BFLOAT16, w.table().dtype());
            }
        }
    }

    /** Dense tensors (F32), for fp8 the scales (byte 0, the last row's 127), then the table: a hole but its last row. */
    private static void writeSparse(Path file, DenseWeights d, SafetensorsDType dtype, long rows, byte[] lastRow)
            throws IOException {
        List<Entry> entries = new ArrayList<>();
        int h = 8;
        entries.add(f32("key_projs.0.weight", d.keyWeight(), h, DIM));
        entries.add(f32("key_projs.0.bias", d.keyBias(), h));
        entries.add(f32("value_proj.weight", d.valueWeight(), h, DIM));
        entries.add(f32("value_proj.bias", d.valueBias(), h));
        entries.add(f32("norm1.0.weight", d.keyNormWeight(), h));
        entries.add(f32("norm2.0.weight", d.queryNormWeight(), h));
        entries.add(f32("short_conv.norms.0.weight", d.convNormWeight(), h));
        entries.add(f32("short_conv.conv.weight", d.convWeight(), h, 1, 2));
        List<Entry> all = new ArrayList<>(entries);
        if (dtype == SafetensorsDType.F8_E4M3) {
            byte[] scales = new byte[(int) rows];
            scales[(int) rows - 1] = 127;
            all.add(new Entry("multi_head_embedding.embedding.scale", SafetensorsDType.F8_E8M0, new long[] {rows, 1},
                    scales, rows));
        }
        long tableBytes = rows * DIM * dtype.byteSize();
        all.add(new Entry("multi_head_embedding.embedding.weight", dtype, new long[] {rows, DIM}, null, tableBytes));

        StringBuilder json = new StringBuilder("{");
        long offset = 0;
        for (Entry e : all) {
            if (json.length() > 1) json.append(',');
            json.append('"').append("m.0.").append(e.name()).append("\":{\"dtype\":\"").append(e.dtype()).append("\",\"shape\":")
                    .append(java.util.Arrays.toString(e.shape()).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(offset).append(',').append(offset + e.bytes()).append("]}");
            offset += e.bytes();
        }
        json.append('}');
        while (json.length() % 8 != 0) json.append(' ');
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            raf.write(header);
            for (Entry e : all) if (e.data() != null) raf.write(e.data());
            long tableStart = 8 + header.length + offset - tableBytes;
            raf.seek(tableStart + tableBytes - lastRow.length);
            raf.write(lastRow);
        }
    }

    /** One tensor of the file; {@code data} null for the sparse table. */
    private record Entry(String name, SafetensorsDType dtype, long[] shape, byte[] data, long bytes) {}

    private static Entry f32(String name, float[] v, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return new Entry(name, SafetensorsDType.F32, shape, b.array(), 4L * v.length);
    }
}
