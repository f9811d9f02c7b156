// The hashed gather from fp8 tables (kernels/hashed_gather_fp8.cu, engram.h "fp8 tables"): the scale
// parameters its kernel takes beside kernels/hashed_gather.h's, and the host-side argument checks
// (native/src/engram_fp8_gather_args.cpp), shared by the CUDA build, the no-CUDA stub and the CUDA
// simulator so all three reject bad arguments identically, before any CUDA call.
#pragma once

#include <stdint.h>

#include "engram.h"
#include "hashed_gather.h"
#include "packed.h"

namespace engram {

// The table's E8M0 scales: one per block of `block` consecutive values of a row.
struct Fp8Scales {
    int32_t block;    // >= 1, divides head_dim
    int32_t per_row;  // head_dim / block
};

// Each records the last error ("engram_hashed_gather_fp8: ..." / "engram_hashed_gather_fp8_packed: ...")
// and returns ENGRAM_STATUS_INVALID_ARGUMENT on failure, else fills the parameters and returns SUCCESS.
// `params` (`params->gather`) describe the OUTPUT rows: dtype = out_dtype, elem_bytes its size.
engram_status_t check_hashed_gather_fp8_args(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                             const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                             const int64_t* multipliers, int32_t max_ngram_size,
                                             const int64_t* moduli, const int64_t* row_offsets,
                                             int32_t heads_per_ngram, const uint8_t* d_table, const uint8_t* d_scales,
                                             int64_t table_rows, int32_t head_dim, int32_t scale_block,
                                             int32_t out_dtype, const void* d_out, const int64_t* d_hash_ids_out,
                                             HashedGatherParams* params, Fp8Scales* scales);

engram_status_t check_hashed_gather_fp8_packed_args(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const uint8_t* d_table,
    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim, int32_t scale_block, int32_t out_dtype,
    const void* d_out, const int64_t* d_hash_ids_out, PackedGatherParams* params, Fp8Scales* scales);

}  // namespace engram
