package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

/**
 * A small random Engram layer (random hidden size, hc_mult, kernel size 1..5, max_ngram 2..4 and so dilation, heads,
 * vocabularies, pad id, eps) with random weights, and random inputs for it: what the packed property tests run.
 */
final class RandomLayer {
    final EngramConfig config;
    final NgramHashMapping mapping;
    final ReferenceEngramLayer layer;
    final int layerId;
    /** {@code G * H}: values per token of hidden states and outputs. */
    final int gh;
    /** Hash heads per token. */
    final int heads;
    /** Conv window rows {@code W = (K-1) * dilation}. */
    final int window;
    /** History ids {@code M = max_ngram_size - 1}. */
    final int history;

    private RandomLayer(EngramConfig config, int layerId, long weightSeed) {
        this.config = config;
        this.mapping = NgramHashMapping.forCompressedIds(config);
        this.layerId = layerId;
        this.layer = new ReferenceEngramLayer(mapping, layerId, RandomWeights.create(config, mapping.layer(layerId),
                weightSeed, 0.3));
        this.gh = config.hcMult() * config.hiddenSize();
        this.heads = mapping.layer(layerId).heads();
        this.window = (config.kernelSize() - 1) * config.convDilation();
        this.history = config.maxNgramSize() - 1;
    }

    static RandomLayer create(SplittableRandom r) {
        int maxNgram = r.nextInt(2, 5);
        int headsPerNgram = r.nextInt(1, 4);
        int embedPerNgram = headsPerNgram * r.nextInt(1, 4);
        List<Long> vocab = new ArrayList<>();
        for (int n = 2; n <= maxNgram; n++) vocab.add((long) r.nextInt(20, 200));
        int firstLayer = r.nextInt(0, 6);
        List<Integer> layerIds = List.of(firstLayer, firstLayer + 1 + r.nextInt(0, 4));
        long compressedVocab = r.nextInt(30, 300);
        EngramConfig c = new EngramConfig(vocab, maxNgram, embedPerNgram, headsPerNgram, layerIds,
                r.nextLong(0, compressedVocab), r.nextLong(0, 1000), r.nextInt(1, 6), r.nextInt(1, 11), r.nextInt(1, 5),
                OptionalLong.of(compressedVocab), r.nextBoolean() ? EngramConfig.FLOAT32_EPS : EngramConfig.FLOAT64_EPS,
                EngramConfig.CONV_NORM_EPS);
        return new RandomLayer(c, layerIds.get(r.nextInt(2)), r.nextLong());
    }

    /** Random compressed ids {@code [n]}, the pad id among them now and then. */
    long[] ids(SplittableRandom r, int n) {
        long v = config.compressedVocabSize().getAsLong();
        long[] ids = r.longs(n, 0, v).toArray();
        for (int i = 0; i < n; i++) {
            if (r.nextInt(8) == 0) ids[i] = mapping.padIdCompressed();
        }
        return ids;
    }

    /** Random hidden states {@code [n, G, H]}. */
    double[] hidden(SplittableRandom r, int n) {
        return r.doubles((long) n * gh, -2, 2).toArray();
    }

    /** The rectangular forward of one whole sequence ({@code [1, n]}); {@code null} for an empty one. */
    ForwardTrace whole(long[] ids, double[] hidden) {
        return ids.length == 0 ? null : layer.trace(ids, hidden, 1, ids.length);
    }

    /** What SEMANTICS.md §8 says the history holds after {@code ids}: the last M, the pad id before the start. */
    long[] expectedHistory(long[] ids) {
        long[] h = new long[history];
        for (int j = 0; j < history; j++) {
            int p = ids.length - history + j;
            h[j] = p >= 0 ? ids[p] : mapping.padIdCompressed();
        }
        return h;
    }

    /** The conv window after a sequence: the last W rows of its normed conv inputs, zeros before the start. */
    double[] expectedWindow(ForwardTrace whole, int length) {
        double[] w = new double[window * gh];
        for (int j = 0; j < window; j++) {
            int p = length - window + j;
            if (p >= 0) System.arraycopy(whole.convInNormed(), p * gh, w, j * gh, gh);
        }
        return w;
    }

    /** Chunk lengths that cover {@code length}: 0, 1, shorter and longer than the window and the history. */
    int[] randomChunks(SplittableRandom r, int length) {
        List<Integer> chunks = new ArrayList<>();
        int left = length;
        do {
            int c = switch (r.nextInt(7)) {
                case 0 -> 0;
                case 1, 2 -> 1;
                case 3 -> r.nextInt(1, Math.max(2, Math.min(window, history) + 1));
                case 4 -> window + r.nextInt(0, 2);
                case 5 -> history + r.nextInt(0, 2);
                default -> r.nextInt(0, 2 * window + history + 3);
            };
            c = Math.min(c, left);
            chunks.add(c);
            left -= c;
        } while (left > 0 || r.nextInt(6) == 0); // now and then an empty chunk after the end
        return chunks.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public String toString() {
        return "layer " + layerId + " of " + config + " (W=" + window + ", M=" + history + ")";
    }

    static long[] slice(long[] a, int from, int to) {
        return Arrays.copyOfRange(a, from, to);
    }

    static double[] slice(double[] a, int from, int to) {
        return Arrays.copyOfRange(a, from, to);
    }
}
