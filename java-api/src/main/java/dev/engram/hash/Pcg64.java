package dev.engram.hash;

/**
 * numpy's {@code PCG64} bit generator (PCG XSL-RR 128/64), bit for bit (SEMANTICS.md §3.2).
 * The 128-bit state and increment are kept as (hi, lo) pairs of {@code long}s.
 */
public final class Pcg64 {
    private static final long MULT_HI = 0x2360ED051FC65DA4L;
    private static final long MULT_LO = 0x4385DF649FCCF645L;

    private long stateHi;
    private long stateLo;
    private final long incHi;
    private final long incLo;
    private boolean hasBufferedUint32;
    private int bufferedUint32;

    /**
     * Seeds like {@code PCG64(SeedSequence)}: four uint64 words from {@code generate_state(4)}.
     *
     * @param seed the seed sequence; it is only read
     */
    public Pcg64(SeedSequence seed) {
        long[] s = seed.generateStateUint64(4);
        long initStateHi = s[0], initStateLo = s[1];
        long initSeqHi = s[2], initSeqLo = s[3];
        // inc = (initseq << 1) | 1; state = 0; step; state += initstate; step.
        incHi = (initSeqHi << 1) | (initSeqLo >>> 63);
        incLo = (initSeqLo << 1) | 1L;
        stateHi = 0;
        stateLo = 0;
        step();
        long lo = stateLo + initStateLo;
        stateHi = stateHi + initStateHi + (Long.compareUnsigned(lo, stateLo) < 0 ? 1 : 0);
        stateLo = lo;
        step();
    }

    /**
     * {@return a generator seeded as {@code numpy.random.default_rng(seed)}}
     *
     * @param seed the seed sequence
     */
    public static Pcg64 defaultRng(SeedSequence seed) {
        return new Pcg64(seed);
    }

    /** {@return the next raw 64-bit output (as a signed long): advance the LCG, then XSL-RR of the new state} */
    public long nextUint64() {
        step();
        long x = stateHi ^ stateLo;
        int rot = (int) (stateHi >>> 58);  // state >> 122
        return Long.rotateRight(x, rot);
    }

    /**
     * {@return the next 32-bit output (as a signed int)} It is the low half of a 64-bit draw, whose high half is
     * buffered for the next call.
     */
    public int nextUint32() {
        if (hasBufferedUint32) {
            hasBufferedUint32 = false;
            return bufferedUint32;
        }
        long next = nextUint64();
        hasBufferedUint32 = true;
        bufferedUint32 = (int) (next >>> 32);
        return (int) next;
    }

    /** {@return the current 128-bit state as {hi, lo} (for checking against numpy's {@code bit_generator.state})} */
    public long[] state() {
        return new long[] {stateHi, stateLo};
    }

    /** {@return the 128-bit increment as {hi, lo}} */
    public long[] increment() {
        return new long[] {incHi, incLo};
    }

    /** state = state * MULT + inc (mod 2^128). */
    private void step() {
        long lo = stateLo * MULT_LO;
        long hi = Math.unsignedMultiplyHigh(stateLo, MULT_LO) + stateLo * MULT_HI + stateHi * MULT_LO;
        long newLo = lo + incLo;
        hi += incHi + (Long.compareUnsigned(newLo, lo) < 0 ? 1 : 0);
        stateHi = hi;
        stateLo = newLo;
    }
}
