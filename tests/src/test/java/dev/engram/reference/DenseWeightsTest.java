package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The split of a layer's parameters into table and dense part, which host-table layers are built from. */
class DenseWeightsTest {
    private static final EngramConfig CONFIG = EngramConfig.small().withCompressedVocabSize(3000);
    private static final NgramHashMapping MAPPING = NgramHashMapping.forCompressedIds(CONFIG);

    @Test
    void createDenseGivesTheArraysOfCreateForTheSameSeed() {
        EngramWeights full = RandomWeights.create(CONFIG, MAPPING.layer(15), 42, 0.3);
        DenseWeights dense = RandomWeights.createDense(CONFIG, 42, 0.3);
        DenseWeights fromFull = full.dense();
        assertArrayEquals(fromFull.keyWeight(), dense.keyWeight());
        assertArrayEquals(fromFull.keyBias(), dense.keyBias());
        assertArrayEquals(fromFull.valueWeight(), dense.valueWeight());
        assertArrayEquals(fromFull.valueBias(), dense.valueBias());
        assertArrayEquals(fromFull.keyNormWeight(), dense.keyNormWeight());
        assertArrayEquals(fromFull.queryNormWeight(), dense.queryNormWeight());
        assertArrayEquals(fromFull.convNormWeight(), dense.convNormWeight());
        assertArrayEquals(fromFull.convWeight(), dense.convWeight());
    }

    @Test
    void denseSharesTheArrays() {
        EngramWeights full = RandomWeights.create(CONFIG, MAPPING.layer(1), 1);
        assertSame(full.keyWeight(), full.dense().keyWeight());
        assertSame(full.convWeight(), full.dense().convWeight());
    }

    @Test
    void shapesAreChecked() {
        DenseWeights d = RandomWeights.createDense(CONFIG, 3, 0);
        var e = assertThrows(IllegalArgumentException.class, () -> new DenseWeights(CONFIG, d.keyWeight(), d.keyBias(),
                d.valueWeight(), new float[1], d.keyNormWeight(), d.queryNormWeight(), d.convNormWeight(), d.convWeight()));
        assertTrue(e.getMessage().startsWith("value_proj.bias has 1 elements"), e.getMessage());
    }
}
