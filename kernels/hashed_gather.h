// The fused hashed gather (kernels/hashed_gather.cu): its launch parameters and the host-side
// argument check, shared by the CUDA build and the no-CUDA stub (native/src/engram_no_cuda.cpp) so
// both reject bad arguments identically, before any CUDA call.
#pragma once

#include <stdint.h>

#include "engram.h"

namespace engram {

// Limits of the per-layer constants passed by value to the kernel (1,160 bytes of parameters).
constexpr int32_t kGatherMaxNgram = 16;  // max_ngram_size <= 16 (orders 2..16)
constexpr int32_t kGatherMaxHeads = 64;  // (max_ngram_size - 1) * heads_per_ngram <= 64
constexpr int32_t kGatherMaxHeadDim = 65536;

// Everything the kernel needs besides pointers: copied by value into the kernel's parameter space.
struct HashedGatherParams {
    int64_t batch;
    int64_t seq_len;
    int64_t tokens;  // batch * seq_len
    int64_t lut_size;
    int64_t pad_id;  // already compressed
    int32_t max_ngram;
    int32_t heads_per_ngram;
    int32_t heads;  // (max_ngram - 1) * heads_per_ngram
    int32_t head_dim;
    int32_t dtype;
    int32_t elem_bytes;
    int64_t multipliers[kGatherMaxNgram];
    int64_t moduli[kGatherMaxHeads];
    int64_t row_offsets[kGatherMaxHeads];
};

// Validates the arguments of engram_hashed_gather and fills `params`. On failure records the
// last error ("engram_hashed_gather: ...") and returns ENGRAM_STATUS_INVALID_ARGUMENT.
engram_status_t check_hashed_gather_args(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                         const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                         const int64_t* multipliers, int32_t max_ngram_size,
                                         const int64_t* moduli, const int64_t* row_offsets,
                                         int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                         int32_t head_dim, int32_t dtype, const void* d_out,
                                         const int64_t* d_hash_ids_out, HashedGatherParams* params);

// The same check for a table of table_elem_bytes-byte elements gathered into rows of `dtype` (the fp8
// gathers: 1-byte E4M3 codes into FLOAT32 or BFLOAT16 rows); `params` describe the output rows.
// check_hashed_gather_args is this with the dtype's own element size.
engram_status_t check_hashed_gather_table_args(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                               const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                               const int64_t* multipliers, int32_t max_ngram_size,
                                               const int64_t* moduli, const int64_t* row_offsets,
                                               int32_t heads_per_ngram, const void* d_table, int32_t table_elem_bytes,
                                               int64_t table_rows, int32_t head_dim, int32_t dtype, const void* d_out,
                                               const int64_t* d_hash_ids_out, HashedGatherParams* params);

}  // namespace engram
