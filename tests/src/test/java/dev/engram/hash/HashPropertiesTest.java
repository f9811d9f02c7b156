package dev.engram.hash;

import dev.engram.EngramConfig;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Properties of the hash on fresh random inputs (seeds are fixed and printed in failure messages). */
class HashPropertiesTest {
    private static final EngramConfig CONFIG = EngramConfig.referenceDefault().withCompressedVocabSize(99_464);
    private static final NgramHashMapping MAPPING = NgramHashMapping.forCompressedIds(CONFIG);

    private static long[] randomIds(long seed, int n, long vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextLong(vocab);
        return ids;
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3})
    void hashIdsLieInTheirHeadsRange(long seed) {
        int b = 3, t = 257;
        long[] ids = randomIds(seed, b * t, 99_464);
        for (int layerId : CONFIG.layerIds()) {
            long[] hash = MAPPING.hashCompressed(ids, b, t, layerId);
            long[] moduli = MAPPING.layer(layerId).moduli();
            for (int i = 0; i < hash.length; i++) {
                long p = moduli[i % moduli.length];
                assertTrue(hash[i] >= 0 && hash[i] < p, "seed " + seed + ": hash " + hash[i] + " at " + i + " not in [0," + p + ")");
            }
        }
    }

    @Test
    void deterministicAcrossMappingsBuiltIndependently() {
        long[] ids = randomIds(11, 4 * 64, 99_464);
        NgramHashMapping other = NgramHashMapping.forCompressedIds(CONFIG);
        for (int layerId : CONFIG.layerIds()) {
            assertArrayEquals(MAPPING.hashCompressed(ids, 4, 64, layerId), other.hashCompressed(ids, 4, 64, layerId));
        }
    }

    @Test
    void layersHashDifferently() {
        long[] ids = randomIds(12, 64, 99_464);
        assertFalse(Arrays.equals(MAPPING.hashCompressed(ids, 1, 64, 1), MAPPING.hashCompressed(ids, 1, 64, 15)));
    }

    @Test
    void sequenceStartsSeeThePadAsHistory() {
        // Position 0 of [x, ...] must equal position N-1 of [pad, pad, x, ...]: both have history (x, pad, pad).
        long pad = MAPPING.padIdCompressed();
        int heads = CONFIG.headsPerLayer();
        long[] ids = randomIds(13, 8, 99_464);
        long[] padded = new long[10];
        padded[0] = pad;
        padded[1] = pad;
        System.arraycopy(ids, 0, padded, 2, 8);
        long[] a = MAPPING.hashCompressed(ids, 1, 8, 1);
        long[] b = MAPPING.hashCompressed(padded, 1, 10, 1);
        for (int t = 0; t < 8; t++) {
            assertArrayEquals(Arrays.copyOfRange(b, (t + 2) * heads, (t + 3) * heads),
                    Arrays.copyOfRange(a, t * heads, (t + 1) * heads), "position " + t);
        }
    }

    @Test
    void padIsTheMappedRawPadId() {
        long[] lookup = {0, 1, 1, 2, 3, 2, 4};  // raw pad 2 -> compressed 1; raw 1 aliases it
        EngramConfig config = new EngramConfig(java.util.List.of(31L, 37L), 3, 8, 2, java.util.List.of(0), 2, 0, 4, 8, 1,
                java.util.OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
        NgramHashMapping m = NgramHashMapping.create(config, CompressionTable.of(lookup));
        assertEquals(1, m.padIdCompressed());
        // [1] alone hashes like [2] alone, and like [x, 2] at position 1 when history is all pad.
        assertArrayEquals(m.hash(new long[] {1}, 1, 1, 0), m.hash(new long[] {2}, 1, 1, 0));
    }

    @Test
    void batchRowsAreIndependent() {
        int b = 5, t = 33, heads = CONFIG.headsPerLayer();
        long[] ids = randomIds(14, b * t, 99_464);
        long[] all = MAPPING.hashCompressed(ids, b, t, 15);
        for (int row = 0; row < b; row++) {
            long[] alone = MAPPING.hashCompressed(Arrays.copyOfRange(ids, row * t, (row + 1) * t), 1, t, 15);
            assertArrayEquals(alone, Arrays.copyOfRange(all, row * t * heads, (row + 1) * t * heads), "row " + row);
        }
    }

    @Test
    void singleTokenSequencesHashThePadHistory() {
        long[] ids = randomIds(15, 6, 99_464);
        long[] hash = MAPPING.hashCompressed(ids, 6, 1, 1);
        LayerHashing l = MAPPING.layer(1);
        long pad = MAPPING.padIdCompressed();
        long[] m = l.multipliers();
        for (int row = 0; row < 6; row++) {
            long mix2 = (ids[row] * m[0]) ^ (pad * m[1]);
            long mix3 = mix2 ^ (pad * m[2]);
            for (int j = 0; j < 8; j++) {
                assertEquals(Math.floorMod(mix2, l.moduli()[j]), hash[row * 16 + j]);
                assertEquals(Math.floorMod(mix3, l.moduli()[8 + j]), hash[row * 16 + 8 + j]);
            }
        }
    }

    @Test
    void negativeMixesUseFloorModulo() {
        // -2^63 * odd wraps; the result must still be in [0, p), as numpy's % gives.
        long[] hash = NgramHasher.hash(new long[] {Long.MIN_VALUE, -1, -100}, 1, 3, 0, new long[] {3, 5, 7}, new long[] {11, 13}, 1);
        for (long h : hash) assertTrue(h >= 0 && h < 13);
        assertEquals(Math.floorMod(Long.MIN_VALUE * 3, 11L), hash[0]);
    }
}
