// Packed batches with carried state (engram.h, "Packed batches", SEMANTICS.md 8): the launch parameters
// of engram_hashed_gather_packed, engram_short_conv_packed and engram_state_commit, and their host-side
// argument checks (native/src/engram_packed_args.cpp), shared by the CUDA build, the no-CUDA stub and the
// CUDA simulator so all three reject bad arguments identically, before any CUDA call.
#pragma once

#include <stdint.h>

#include "engram.h"
#include "gate_conv.h"
#include "hashed_gather.h"

namespace engram {

// The device descriptors of a packed batch (pointers are checked for NULL/alignment, not their contents).
struct PackedBatch {
    const int32_t* cu_seqlens;  // [num_seqs + 1]
    const int32_t* seq_slots;   // [num_seqs]
    const uint8_t* seq_starts;  // [num_seqs]
    int32_t num_seqs;
    int32_t num_slots;
};

// engram_hashed_gather_packed: the rectangular parameters with batch = 1, seq_len = tokens.
struct PackedGatherParams {
    HashedGatherParams gather;
    int32_t num_seqs;
    int32_t num_slots;
};

// engram_short_conv_packed: the rectangular parameters with batch = 1, seq_len = tokens, and the window.
struct PackedShortConvParams {
    ShortConvParams conv;
    int32_t num_seqs;
    int32_t num_slots;
    int32_t window;  // W = (kernel_size - 1) * dilation
};

// engram_state_commit.
struct StateCommitParams {
    int64_t tokens;
    int64_t lut_size;  // 0 without a lut
    int64_t pad_id;    // compressed
    int32_t num_seqs;
    int32_t num_slots;
    int32_t history;  // M = max_ngram_size - 1, 0 when d_history == NULL
    int32_t window;   // W, 0 when d_conv_state == NULL
    int32_t channels;  // G * H (when window > 0)
    int32_t dtype;
    int32_t elem_bytes;
};

// Each records the last error ("engram_hashed_gather_packed: ..." etc.) and returns
// ENGRAM_STATUS_INVALID_ARGUMENT on failure, else fills `params` and returns SUCCESS.
engram_status_t check_hashed_gather_packed_args(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                                const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                                int32_t num_seqs, const int64_t* d_history, int32_t num_slots,
                                                const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                const int64_t* multipliers, int32_t max_ngram_size,
                                                const int64_t* moduli, const int64_t* row_offsets,
                                                int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                                int32_t head_dim, int32_t dtype, const void* d_out,
                                                const int64_t* d_hash_ids_out, PackedGatherParams* params);

engram_status_t check_short_conv_packed_args(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                             float eps, int64_t tokens, const int32_t* d_cu_seqlens,
                                             const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                             int32_t num_seqs, const void* d_conv_state, int32_t num_slots,
                                             int32_t hc_mult, int32_t hidden, int32_t kernel_size, int32_t dilation,
                                             int32_t dtype, const void* d_out, PackedShortConvParams* params);

engram_status_t check_state_commit_args(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                        const int32_t* d_seq_slots, const uint8_t* d_seq_starts, int32_t num_seqs,
                                        int32_t num_slots, const int64_t* d_lut, int64_t lut_size,
                                        int64_t pad_id_compressed, int32_t max_ngram_size, const int64_t* d_history,
                                        const void* d_value, int32_t hc_mult, int32_t hidden, int32_t kernel_size,
                                        int32_t dilation, int32_t dtype, const void* d_conv_state,
                                        StateCommitParams* params);

}  // namespace engram
