// engram_ngram_hash_host: the n-gram hash on the CPU, with the kernels' arithmetic.
#include "engram_error.h"
#include "ngram_hash.cuh"

ENGRAM_API engram_status_t engram_ngram_hash_host(const int64_t* compressed_ids, int64_t batch,
                                                  int64_t seq_len, int64_t pad_id,
                                                  const int64_t* multipliers, int32_t max_ngram_size,
                                                  const int64_t* moduli, int32_t heads_per_ngram,
                                                  int64_t* out_hash_ids) {
    if (!compressed_ids || !multipliers || !moduli || !out_hash_ids) {
        return engram::fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_ngram_hash_host: null pointer argument");
    }
    if (batch < 0 || seq_len < 0) {
        return engram::fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_ngram_hash_host: batch and seq_len must be >= 0");
    }
    if (max_ngram_size < 2 || heads_per_ngram < 1) {
        return engram::fail(ENGRAM_STATUS_INVALID_ARGUMENT,
                            "engram_ngram_hash_host: need max_ngram_size >= 2 and heads_per_ngram >= 1");
    }
    const int64_t heads = static_cast<int64_t>(max_ngram_size - 1) * heads_per_ngram;
    for (int64_t i = 0; i < heads; ++i) {
        if (moduli[i] <= 0) {
            return engram::fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_ngram_hash_host: every modulus must be > 0");
        }
    }
    for (int64_t b = 0; b < batch; ++b) {
        const int64_t* row = compressed_ids + b * seq_len;
        for (int64_t t = 0; t < seq_len; ++t) {
            engram::ngram_hash_position(row, t, pad_id, multipliers, max_ngram_size, moduli, heads_per_ngram,
                                        out_hash_ids + (b * seq_len + t) * heads);
        }
    }
    return engram::ok();
}
