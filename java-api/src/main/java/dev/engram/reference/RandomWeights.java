package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.LayerHashing;

import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Random parameters for demos, benchmarks and tests, shaped like the reference's initialisation:
 * Linear weights and biases U(±1/sqrt(E)), conv U(±1/sqrt(K)), embedding rows with unit variance
 * (uniform rather than normal, so multi-gigabyte tables fill fast). Norm weights are 1 + U(±spread).
 * Deterministic for a given seed, whatever the thread count.
 */
public final class RandomWeights {
    private static final int CHUNK = 1 << 20;

    private RandomWeights() {}

    /**
     * {@return random weights whose norm weights are exactly 1, as in a freshly built torch module}
     *
     * @param config  the configuration the shapes follow
     * @param hashing the layer's hashing, which sets the table's row count
     * @param seed    the seed; the same seed gives the same weights
     * @throws IllegalArgumentException when a Java array cannot hold the layer's table
     */
    public static EngramWeights create(EngramConfig config, LayerHashing hashing, long seed) {
        return create(config, hashing, seed, 0.0);
    }

    /**
     * {@return random weights whose RMSNorm weights are {@code 1 + U(±normSpread)}} Tests use a spread to
     * exercise the norm weights.
     *
     * @param config     the configuration the shapes follow
     * @param hashing    the layer's hashing, which sets the table's row count
     * @param seed       the seed; the same seed and spread give the same weights
     * @param normSpread half-width of the norm weights' spread around 1, {@code >= 0} ({@code 0}: exactly 1)
     * @throws IllegalArgumentException when a Java array cannot hold the layer's table, or {@code normSpread < 0}
     */
    public static EngramWeights create(EngramConfig config, LayerHashing hashing, long seed, double normSpread) {
        int g = config.hcMult(), h = config.hiddenSize(), e = config.engramHiddenSize(), k = config.kernelSize();
        double linear = 1.0 / Math.sqrt(e);
        SplittableRandom rng = new SplittableRandom(seed);
        float[] table = new float[EngramWeights.tableElements(config, hashing)];
        fillParallel(table, rng.nextLong(), Math.sqrt(3.0));
        return new EngramWeights(config, hashing, table,
                uniform(rng, g * h * e, linear), uniform(rng, g * h, linear),
                uniform(rng, h * e, linear), uniform(rng, h, linear),
                around1(rng, g * h, normSpread), around1(rng, g * h, normSpread), around1(rng, g * h, normSpread),
                uniform(rng, g * h * k, 1.0 / Math.sqrt(k)));
    }

    /**
     * {@return the dense parameters of {@link #create(EngramConfig, LayerHashing, long, double)} for the same seed
     * and spread} The arrays are identical to those; the table is left out, for layers whose table is filled
     * elsewhere.
     *
     * @param config     the configuration the shapes follow
     * @param seed       the seed, as for {@code create}
     * @param normSpread half-width of the norm weights' spread around 1, {@code >= 0} ({@code 0}: exactly 1)
     * @throws IllegalArgumentException when {@code normSpread < 0}
     */
    public static DenseWeights createDense(EngramConfig config, long seed, double normSpread) {
        int g = config.hcMult(), h = config.hiddenSize(), e = config.engramHiddenSize(), k = config.kernelSize();
        double linear = 1.0 / Math.sqrt(e);
        SplittableRandom rng = new SplittableRandom(seed);
        rng.nextLong(); // the table's seed in create(): keeps the two in step
        return new DenseWeights(config, uniform(rng, g * h * e, linear), uniform(rng, g * h, linear),
                uniform(rng, h * e, linear), uniform(rng, h, linear),
                around1(rng, g * h, normSpread), around1(rng, g * h, normSpread), around1(rng, g * h, normSpread),
                uniform(rng, g * h * k, 1.0 / Math.sqrt(k)));
    }

    private static float[] uniform(SplittableRandom rng, int n, double bound) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rng.nextDouble(-bound, bound);
        return a;
    }

    private static float[] around1(SplittableRandom rng, int n, double spread) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (spread == 0 ? 1.0 : 1.0 + rng.nextDouble(-spread, spread));
        return a;
    }

    /** Chunks get their own generator seeded from (seed, chunk), so the result is thread-count independent. */
    private static void fillParallel(float[] a, long seed, double bound) {
        int chunks = (a.length + CHUNK - 1) / CHUNK;
        IntStream.range(0, chunks).parallel().forEach(c -> {
            SplittableRandom r = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (c + 1)));
            int end = Math.min(a.length, (c + 1) * CHUNK);
            for (int i = c * CHUNK; i < end; i++) a[i] = (float) r.nextDouble(-bound, bound);
        });
    }
}
