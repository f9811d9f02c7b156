package dev.engram.hash;

import com.fasterxml.jackson.databind.JsonNode;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.testing.Golden;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Vectors made with numpy itself (tests/golden/numpy/make_numpy_vectors.py) for the paths the
 * official goldens do not reach: multi-word seeds, the 32-bit and raw-next32 paths of
 * {@code integers}, bound 1 (no draw), tiny vocabularies with huge multipliers, negative ids that
 * wrap around, {@code pad_id = -1}, bigram and 4-gram configs with overlapping prime bases.
 */
class NumpyVectorsTest {
    private static final JsonNode VECTORS = Golden.json("numpy/numpy_vectors.json");

    @TestFactory
    List<DynamicTest> seedSequencePcg64AndIntegers() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : VECTORS.get("rng")) {
            BigInteger seed = new BigInteger(c.get("seed").asText());
            long high = c.get("high").asLong();
            tests.add(DynamicTest.dynamicTest("seed " + seed + " high " + high, () -> {
                SeedSequence ss = new SeedSequence(seed);
                assertArrayEquals(Golden.unsignedInts(c.get("pool_u32")), ss.pool(), "pool");
                assertArrayEquals(parseUnsigned(c.get("state_u64")), ss.generateStateUint64(4), "generate_state");
                long[] draws = BoundedIntegers.integers(new Pcg64(ss), 0, high, c.get("size").asInt());
                assertArrayEquals(Golden.longs(c.get("draws")), draws, "integers(0, high)");
            }));
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> hashConfigs() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : VECTORS.get("hash")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                EngramConfig config = EngramConfigJson.parse(c.get("engram_config").toString());
                NgramHashMapping mapping = NgramHashMapping.create(config, CompressionTable.of(Golden.longs(c.get("lookup"))));
                assertEquals(c.get("compressed_vocab_size").asLong(), mapping.compressedVocabSize());
                assertEquals(c.get("pad_id_compressed").asLong(), mapping.padIdCompressed());
                long[] ids = Golden.longs(c.get("input_ids"));
                assertArrayEquals(Golden.longs(c.get("compressed_ids")), mapping.compress(ids));
                for (int layerId : config.layerIds()) {
                    JsonNode l = c.get("layers").get(Integer.toString(layerId));
                    assertArrayEquals(Golden.longs(l.get("multipliers")), mapping.layer(layerId).multipliers());
                    assertArrayEquals(Golden.longs(l.get("moduli")), mapping.layer(layerId).moduli());
                    assertArrayEquals(Golden.longs(l.get("hash_ids")),
                            mapping.hash(ids, c.get("B").asInt(), c.get("T").asInt(), layerId), "layer " + layerId);
                }
            }));
        }
        return tests;
    }

    private static long[] parseUnsigned(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = Long.parseUnsignedLong(array.get(i).asText());
        return out;
    }
}
