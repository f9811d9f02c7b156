package dev.engram.hash;

import java.math.BigInteger;

/** Exact primality for 64-bit integers: deterministic Miller–Rabin (exact like sympy's isprime there). */
public final class Primes {
    /** The first 12 primes as witnesses decide every n < 3.3e24, so every long. */
    private static final long[] WITNESSES = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};

    private Primes() {}

    /**
     * {@return whether {@code n} is prime}
     *
     * @param n any long; those below 2 are not prime
     */
    public static boolean isPrime(long n) {
        if (n < 2) return false;
        for (long p : WITNESSES) {
            if (n % p == 0) return n == p;
        }
        long d = n - 1;
        int s = Long.numberOfTrailingZeros(d);
        d >>= s;
        for (long a : WITNESSES) {
            long x = powMod(a, d, n);
            if (x == 1 || x == n - 1) continue;
            boolean composite = true;
            for (int r = 1; r < s && composite; r++) {
                x = mulMod(x, x, n);
                if (x == n - 1) composite = false;
            }
            if (composite) return false;
        }
        return true;
    }

    /**
     * {@return the smallest prime strictly greater than {@code start}}
     *
     * @param start any long; below 2 the result is 2
     * @throws ArithmeticException when no prime above {@code start} fits in a long
     */
    public static long nextPrimeAfter(long start) {
        long c = Math.max(start + 1, 2);
        while (!isPrime(c)) c = Math.addExact(c, 1);
        return c;
    }

    private static long powMod(long base, long exp, long mod) {
        long result = 1;
        long b = base % mod;
        while (exp > 0) {
            if ((exp & 1) == 1) result = mulMod(result, b, mod);
            b = mulMod(b, b, mod);
            exp >>= 1;
        }
        return result;
    }

    private static long mulMod(long a, long b, long mod) {
        if (mod <= 0xFFFF_FFFFL) return a * b % mod;  // operands < 2^32: the product fits in 63 bits
        return BigInteger.valueOf(a).multiply(BigInteger.valueOf(b)).mod(BigInteger.valueOf(mod)).longValue();
    }
}
