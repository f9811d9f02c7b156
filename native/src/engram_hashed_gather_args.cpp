// Host-side argument check of engram_hashed_gather: no CUDA call, so it also runs (and is tested)
// on machines without a GPU, driver or nvcc.
#include <cstdint>
#include <string>

#include "engram_args.h"
#include "engram_error.h"
#include "hashed_gather.h"

namespace engram {
namespace {
engram_status_t bad(const std::string& what) {
    return fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_hashed_gather: " + what);
}
}  // namespace

engram_status_t check_hashed_gather_args(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                         const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                         const int64_t* multipliers, int32_t max_ngram_size,
                                         const int64_t* moduli, const int64_t* row_offsets,
                                         int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                         int32_t head_dim, int32_t dtype, const void* d_out,
                                         const int64_t* d_hash_ids_out, HashedGatherParams* params) {
    return check_hashed_gather_table_args(d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers,
                                          max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table,
                                          dtype_elem_bytes(dtype), table_rows, head_dim, dtype, d_out, d_hash_ids_out,
                                          params);
}

engram_status_t check_hashed_gather_table_args(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                               const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                               const int64_t* multipliers, int32_t max_ngram_size,
                                               const int64_t* moduli, const int64_t* row_offsets,
                                               int32_t heads_per_ngram, const void* d_table, int32_t table_elem_bytes,
                                               int64_t table_rows, int32_t head_dim, int32_t dtype, const void* d_out,
                                               const int64_t* d_hash_ids_out, HashedGatherParams* params) {
    if (!d_raw_ids) return bad("null d_raw_ids");
    if (!multipliers) return bad("null multipliers");
    if (!moduli) return bad("null moduli");
    if (!row_offsets) return bad("null row_offsets");
    if (!d_table) return bad("null d_table");
    if (!d_out) return bad("null d_out");
    if (batch < 0 || seq_len < 0) return bad("batch and seq_len must be >= 0");
    if (seq_len != 0 && batch > INT64_MAX / seq_len) return bad("batch * seq_len overflows int64");
    if (d_lut && lut_size < 0) return bad("lut_size must be >= 0");
    if (max_ngram_size < 2 || max_ngram_size > kGatherMaxNgram) {
        return bad(out_of_range_text("max_ngram_size", max_ngram_size, 2, kGatherMaxNgram));
    }
    if (heads_per_ngram < 1) return bad("heads_per_ngram must be >= 1");
    const int64_t heads = static_cast<int64_t>(max_ngram_size - 1) * heads_per_ngram;
    if (heads > kGatherMaxHeads) {
        return bad("(max_ngram_size - 1) * heads_per_ngram must be <= " + std::to_string(kGatherMaxHeads) +
                   ", got " + std::to_string(heads));
    }
    const int32_t elem_bytes = dtype_elem_bytes(dtype);
    if (elem_bytes == 0) return bad(unknown_dtype_text(dtype));
    if (table_elem_bytes < 1) return bad("table element size must be >= 1, got " + std::to_string(table_elem_bytes));
    if (misaligned(d_raw_ids, 8) || (d_lut && misaligned(d_lut, 8))) {
        return bad("d_raw_ids and d_lut must be 8-byte aligned");
    }
    // The kernel stores int64 hash ids: a misaligned store would be a sticky CUDA error, not a status.
    if (d_hash_ids_out && misaligned(d_hash_ids_out, 8)) return bad("d_hash_ids_out must be 8-byte aligned");
    if (table_elem_bytes == elem_bytes && (misaligned(d_table, elem_bytes) || misaligned(d_out, elem_bytes))) {
        return bad("d_table and d_out must be aligned to the dtype's " + std::to_string(elem_bytes) + "-byte elements");
    }
    if (misaligned(d_table, table_elem_bytes)) {
        return bad("d_table must be aligned to its " + std::to_string(table_elem_bytes) + "-byte elements");
    }
    if (misaligned(d_out, elem_bytes)) {
        return bad("d_out must be aligned to the dtype's " + std::to_string(elem_bytes) + "-byte elements");
    }
    if (head_dim < 1 || head_dim > kGatherMaxHeadDim) {
        return bad(out_of_range_text("head_dim", head_dim, 1, kGatherMaxHeadDim));
    }
    if (table_rows < 0) return bad("table_rows must be >= 0");
    if (table_rows > INT64_MAX / head_dim / table_elem_bytes) return bad("table_rows * head_dim bytes overflows int64");
    const int64_t tokens = batch * seq_len;
    if (tokens != 0 && tokens > INT64_MAX / (heads * head_dim * elem_bytes)) {
        return bad("batch * seq_len * heads * head_dim bytes overflows int64");
    }
    for (int64_t h = 0; h < heads; ++h) {
        if (moduli[h] <= 0) {
            return bad("every modulus must be > 0, got moduli[" + std::to_string(h) + "] = " + std::to_string(moduli[h]));
        }
        // Memory safety: every row a head can address, row_offsets[h] + [0, moduli[h]), is in the table.
        if (row_offsets[h] < 0 || row_offsets[h] > table_rows - moduli[h]) {
            return bad("head " + std::to_string(h) + " addresses rows [" + std::to_string(row_offsets[h]) + ", " +
                       std::to_string(row_offsets[h]) + " + " + std::to_string(moduli[h]) +
                       ") outside the table's " + std::to_string(table_rows) + " rows");
        }
    }
    params->batch = batch;
    params->seq_len = seq_len;
    params->tokens = tokens;
    params->lut_size = d_lut ? lut_size : 0;
    params->pad_id = pad_id_compressed;
    params->max_ngram = max_ngram_size;
    params->heads_per_ngram = heads_per_ngram;
    params->heads = static_cast<int32_t>(heads);
    params->head_dim = head_dim;
    params->dtype = dtype;
    params->elem_bytes = elem_bytes;
    for (int32_t k = 0; k < kGatherMaxNgram; ++k) params->multipliers[k] = k < max_ngram_size ? multipliers[k] : 0;
    for (int32_t h = 0; h < kGatherMaxHeads; ++h) {
        params->moduli[h] = h < heads ? moduli[h] : 1;
        params->row_offsets[h] = h < heads ? row_offsets[h] : 0;
    }
    return ok();
}

}  // namespace engram
