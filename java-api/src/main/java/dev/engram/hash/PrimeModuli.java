package dev.engram.hash;

import dev.engram.EngramConfig;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The hash heads' prime moduli (SEMANTICS.md §3.3): for each layer in {@code layer_ids} order, each
 * order n and each head, the smallest prime above the running start (first {@code engram_vocab_size[n-2]-1},
 * then the previous prime found) that no earlier head of any layer took. One {@code seen} set spans
 * all layers, so a layer's moduli depend on the whole {@code layer_ids} list.
 */
public final class PrimeModuli {
    private PrimeModuli() {}

    /**
     * {@return the moduli per layer id, in {@code layer_ids} order} Each layer's {@code [heads]} moduli are
     * flattened order-major, head-minor.
     *
     * @param config the configuration: {@code layer_ids}, {@code engram_vocab_size} and the heads per order
     */
    public static Map<Integer, long[]> compute(EngramConfig config) {
        Set<Long> seen = new HashSet<>();
        Map<Integer, long[]> out = new LinkedHashMap<>();
        int heads = config.nHeadPerNgram();
        for (int layerId : config.layerIds()) {
            long[] moduli = new long[config.headsPerLayer()];
            for (int n = 2; n <= config.maxNgramSize(); n++) {
                long start = config.engramVocabSize().get(n - 2) - 1;
                for (int j = 0; j < heads; j++) {
                    long p = Primes.nextPrimeAfter(start);
                    while (seen.contains(p)) p = Primes.nextPrimeAfter(p);
                    seen.add(p);
                    moduli[(n - 2) * heads + j] = p;
                    start = p;
                }
            }
            out.put(layerId, moduli);
        }
        return out;
    }
}
