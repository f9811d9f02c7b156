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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host side of {@link GpuLayerWeights} (no GPU needed): F32 and BF16 tensors are the mapping itself, per-branch
 * and F16 tensors float32 copies, and an fp8 table the mapped codes and scales themselves (not dequantized: the
 * layer's gather does that, see {@link Fp8TableLayerGpuTest}).
 */
class CheckpointLayerWeightsTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort S16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path tmp;

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
                        // passed through as fp8: the mapped codes and scales themselves, whatever the storage dtype
                        MemorySegment mappedScales = l.data(EngramTensorNames.EMBEDDING_SCALE);
                        assertEquals(DType.FP8_E4M3, lw.table().dtype(), what);
                        assertTrue(lw.table().isFp8(), what);
                        assertEquals(4, lw.table().scaleBlock(), what);
                        assertEquals(mappedTable.address(), lw.table().host().address(), what + ": the mapped codes");
                        assertEquals(mappedTable.byteSize(), lw.table().host().byteSize(), what);
                        assertEquals(mappedScales.address(), lw.table().hostScales().address(), what + ": the mapped scales");
                        assertEquals(mappedScales.byteSize(), lw.table().scaleCount(), what);
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
