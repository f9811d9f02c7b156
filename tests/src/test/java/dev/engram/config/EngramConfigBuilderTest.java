package dev.engram.config;

import dev.engram.EngramConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link EngramConfig#builder()}: starts from the reference default, sets fields by name, validates on build. */
class EngramConfigBuilderTest {
    @Test
    void startsFromTheReferenceDefault() {
        assertEquals(EngramConfig.referenceDefault(), EngramConfig.builder().build());
    }

    @Test
    void setsFieldsByName() {
        EngramConfig c = EngramConfig.builder().hiddenSize(4096).hcMult(2).layerIds(List.of(2, 15, 30))
                .engramVocabSize(List.of(1000L, 2000L, 3000L)).maxNgramSize(4).kernelSize(3).padId(0).seed(7)
                .nEmbedPerNgram(256).nHeadPerNgram(4).gateNormEps(1e-6).convNormEps(1e-6).compressedVocabSize(900).build();
        assertEquals(new EngramConfig(List.of(1000L, 2000L, 3000L), 4, 256, 4, List.of(2, 15, 30), 0, 7, 3, 4096, 2,
                OptionalLong.of(900), 1e-6, 1e-6), c);
        assertEquals(c, c.toBuilder().build());
        assertEquals(512, c.toBuilder().hiddenSize(512).build().hiddenSize());
    }

    @Test
    void buildValidatesLikeTheConstructor() {
        String m = assertThrows(IllegalArgumentException.class, () -> EngramConfig.builder().maxNgramSize(4).build())
                .getMessage();
        assertTrue(m.contains("engram_vocab_size"), m); // 4 needs three vocab entries, the default has two
    }
}
