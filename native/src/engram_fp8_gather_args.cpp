// Host-side argument checks of the fp8-table gathers (kernels/hashed_gather_fp8.h): the checks of
// engram_hashed_gather / engram_hashed_gather_packed for a table of 1-byte codes gathered into rows of
// out_dtype (their messages re-labelled with the fp8 entry point's name), plus the scales. No CUDA call,
// so they also run on machines without a GPU.
#include <cstdint>
#include <string>

#include "engram_args.h"
#include "engram_error.h"
#include "hashed_gather_fp8.h"

namespace engram {

namespace {

constexpr int32_t kFp8Bytes = 1;

// "" when the scale arguments fit a valid head_dim, else the reason.
std::string scale_problem(const uint8_t* d_scales, int32_t head_dim, int32_t scale_block) {
    if (!d_scales) return "null d_scales";
    if (scale_block < 1) return "scale_block must be >= 1, got " + std::to_string(scale_block);
    if (head_dim % scale_block != 0) {
        return "scale_block " + std::to_string(scale_block) + " does not divide head_dim " + std::to_string(head_dim);
    }
    return "";
}

std::string out_dtype_problem(int32_t out_dtype) {
    if (out_dtype == ENGRAM_DTYPE_FLOAT32 || out_dtype == ENGRAM_DTYPE_BFLOAT16) return "";
    return "out_dtype must be ENGRAM_DTYPE_FLOAT32 = 0 or ENGRAM_DTYPE_BFLOAT16 = 1 (the table is E4M3), got " +
           std::to_string(out_dtype);
}

}  // namespace

engram_status_t check_hashed_gather_fp8_args(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                             const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                             const int64_t* multipliers, int32_t max_ngram_size,
                                             const int64_t* moduli, const int64_t* row_offsets,
                                             int32_t heads_per_ngram, const uint8_t* d_table, const uint8_t* d_scales,
                                             int64_t table_rows, int32_t head_dim, int32_t scale_block,
                                             int32_t out_dtype, const void* d_out, const int64_t* d_hash_ids_out,
                                             HashedGatherParams* params, Fp8Scales* scales) {
    static const char* kName = "engram_hashed_gather_fp8";
    if (std::string why = out_dtype_problem(out_dtype); !why.empty()) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": " + why);
    }
    if (check_hashed_gather_table_args(d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers,
                                       max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, kFp8Bytes,
                                       table_rows, head_dim, out_dtype, d_out, d_hash_ids_out,
                                       params) != ENGRAM_STATUS_SUCCESS) {
        return relabel(kName, "engram_hashed_gather");
    }
    if (std::string why = scale_problem(d_scales, head_dim, scale_block); !why.empty()) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": " + why);
    }
    scales->block = scale_block;
    scales->per_row = head_dim / scale_block;
    return ok();
}

engram_status_t check_hashed_gather_fp8_packed_args(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const uint8_t* d_table,
    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim, int32_t scale_block, int32_t out_dtype,
    const void* d_out, const int64_t* d_hash_ids_out, PackedGatherParams* params, Fp8Scales* scales) {
    static const char* kName = "engram_hashed_gather_fp8_packed";
    if (std::string why = packed_problem(tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, num_slots);
        !why.empty()) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": " + why);
    }
    if (d_history && misaligned(d_history, 8)) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": d_history must be 8-byte aligned");
    }
    if (check_hashed_gather_fp8_args(d_raw_ids, 1, tokens, d_lut, lut_size, pad_id_compressed, multipliers,
                                     max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, d_scales,
                                     table_rows, head_dim, scale_block, out_dtype, d_out, d_hash_ids_out,
                                     &params->gather, scales) != ENGRAM_STATUS_SUCCESS) {
        return relabel(kName, "engram_hashed_gather_fp8");
    }
    params->num_seqs = num_seqs;
    params->num_slots = d_history ? num_slots : 0;  // no history: every sequence reads pad
    return ok();
}

}  // namespace engram
