// The Engram n-gram hash, shared by the host C function and the CUDA kernels, so both run the
// same arithmetic (SEMANTICS.md §3.4).
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define ENGRAM_HD __host__ __device__ __forceinline__
#else
#define ENGRAM_HD inline
#endif

namespace engram {

// int64 product with two's-complement wrap-around: multiply as uint64 (signed overflow is UB in C).
ENGRAM_HD int64_t wrapping_mul(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// numpy's floor modulo for a positive modulus: the result lies in [0, p).
ENGRAM_HD int64_t floor_mod(int64_t x, int64_t p) {
    int64_t r = x % p;
    return r < 0 ? r + p : r;
}

// Token k positions back from t in one sequence, or the pad before the sequence start.
ENGRAM_HD int64_t shifted_token(const int64_t* row, int64_t t, int32_t k, int64_t pad_id) {
    return t - k >= 0 ? row[t - k] : pad_id;
}

// Hash ids of position t of one sequence: out[(n-2)*heads + j] for n = 2..max_ngram, j < heads.
ENGRAM_HD void ngram_hash_position(const int64_t* row, int64_t t, int64_t pad_id,
                                   const int64_t* multipliers, int32_t max_ngram,
                                   const int64_t* moduli, int32_t heads, int64_t* out) {
    int64_t mix = wrapping_mul(shifted_token(row, t, 0, pad_id), multipliers[0]);
    for (int32_t n = 2; n <= max_ngram; ++n) {
        // mix_n = mix_{n-1} ^ (s_{n-1} * m_{n-1}): the incremental form of the XOR over k < n.
        mix ^= wrapping_mul(shifted_token(row, t, n - 1, pad_id), multipliers[n - 1]);
        const int32_t base = (n - 2) * heads;
        for (int32_t j = 0; j < heads; ++j) {
            out[base + j] = floor_mod(mix, moduli[base + j]);
        }
    }
}

}  // namespace engram
