package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad fp8 tables are refused before anything is allocated, with the problem named (no GPU needed: the checks run
 * before the layer touches CUDA, so here an {@link IllegalArgumentException} and not a missing-device error proves
 * it): scales of the wrong size, a block that does not divide the head dim, codes of the wrong size, a block that
 * cannot be inferred or is below 1, an fp8 tensor other than the table, and an fp8 table given to a layer whose table
 * stays in host memory ({@link HostTableLayer} does not take fp8).
 */
class Fp8TableWeightsTest {
    private final PackedForwardGpuTest.Model m = PackedForwardGpuTest.Model.random(20261206L, DType.BFLOAT16, true);
    private final EngramConfig c = m.config();
    private final long rows = m.mapping().layer(m.layerId()).totalRows();
    private final int d = c.headDim(); // 4 or 8

    private static MemorySegment bytes(long n) {
        return MemorySegment.ofArray(new byte[Math.toIntExact(n)]);
    }

    private String refused(Supplier<ParameterTensor> table) {
        return refusedWeights(() -> Fp8TableLayerGpuTest.dense(m.weights().dense()).table(table.get()).build());
    }

    private String refusedWeights(Supplier<LayerWeights> weights) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EngramLayer.create(m.mapping(), m.layerId(), weights.get(),
                        EngramLayer.Options.of(8).withDtype(DType.BFLOAT16)));
        return e.getMessage();
    }

    @Test
    void goodShapesPassTheChecks() {
        LayerWeights w = Fp8TableLayerGpuTest.dense(m.weights().dense())
                .table(ParameterTensor.ofFp8Host(bytes(rows * d), bytes(rows * 2))).build();
        w.checkShapes(c, rows, true); // no exception
        assertEquals(d / 2, w.table().scaleBlock(), "block inferred from the sizes");
        assertEquals(rows * 2, w.table().scaleCount());
    }

    @Test
    void scalesOfTheWrongSize() {
        String msg = refused(() -> ParameterTensor.ofFp8Host(bytes(rows * d), bytes(rows * 2 - 1), d / 2));
        assertTrue(msg.contains("fp8 table has " + (rows * 2 - 1) + " scales, expected " + rows * 2), msg);
    }

    @Test
    void blockNotDividingTheHeadDim() {
        String msg = refused(() -> ParameterTensor.ofFp8Host(bytes(rows * d), bytes(rows), 3));
        assertTrue(msg.contains("block 3 does not divide head dim " + d), msg);
        // inferred: 2 * rows * d codes over rows scales is a block of 2d, more than a row
        msg = refused(() -> ParameterTensor.ofFp8Host(bytes(2 * rows * d), bytes(rows)));
        assertTrue(msg.contains("does not divide head dim"), msg);
    }

    @Test
    void codesOfTheWrongSize() {
        String msg = refused(() -> ParameterTensor.ofFp8Host(bytes(rows * d - d), bytes(rows - 1), d));
        assertTrue(msg.contains("table has " + (rows * d - d) + " elements"), msg);
    }

    @Test
    void blockThatCannotBeInferredOrIsBelowOne() {
        assertThrows(IllegalArgumentException.class, () -> ParameterTensor.ofFp8Host(bytes(rows * d), bytes(0)));
        assertThrows(IllegalArgumentException.class, () -> ParameterTensor.ofFp8Host(bytes(7), bytes(2)));
        assertThrows(IllegalArgumentException.class, () -> ParameterTensor.ofFp8Host(bytes(rows * d), bytes(rows), 0));
    }

    @Test
    void onlyTheTableMayBeFp8() {
        String msg = refusedWeights(() -> Fp8TableLayerGpuTest.dense(m.weights().dense())
                .table(ParameterTensor.of(m.weights().embedding()))
                .keyBias(ParameterTensor.ofFp8Host(bytes(c.hcMult() * c.hiddenSize()), bytes(1), 1)).build());
        assertTrue(msg.contains("keyBias is an fp8 tensor: only the table may be fp8"), msg);
    }

    @Test
    void aHostTableLayerRefusesAnFp8Table() {
        LayerWeights w = Fp8TableLayerGpuTest.dense(m.weights().dense())
                .table(ParameterTensor.ofFp8Host(bytes(rows * d), bytes(rows), d)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.checkShapes(c, rows, false));
        assertTrue(e.getMessage().contains("keeps its table in host memory"), e.getMessage());
    }
}
