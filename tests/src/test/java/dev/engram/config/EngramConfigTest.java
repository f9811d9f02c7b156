package dev.engram.config;

import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngramConfigTest {
    @Test
    void referenceDefaultDerivedSizes() {
        EngramConfig c = EngramConfig.referenceDefault();
        assertEquals(16, c.headsPerLayer());
        assertEquals(64, c.headDim());
        assertEquals(1024, c.engramHiddenSize());
        assertEquals(3, c.convDilation());
        assertEquals(0x1p-23, c.gateNormEps());
        assertEquals(1e-5, c.convNormEps());
    }

    @Test
    void jsonRoundTrip() {
        EngramConfig c = EngramConfig.small().withCompressedVocabSize(777);
        assertEquals(c, EngramConfigJson.parse(EngramConfigJson.write(c)));
    }

    @Test
    void readsTheReferenceSplitForm() {
        EngramConfig c = EngramConfigJson.parse("""
                {"engram_config": {"engram_vocab_size": [3001, 2503], "max_ngram_size": 3, "n_embed_per_ngram": 32,
                  "n_head_per_ngram": 4, "layer_ids": [1, 15], "pad_id": 2, "seed": 0, "kernel_size": 4,
                  "tokenizer_name_or_path": "x"},
                 "backbone_config": {"hidden_size": 64, "hc_mult": 4, "vocab_size": 4000, "num_layers": 16}}""");
        assertEquals(EngramConfig.small(), c);
    }

    @Test
    void readsNumbersWithExponentsAndANullVocabSize() {
        EngramConfig c = EngramConfigJson.parse("""
                {"gate_norm_eps": 2.220446049250313e-16, "conv_norm_eps": 1E-6, "compressed_vocab_size": null}""");
        assertEquals(EngramConfig.FLOAT64_EPS, c.gateNormEps());
        assertEquals(1e-6, c.convNormEps());
        assertEquals(OptionalLong.empty(), c.compressedVocabSize());
    }

    @Test
    void missingKeysTakeReferenceDefaults() {
        assertEquals(EngramConfig.referenceDefault(), EngramConfigJson.parse("{}"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "{\"max_ngram_size\": 1, \"engram_vocab_size\": []}|max_ngram_size must be >= 2",
            "{\"n_embed_per_ngram\": 500, \"n_head_per_ngram\": 8}|n_embed_per_ngram (500) must be divisible by n_head_per_ngram (8)",
            "{\"layer_ids\": []}|layer_ids must not be empty",
            "{\"layer_ids\": [1, 1]}|layer_ids contains 1 twice",
            "{\"layer_ids\": [-1]}|layer_ids must be >= 0",
            "{\"engram_vocab_size\": [646400, 0]}|engram_vocab_size entry 1 must be > 0",
            "{\"engram_vocab_size\": [646400]}|engram_vocab_size needs one entry per order",
            "{\"n_head_per_ngram\": 0}|n_head_per_ngram must be > 0",
            "{\"hidden_size\": 0}|hidden_size must be > 0",
            "{\"hc_mult\": -4}|hc_mult must be > 0",
            "{\"kernel_size\": 0}|kernel_size must be > 0",
            "{\"seed\": -1}|seed must be >= 0",
            "{\"compressed_vocab_size\": 0}|compressed_vocab_size must be > 0",
            "{\"gate_norm_eps\": 0}|gate_norm_eps must be finite and > 0",
            "{\"hidden_sise\": 64}|unknown config key \"hidden_sise\"",
            "{\"hidden_size\": 1.5}|\"hidden_size\" must be a 64-bit integer",
            "{\"hidden_size\": 4294967296}|\"hidden_size\" value 4294967296 does not fit in 32 bits",
            "{\"layer_ids\": 3}|\"layer_ids\" must be an array of integers",
            "[1, 2]|config must be a JSON object",
            "{\"seed\": |invalid JSON",
            "{\"seed\": 0} []|invalid JSON: unexpected '[' after the value at line 1, column 13",
            "{\"seed\": 0, \"seed\": 1}|invalid JSON: duplicate key \"seed\" at line 1, column 13",
            "{\"engram_config\": {\"pad_id\": 2}, \"backbone_config\": {\"pad_id\": 3}}|config key \"pad_id\" is given twice",
            "{\"seed\": null}|\"seed\" must be a 64-bit integer, got null",
            "{\"seed\": 18446744073709551616}|\"seed\" must be a 64-bit integer, got 18446744073709551616",
            "{\"layer_ids\": [1, \"2\"]}|\"layer_ids\" must hold 64-bit integers, got \"2\"",
            "{\"gate_norm_eps\": \"1e-6\"}|\"gate_norm_eps\" must be a number, got \"1e-6\"",
    })
    void invalidConfigsNameTheProblem(String json, String expectedMessagePart) {
        var e = assertThrows(IllegalArgumentException.class, () -> EngramConfigJson.parse(json));
        assertTrue(e.getMessage().contains(expectedMessagePart), "message was: " + e.getMessage());
    }

    @Test
    void fileErrorsNameTheFile(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.json");
        var e = assertThrows(IllegalArgumentException.class, () -> EngramConfigJson.read(missing));
        assertTrue(e.getMessage().contains("missing.json: no such file"), e.getMessage());
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"max_ngram_size\": 1}");
        e = assertThrows(IllegalArgumentException.class, () -> EngramConfigJson.read(bad));
        assertTrue(e.getMessage().startsWith(bad + ": EngramConfig.max_ngram_size"), e.getMessage());
    }

    @Test
    void constructorRejectsNulls() {
        var e = assertThrows(IllegalArgumentException.class, () -> new EngramConfig(null, 3, 512, 8, List.of(1), 2, 0, 4,
                1024, 4, OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS));
        assertTrue(e.getMessage().contains("engram_vocab_size is missing"), e.getMessage());
    }
}
