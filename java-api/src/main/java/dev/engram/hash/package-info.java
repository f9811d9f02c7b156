/**
 * The Engram n-gram hash, bit for bit the official code's: per layer, numpy-exact random multipliers
 * ({@link dev.engram.hash.HashMultipliers}), distinct prime moduli per head ({@link dev.engram.hash.PrimeModuli}) and
 * the multiplicative-XOR hash of each order's last n tokens ({@link dev.engram.hash.NgramHasher});
 * {@link dev.engram.hash.NgramHashMapping} puts them together for a model and {@link dev.engram.hash.LayerHashing}
 * holds one layer's parameters.
 */
package dev.engram.hash;
