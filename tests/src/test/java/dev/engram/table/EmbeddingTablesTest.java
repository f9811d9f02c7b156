package dev.engram.table;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Host tables from the reference's float32 embedding: exact for FLOAT32, round-to-nearest-even for BFLOAT16. */
class EmbeddingTablesTest {
    private static final EngramConfig CONFIG = EngramConfig.small().withCompressedVocabSize(5000);
    private static final NgramHashMapping MAPPING = NgramHashMapping.forCompressedIds(CONFIG);
    private static final EngramWeights WEIGHTS = RandomWeights.create(CONFIG, MAPPING.layer(15), 3);

    @Test
    void float32IsAnExactCopy() {
        try (HostTable t = EmbeddingTables.fromWeights(WEIGHTS, DType.FLOAT32)) {
            assertEquals(MAPPING.layer(15).totalRows(), t.rows());
            assertEquals(CONFIG.headDim(), t.rowElements());
            assertArrayEquals(WEIGHTS.embedding(), t.segment().toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    @Test
    void bfloat16IsRoundedToNearestEven() {
        try (HostTable t = EmbeddingTables.fromWeights(WEIGHTS, DType.BFLOAT16, HostMemory.plain(), 3)) {
            assertArrayEquals(BFloat16.fromFloats(WEIGHTS.embedding()), t.segment().toArray(ValueLayout.JAVA_SHORT));
        }
    }

    @Test
    void lengthMustMatch() {
        try (HostTable t = HostTable.allocate(10, 4, DType.FLOAT32)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> EmbeddingTables.copyFloats(new float[39], t, 1));
            assertEquals(true, e.getMessage().contains("39 floats"), e.getMessage());
        }
    }
}
