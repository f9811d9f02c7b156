package dev.engram.hash;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrimesTest {
    @Test
    void agreesWithTrialDivisionBelowOneHundredThousand() {
        for (long n = -3; n < 100_000; n++) {
            boolean expected = n >= 2;
            for (long d = 2; d * d <= n && expected; d++) expected = n % d != 0;
            assertEquals(expected, Primes.isPrime(n), "n = " + n);
        }
    }

    @Test
    void agreesWithBigIntegerOnLargeOddNumbers() {
        SplittableRandom r = new SplittableRandom(99);
        for (int i = 0; i < 2000; i++) {
            long n = r.nextLong(1L << 40, Long.MAX_VALUE) | 1;
            // isProbablePrime(100) errs with probability < 2^-100: a practical oracle.
            assertEquals(BigInteger.valueOf(n).isProbablePrime(100), Primes.isPrime(n), "n = " + n);
        }
    }

    @Test
    void strongPseudoprimesAreRejected() {
        assertFalse(Primes.isPrime(3_215_031_751L));         // strong pseudoprime to bases 2, 3, 5, 7
        assertFalse(Primes.isPrime(3_825_123_056_546_413_051L));  // to bases 2..23
        assertTrue(Primes.isPrime(Long.MAX_VALUE - 24));      // 2^63 - 25, the largest prime below 2^63
    }

    @Test
    void nextPrimeIsStrictlyGreater() {
        assertEquals(646_403, Primes.nextPrimeAfter(646_399));
        assertEquals(3001, Primes.nextPrimeAfter(3000));  // a prime base is itself used: start = base - 1
        assertEquals(3011, Primes.nextPrimeAfter(3001));
    }
}
