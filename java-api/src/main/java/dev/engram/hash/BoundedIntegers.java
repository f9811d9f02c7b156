package dev.engram.hash;

/**
 * numpy's {@code Generator.integers(low, high, dtype=np.int64)} (exclusive {@code high}), via
 * {@code random_bounded_uint64_fill} with Lemire's rejection method, bit for bit (SEMANTICS.md §3.2).
 */
public final class BoundedIntegers {
    private static final long UINT32_MAX = 0xFFFFFFFFL;

    private BoundedIntegers() {}

    /**
     * {@return {@code size} draws in {@code [low, high)}, as numpy's {@code integers(low, high, size)}}
     *
     * @param rng  the generator the draws come from; it advances by every draw taken, rejected ones included
     * @param low  the smallest value, inclusive
     * @param high the bound, exclusive; greater than {@code low}
     * @param size the number of draws, {@code >= 0}
     * @throws IllegalArgumentException when {@code low >= high}
     */
    public static long[] integers(Pcg64 rng, long low, long high, int size) {
        if (low >= high) throw new IllegalArgumentException("low >= high: " + low + " >= " + high);
        long range = high - 1 - low;  // numpy works on the closed interval [low, high-1]; as uint64
        long[] out = new long[size];
        for (int i = 0; i < size; i++) out[i] = low + boundedUint64(rng, range);
        return out;
    }

    /** One draw in {@code [0, range]} (range as uint64), choosing the path numpy chooses. */
    static long boundedUint64(Pcg64 rng, long range) {
        if (range == 0) return 0;
        if (Long.compareUnsigned(range, UINT32_MAX) <= 0) {
            if (range == UINT32_MAX) return Integer.toUnsignedLong(rng.nextUint32());
            return Integer.toUnsignedLong(lemireUint32(rng, (int) range));
        }
        if (range == -1L) return rng.nextUint64();
        return lemireUint64(rng, range);
    }

    /** {@code buffered_bounded_lemire_uint32}: draws come from {@code next_uint32}. */
    private static int lemireUint32(Pcg64 rng, int range) {
        long rangeExcl = Integer.toUnsignedLong(range) + 1;
        long m = Integer.toUnsignedLong(rng.nextUint32()) * rangeExcl;
        long leftover = m & UINT32_MAX;
        if (leftover < rangeExcl) {
            long threshold = (UINT32_MAX - Integer.toUnsignedLong(range)) % rangeExcl;
            while (leftover < threshold) {
                m = Integer.toUnsignedLong(rng.nextUint32()) * rangeExcl;
                leftover = m & UINT32_MAX;
            }
        }
        return (int) (m >>> 32);
    }

    /** {@code bounded_lemire_uint64}: a 128-bit product of a draw and range+1; the high half is the result. */
    private static long lemireUint64(Pcg64 rng, long range) {
        long rangeExcl = range + 1;
        long draw = rng.nextUint64();
        long leftover = draw * rangeExcl;
        if (Long.compareUnsigned(leftover, rangeExcl) < 0) {
            long threshold = Long.remainderUnsigned(-1L - range, rangeExcl);
            while (Long.compareUnsigned(leftover, threshold) < 0) {
                draw = rng.nextUint64();
                leftover = draw * rangeExcl;
            }
        }
        return Math.unsignedMultiplyHigh(draw, rangeExcl);
    }
}
