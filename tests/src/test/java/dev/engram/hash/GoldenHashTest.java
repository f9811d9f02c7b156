package dev.engram.hash;

import com.fasterxml.jackson.databind.JsonNode;
import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.io.LittleEndianFiles;
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
 * The hashing pipeline against golden_hash.json (official code, numpy 2.4.6/2.5.2): every config,
 * layer and case must match exactly — RNG internals, multipliers, moduli, offsets, compressed ids,
 * raw mixes and hash ids.
 */
class GoldenHashTest {
    private static final JsonNode GOLDEN = Golden.json("hash/golden_hash.json");

    @TestFactory
    List<DynamicTest> everyConfigLayerAndCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode cfg : GOLDEN.get("configs")) {
            String name = cfg.get("name").asText();
            EngramConfig config = EngramConfigJson.parse(cfg.get("engram_config").toString());
            CompressionTable table = CompressionTable.load(Golden.dir().resolve("hash")
                    .resolve(cfg.get("tokenizer").get("table").get("file").asText()));
            NgramHashMapping mapping = NgramHashMapping.create(config, table);

            tests.add(DynamicTest.dynamicTest(name + ": compressed vocab and pad", () -> {
                assertEquals(cfg.get("tokenizer").get("compressed_vocab_size").asLong(), mapping.compressedVocabSize());
                assertEquals(cfg.get("tokenizer").get("pad_id_compressed").asLong(), mapping.padIdCompressed());
                assertEquals(cfg.get("derived").get("half_bound").asLong(),
                        HashMultipliers.halfBound(mapping.compressedVocabSize()));
            }));
            for (JsonNode layer : cfg.get("layers")) {
                int layerId = layer.get("layer_id").asInt();
                tests.add(DynamicTest.dynamicTest(name + " layer " + layerId + ": rng internals",
                        () -> checkRng(config, mapping, layer)));
                tests.add(DynamicTest.dynamicTest(name + " layer " + layerId + ": multipliers, moduli, offsets", () -> {
                    LayerHashing l = mapping.layer(layerId);
                    assertArrayEquals(Golden.longs(layer.get("r")), HashMultipliers.rawDraws(config.seed(), layerId,
                            config.maxNgramSize(), mapping.compressedVocabSize()));
                    assertArrayEquals(Golden.longs(layer.get("multipliers")), l.multipliers());
                    assertArrayEquals(Golden.longs(layer.get("flat_primes")), l.moduli());
                    assertArrayEquals(Golden.longs(layer.get("primes")), l.moduli());
                    assertArrayEquals(Golden.longs(layer.get("offsets")), l.offsets());
                    assertEquals(layer.get("total_rows").asLong(), l.totalRows());
                }));
            }
            for (JsonNode c : cfg.get("cases")) {
                tests.add(DynamicTest.dynamicTest(name + " case " + c.get("name").asText(), () -> checkCase(mapping, c)));
            }
        }
        return tests;
    }

    private static void checkRng(EngramConfig config, NgramHashMapping mapping, JsonNode layer) {
        JsonNode dbg = layer.get("rng_debug");
        int layerId = layer.get("layer_id").asInt();
        BigInteger seed = HashMultipliers.layerSeed(config.seed(), layerId);
        assertEquals(layer.get("base_seed").bigIntegerValue(), seed);
        SeedSequence ss = new SeedSequence(seed);
        assertArrayEquals(Golden.unsignedInts(dbg.get("seedseq_pool_u32")), ss.pool());
        assertArrayEquals(Golden.unsignedLongs(dbg.get("seedseq_generate_state_u64")), ss.generateStateUint64(4));
        Pcg64 rng = new Pcg64(ss);
        assertEquals(new BigInteger(dbg.get("pcg64_state_after_seeding_hex").asText().substring(2), 16), u128(rng.state()));
        assertEquals(new BigInteger(dbg.get("pcg64_inc_hex").asText().substring(2), 16), u128(rng.increment()));
        long[] first = new long[dbg.get("first_raw_u64").size()];
        for (int i = 0; i < first.length; i++) first[i] = rng.nextUint64();
        assertArrayEquals(Golden.unsignedLongs(dbg.get("first_raw_u64")), first);
        assertEquals(dbg.get("lemire_rng").asLong(), HashMultipliers.halfBound(mapping.compressedVocabSize()) - 1);
    }

    private static void checkCase(NgramHashMapping mapping, JsonNode c) {
        int b = c.get("B").asInt(), t = c.get("T").asInt();
        long[] ids = Golden.longs(c.get("input_ids"));
        long[] compressed = mapping.compress(ids);
        assertArrayEquals(Golden.longs(c.get("compressed_ids")), compressed);
        // The binary files must say the same as the inline JSON.
        JsonNode files = c.get("files");
        assertArrayEquals(ids, LittleEndianFiles.readInt64(hashFile(files, "input_ids")));
        assertArrayEquals(compressed, LittleEndianFiles.readInt64(hashFile(files, "compressed_ids")));
        for (int layerId : mapping.layerIds()) {
            JsonNode expected = c.get("layers").get(Integer.toString(layerId));
            LayerHashing l = mapping.layer(layerId);
            long[] mixes = NgramHasher.mixes(compressed, b, t, mapping.padIdCompressed(), l.multipliers());
            assertArrayEquals(Golden.longs(expected.get("mixes")), mixes, "mixes, layer " + layerId);
            long[] hash = mapping.hash(ids, b, t, layerId);
            assertArrayEquals(Golden.longs(expected.get("hash_ids")), hash, "hash ids, layer " + layerId);
            assertArrayEquals(hash, LittleEndianFiles.readInt64(hashFile(files, "layer" + layerId + "_hash_ids")));
            assertArrayEquals(mixes, LittleEndianFiles.readInt64(hashFile(files, "layer" + layerId + "_mixes")));
        }
    }

    private static java.nio.file.Path hashFile(JsonNode files, String key) {
        return Golden.dir().resolve("hash").resolve(files.get(key).get("file").asText());
    }

    private static BigInteger u128(long[] hiLo) {
        return new BigInteger(Long.toUnsignedString(hiLo[0])).shiftLeft(64).add(new BigInteger(Long.toUnsignedString(hiLo[1])));
    }
}
