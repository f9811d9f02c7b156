package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.GpuLayerWeights;
import dev.engram.checkpoint.LayerTensorWriter;
import dev.engram.checkpoint.TableEncoding;
import dev.engram.checkpoint.TableLayout;
import dev.engram.cuda.DType;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.RandomWeights;
import dev.engram.table.Fp8;
import dev.engram.table.Fp8Table;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The host side of {@link GpuLayerWeights} (no GPU needed): F32 and BF16 tensors are the mapping itself, per-branch
 * and F16 tensors float32 copies, and an fp8 table dequantized exactly as {@link Fp8} defines it, in float32 and bf16,
 * for every E4M3 code (NaNs included) times scale bytes from 0 to 254, filled in parallel or on the calling thread.
 */
class CheckpointLayerWeightsTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort S16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path tmp;

    @Test
    void everyE4m3CodeTimesManyScalesDequantizesAsFp8Defines() {
        int rows = 255, dim = 256; // row r: every code, scale byte r (0..254)
        try (Arena shared = Arena.ofShared()) {
            MemorySegment values = shared.allocate((long) rows * dim), scales = shared.allocate(rows);
            for (int r = 0; r < rows; r++) {
                for (int d = 0; d < dim; d++) values.set(ValueLayout.JAVA_BYTE, (long) r * dim + d, (byte) d);
                scales.set(ValueLayout.JAVA_BYTE, r, (byte) r);
            }
            Fp8Table t = Fp8Table.of(values, scales, rows, dim, dim);
            for (Arena arena : new Arena[] {shared, Arena.ofConfined()}) {
                MemorySegment f = GpuLayerWeights.dequantize(t, DType.FLOAT32, arena);
                MemorySegment b = GpuLayerWeights.dequantize(t, DType.BFLOAT16, arena);
                for (int r = 0; r < rows; r++) {
                    for (int d = 0; d < dim; d++) {
                        long i = (long) r * dim + d;
                        float expected = Fp8.dequantizeFloat((byte) d, (byte) r);
                        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(f.get(F32, 4 * i)),
                                "float32 of code " + d + " scale " + r);
                        assertEquals(Fp8.dequantizeBf16((byte) d, (byte) r), b.get(S16, 2 * i), "bf16 of code " + d + " scale " + r);
                    }
                }
                if (arena != shared) arena.close();
            }
            assertThrows(IllegalArgumentException.class, () -> GpuLayerWeights.dequantize(t, DType.INT64, shared));
        }
    }

    @Test
    void mappedTensorsAreUsedInPlaceOthersConvertedOnce() {
        EngramConfig c = EngramConfig.small();
        TableLayout layout = TableLayout.of(c, 15);
        var hashing = dev.engram.hash.LayerHashing.of(15, new long[0], dev.engram.hash.PrimeModuli.compute(c).get(15));
        var w = RandomWeights.create(c, hashing, 9, 0.3);
        Path file = tmp.resolve("l.safetensors");
        for (String table : new String[] {"F32", "BF16", "F8_E4M3"}) {
            try (Arena arena = Arena.ofConfined()) {
                EmbeddingRows src = EmbeddingRows.of(w.embedding(), c.headDim());
                TableEncoding enc = switch (table) {
                    case "F32" -> TableEncoding.float32(src, arena);
                    case "BF16" -> TableEncoding.bfloat16(src, arena);
                    default -> TableEncoding.fp8(src, 4, arena);
                };
                SafetensorsWriter writer = new SafetensorsWriter();
                LayerTensorWriter.add(writer, "e.", w.dense(), enc, layout, arena);
                writer.write(file);
            }
            try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file); Arena arena = Arena.ofShared()) {
                CheckpointLayer l = CheckpointLayer.open(ckpt, "e.", c, layout);
                for (DType storage : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                    LayerWeights lw = GpuLayerWeights.of(l, storage, arena);
                    lw.checkShapes(c, layout.rows(), true);
                    MemorySegment mappedTable = l.data(EngramTensorNames.EMBEDDING_WEIGHT);
                    String what = table + " table, " + storage;
                    if (table.equals("F8_E4M3")) {
                        assertEquals(storage, lw.table().dtype(), what);
                        assertNotEquals(mappedTable.address(), lw.table().host().address(), what + ": dequantized copy");
                        MemorySegment expected = GpuLayerWeights.dequantize(l.fp8Table(), storage, arena);
                        assertEquals(-1, expected.mismatch(lw.table().host()), what);
                    } else {
                        assertEquals(table.equals("F32") ? DType.FLOAT32 : DType.BFLOAT16, lw.table().dtype(), what);
                        assertEquals(mappedTable.address(), lw.table().host().address(), what + ": the mapping itself");
                        assertEquals(mappedTable.byteSize(), lw.table().host().byteSize(), what);
                    }
                    assertEquals(l.data(EngramTensorNames.VALUE_PROJ_WEIGHT).address(), lw.valueWeight().host().address(),
                            "value_proj.weight F32: in place");
                    DenseWeights d = w.dense();
                    assertFloats(d.keyWeight(), lw.keyWeight(), "key_projs stacked");
                    assertFloats(d.convNormWeight(), lw.convNormWeight(), "conv norms stacked");
                    assertFloats(d.convWeight(), lw.convWeight(), "conv weight");
                }
            }
        }
    }

    private static void assertFloats(float[] expected, ParameterTensor t, String what) {
        assertEquals(DType.FLOAT32, t.dtype(), what);
        assertEquals(expected.length, t.elementCount(), what);
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], t.host().get(F32, 4L * i), what + " [" + i + "]");
    }

    @Test
    void f16DenseTensorsAreConvertedToFloat32() {
        EngramConfig c = EngramConfig.small();
        TableLayout layout = TableLayout.of(c, 1);
        var hashing = dev.engram.hash.LayerHashing.of(1, new long[0], dev.engram.hash.PrimeModuli.compute(c).get(1));
        var w = RandomWeights.create(c, hashing, 3, 0.3);
        Path file = tmp.resolve("f16.safetensors");
        float[] v = w.valueWeight();
        short[] half = new short[v.length];
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter all = new SafetensorsWriter();
            LayerTensorWriter.add(all, "p.", w.dense(), TableEncoding.bfloat16(EmbeddingRows.of(w.embedding(), 8), arena),
                    layout, arena);
            Path f32 = tmp.resolve("f32.safetensors");
            all.write(f32);
            for (int i = 0; i < v.length; i++) half[i] = Float.floatToFloat16(v[i]);
            SafetensorsWriter out = new SafetensorsWriter();
            try (SafetensorsCheckpoint src = SafetensorsCheckpoint.open(f32)) {
                for (var t : src.tensors()) {
                    if (t.name().equals("p.value_proj.weight")) {
                        out.add(t.name(), SafetensorsDType.F16, t.shape(), MemorySegment.ofArray(half));
                    } else {
                        out.add(t.name(), t.dtype(), t.shape(), src.data(t.name()));
                    }
                }
                out.write(file);
            }
        }
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file); Arena arena = Arena.ofConfined()) {
            CheckpointLayer l = CheckpointLayer.open(ckpt, "p.", c, layout);
            LayerWeights lw = GpuLayerWeights.of(l, DType.BFLOAT16, arena);
            float[] expected = new float[half.length];
            for (int i = 0; i < half.length; i++) expected[i] = Float.float16ToFloat(half[i]);
            assertFloats(expected, lw.valueWeight(), "F16 value_proj.weight as float32");
            assertEquals(DType.BFLOAT16, lw.table().dtype(), "a BF16 table stays BF16 (the layer converts on upload)");
            float[] fromReference = l.denseWeights().valueWeight();
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], fromReference[i]);
        }
    }
}
