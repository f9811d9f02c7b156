package dev.engram.checkpoint;

import dev.engram.hash.NgramHashMapping;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.LayerPrefix;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsException;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.EmbeddingRows;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.table.Fp8Table;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CheckpointLayer} on small random layers: dense tensors in F32, BF16 and F16 and tables in F32, BF16 and fp8
 * read back exactly, so the reference on the checkpoint equals (bit for bit) the reference on the arrays; the table
 * layout needs no compression table; problems carry the file and the tensor.
 */
class CheckpointLayerTest {
    private static final Map<String, SafetensorsDType> MIXED = Map.of(
            EngramTensorNames.VALUE_PROJ_WEIGHT, SafetensorsDType.F16,
            EngramTensorNames.keyProjWeight(1), SafetensorsDType.BF16,
            EngramTensorNames.norm2Weight(0), SafetensorsDType.F16,
            EngramTensorNames.SHORT_CONV_WEIGHT, SafetensorsDType.BF16,
            EngramTensorNames.VALUE_PROJ_BIAS, SafetensorsDType.BF16);

    @TempDir
    Path tmp;

    @Test
    void tableLayoutNeedsNoCompressionTable() {
        NgramHashMapping mapping = LayerCheckpoints.mapping();
        Map<Integer, TableLayout> layouts = TableLayout.of(LayerCheckpoints.CONFIG);
        assertEquals(List.of(2, 5), List.copyOf(layouts.keySet()));
        for (int id : mapping.layerIds()) {
            assertEquals(TableLayout.of(mapping.layer(id)), layouts.get(id));
            assertEquals(mapping.layer(id).totalRows(), TableLayout.of(LayerCheckpoints.CONFIG, id).rows());
        }
        assertThrows(IllegalArgumentException.class, () -> TableLayout.of(LayerCheckpoints.CONFIG, 3));
    }

    @Test
    void mixedDtypesReadBackExactlyAndGiveTheReferenceForward() {
        NgramHashMapping mapping = LayerCheckpoints.mapping();
        EngramWeights w2 = LayerCheckpoints.weights(2, 11), w5 = LayerCheckpoints.weights(5, 12);
        Path file = tmp.resolve("mixed.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter writer = new SafetensorsWriter();
            LayerCheckpoints.add(writer, 2, w2.dense(), TableEncoding.bfloat16(EmbeddingRows.of(w2.embedding(), 8), arena),
                    MIXED, arena);
            LayerCheckpoints.add(writer, 5, w5.dense(), TableEncoding.fp8(EmbeddingRows.of(w5.embedding(), 8), 4, arena),
                    MIXED, arena);
            writer.write(file);
        }
        long[] ids = new SplittableRandom(3).longs(2 * 7, 0, 97).toArray();
        double[] hidden = new SplittableRandom(4).doubles(2 * 7 * 2 * 16, -2, 2).toArray();
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file); Arena arena = Arena.ofConfined()) {
            LayerPrefix prefix = LayerPrefix.of(LayerCheckpoints.PREFIX);
            assertEquals(List.of(2, 5), prefix.layers(ckpt));

            CheckpointLayer l2 = CheckpointLayer.open(ckpt, prefix, LayerCheckpoints.CONFIG, mapping.layer(2));
            assertEquals(SafetensorsDType.BF16, l2.tableDtype());
            assertTrue(l2.fp8Block().isEmpty());
            assertEquals(SafetensorsDType.F16, l2.tensor(EngramTensorNames.VALUE_PROJ_WEIGHT).dtype());
            assertDense(w2, l2);
            assertArrayEquals(bits(new ReferenceEngramLayer(mapping, 2, w2).forward(ids, hidden, 2, 7)),
                    bits(new ReferenceEngramLayer(mapping, 2, l2.denseWeights(), l2.table()).forward(ids, hidden, 2, 7)),
                    "bf16 table: the reference on the checkpoint is the reference on the arrays");

            CheckpointLayer l5 = CheckpointLayer.open(ckpt, "model.layers.5.engram.", LayerCheckpoints.CONFIG,
                    TableLayout.of(LayerCheckpoints.CONFIG, 5));
            assertEquals(SafetensorsDType.F8_E4M3, l5.tableDtype());
            assertEquals(4, l5.fp8Block().getAsInt());
            assertDense(w5, l5);
            Fp8Table expected = Fp8Table.quantize(w5.embedding(), 8, 4, arena);
            Fp8Table actual = l5.fp8Table();
            assertEquals(-1, expected.values().mismatch(actual.values()), "the very E4M3 bytes of Fp8Table.quantize");
            assertEquals(-1, expected.scales().mismatch(actual.scales()), "the very E8M0 bytes");
            assertTrue(actual.values().address() == ckpt.data("model.layers.5.engram."
                    + EngramTensorNames.EMBEDDING_WEIGHT).address(), "the fp8 table reads the mapping in place");
            assertArrayEquals(bits(new ReferenceEngramLayer(mapping, 5, w5.dense(), EmbeddingRows.of(expected.toFloats(), 8))
                            .forward(ids, hidden, 2, 7)),
                    bits(new ReferenceEngramLayer(mapping, 5, l5.denseWeights(), l5.table()).forward(ids, hidden, 2, 7)),
                    "fp8 table: the reference on the checkpoint is the reference on the dequantized floats");
            assertTrue(l5.toString().contains("F8_E4M3 [" + mapping.layer(5).totalRows() + ", 8] block 4"), l5.toString());
        }
    }

    @Test
    void problemsNameFileAndTensorAndOpenThrowsTheFirst() {
        EngramWeights w = LayerCheckpoints.weights(2, 1);
        Path file = tmp.resolve("bad.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter writer = new SafetensorsWriter();
            LayerTensorWriter.add(writer, "x.", w.dense(), TableEncoding.float32(EmbeddingRows.of(w.embedding(), 8), arena),
                    TableLayout.of(LayerCheckpoints.CONFIG, 2), arena);
            writer.add("x.key_projs.2.bias", SafetensorsDType.F32, new long[] {16}, arena.allocate(64));
            writer.write(file);
        }
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            // Layer 5's layout: more rows than layer 2's table, other offsets.
            TableLayout other = TableLayout.of(LayerCheckpoints.CONFIG, 5);
            List<LayerProblem> problems = CheckpointLayer.check(ckpt, "x.", LayerCheckpoints.CONFIG, other);
            assertEquals(3, problems.size(), problems.toString());
            assertEquals("x.multi_head_embedding.embedding.weight", problems.get(0).tensor());
            assertTrue(problems.get(0).problem().startsWith("shape [" + TableLayout.of(LayerCheckpoints.CONFIG, 2).rows()
                    + ", 8] does not fit the config: expected [" + other.rows() + ", 8]"), problems.get(0).problem());
            assertEquals("x.multi_head_embedding.offsets", problems.get(1).tensor());
            assertTrue(problems.get(1).problem().contains("differ from layer 5's"), problems.get(1).problem());
            assertEquals("x.key_projs.2.bias", problems.get(2).tensor());
            assertTrue(problems.get(2).problem().startsWith("unexpected tensor F32 [16]"), problems.get(2).problem());
            for (LayerProblem p : problems) {
                assertEquals(file, p.file());
                assertTrue(p.toString().startsWith(file + ": tensor \"" + p.tensor() + "\": "), p.toString());
            }
            SafetensorsException e = assertThrows(SafetensorsException.class,
                    () -> CheckpointLayer.open(ckpt, "x.", LayerCheckpoints.CONFIG, other));
            assertEquals(file, e.file());
            assertEquals("x.multi_head_embedding.embedding.weight", e.tensor().orElseThrow());
            assertTrue(e.getMessage().endsWith("(and 2 more problems with this layer; `engram inspect` lists them)"),
                    e.getMessage());
            List<LayerProblem> own = CheckpointLayer.check(ckpt, "x.", LayerCheckpoints.CONFIG,
                    TableLayout.of(LayerCheckpoints.CONFIG, 2));
            assertEquals(List.of("x.key_projs.2.bias"), own.stream().map(LayerProblem::tensor).toList(), own.toString());
        }
    }

    @Test
    void nanScaleByteNamesTheScaleTensorAndItsFile() {
        EngramWeights w = LayerCheckpoints.weights(2, 5);
        Path file = tmp.resolve("nan.safetensors");
        long rows = TableLayout.of(LayerCheckpoints.CONFIG, 2).rows();
        try (Arena arena = Arena.ofConfined()) {
            TableEncoding t = TableEncoding.fp8(EmbeddingRows.of(w.embedding(), 8), 8, arena);
            MemorySegment scales = t.scales().orElseThrow();
            scales.set(java.lang.foreign.ValueLayout.JAVA_BYTE, rows - 1, (byte) 255);
            SafetensorsWriter writer = new SafetensorsWriter();
            LayerTensorWriter.add(writer, "l.", w.dense(), t, TableLayout.of(LayerCheckpoints.CONFIG, 2), arena);
            writer.write(file);
        }
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file)) {
            CheckpointLayer l = CheckpointLayer.open(ckpt, "l.", LayerCheckpoints.CONFIG, TableLayout.of(LayerCheckpoints.CONFIG, 2));
            SafetensorsException e = assertThrows(SafetensorsException.class, l::table);
            assertEquals(file, e.file());
            assertEquals("l.multi_head_embedding.embedding.scale", e.tensor().orElseThrow());
            assertEquals(file + ": tensor \"l.multi_head_embedding.embedding.scale\": scale byte 255 (NaN) at row "
                    + (rows - 1) + ", block 0", e.getMessage());
        }
    }

    private static void assertDense(EngramWeights w, CheckpointLayer l) {
        var d = l.denseWeights();
        assertArrayEquals(w.keyWeight(), d.keyWeight());
        assertArrayEquals(w.keyBias(), d.keyBias());
        assertArrayEquals(w.valueWeight(), d.valueWeight());
        assertArrayEquals(w.valueBias(), d.valueBias());
        assertArrayEquals(w.keyNormWeight(), d.keyNormWeight());
        assertArrayEquals(w.queryNormWeight(), d.queryNormWeight());
        assertArrayEquals(w.convNormWeight(), d.convNormWeight());
        assertArrayEquals(w.convWeight(), d.convWeight());
    }

    private static long[] bits(double[] v) {
        long[] b = new long[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Double.doubleToRawLongBits(v[i]);
        return b;
    }
}
