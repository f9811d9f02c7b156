package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.DType;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link EngramLayer#create} checks its arguments before anything touches CUDA, so these run without a GPU:
 * each bad argument is an IllegalArgumentException naming the problem, with no device memory allocated.
 */
class EngramLayerArgumentsTest {
    private static final NgramHashMapping SMALL = NgramHashMapping.forCompressedIds(EngramConfig.small().withCompressedVocabSize(3000));
    private static final EngramWeights LAYER1 = RandomWeights.create(SMALL.config(), SMALL.layer(1), 5);

    private static void assertRejected(String fragment, Runnable create) {
        var e = assertThrows(IllegalArgumentException.class, create::run);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should contain '" + fragment + "'");
    }

    @Test
    void weightsOfAnotherLayer() {
        assertRejected("weights were built for layer 1", () -> EngramLayer.create(SMALL, 15, LAYER1, DType.FLOAT32, 8));
    }

    @Test
    void unknownLayer() {
        assertThrows(IllegalArgumentException.class, () -> EngramLayer.create(SMALL, 7, LAYER1, DType.FLOAT32, 8));
    }

    @Test
    void storageDtypeAndMaxTokens() {
        assertRejected("FLOAT32 or BFLOAT16, got INT64", () -> EngramLayer.create(SMALL, 1, LAYER1, DType.INT64, 8));
        assertRejected("maxTokens must be >= 1, got 0", () -> EngramLayer.create(SMALL, 1, LAYER1, DType.FLOAT32, 0));
    }

    @Test
    void weightsOfAnotherShape() {
        EngramConfig wider = new EngramConfig(SMALL.config().engramVocabSize(), SMALL.config().maxNgramSize(),
                SMALL.config().nEmbedPerNgram(), SMALL.config().nHeadPerNgram(), SMALL.config().layerIds(),
                SMALL.config().padId(), SMALL.config().seed(), SMALL.config().kernelSize(), SMALL.config().hiddenSize() * 2,
                SMALL.config().hcMult(), SMALL.config().compressedVocabSize(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
        EngramWeights w = RandomWeights.create(wider, SMALL.layer(1), 6);
        assertRejected("does not match the mapping's", () -> EngramLayer.create(SMALL, 1, w, DType.FLOAT32, 8));
    }

    @Test
    void configsBeyondTheKernelLimits() {
        EngramConfig manyBranches = tiny(4, 8, 65);
        NgramHashMapping m1 = NgramHashMapping.forCompressedIds(manyBranches);
        assertRejected("hc_mult at most 64, got 65",
                () -> EngramLayer.create(m1, 1, RandomWeights.create(manyBranches, m1.layer(1), 1), DType.FLOAT32, 8));
        EngramConfig longKernel = tiny(17, 8, 1);
        NgramHashMapping m2 = NgramHashMapping.forCompressedIds(longKernel);
        assertRejected("kernel_size at most 16, got 17",
                () -> EngramLayer.create(m2, 1, RandomWeights.create(longKernel, m2.layer(1), 1), DType.FLOAT32, 8));
    }

    private static EngramConfig tiny(int kernel, int hidden, int hc) {
        return new EngramConfig(List.of(101L, 103L), 3, 4, 2, List.of(1), 2, 0, kernel, hidden, hc,
                OptionalLong.of(90), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    }
}
