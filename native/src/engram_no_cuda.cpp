// The CUDA entry points of a library built without nvcc: they say so instead of failing to link.
#include "engram_error.h"
#include "fp8_dequantize.h"
#include "gate_conv.h"
#include "hashed_gather.h"
#include "hashed_gather_fp8.h"
#include "packed.h"

ENGRAM_API int32_t engram_built_with_cuda(void) { return 0; }

ENGRAM_API engram_status_t engram_cuda_runtime_version(int32_t*) {
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_cuda_device_count(int32_t*) {
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_hashed_gather(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                                const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                const int64_t* multipliers, int32_t max_ngram_size,
                                                const int64_t* moduli, const int64_t* row_offsets,
                                                int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                                int32_t head_dim, int32_t dtype, void* d_out,
                                                int64_t* d_hash_ids_out, void*) {
    // The same argument check as the CUDA build, so bad arguments read the same in both.
    engram::HashedGatherParams p;
    engram_status_t st = engram::check_hashed_gather_args(
        d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers, max_ngram_size, moduli,
        row_offsets, heads_per_ngram, d_table, table_rows, head_dim, dtype, d_out, d_hash_ids_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_gate(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                       const void* d_hidden, const void* d_key_norm_w, const void* d_query_norm_w,
                                       float gate_eps, int64_t tokens, int32_t hc_mult, int32_t hidden,
                                       int32_t dtype, void* d_value_out, float* d_gate_out, void*) {
    engram::GateParams p;
    engram_status_t st = engram::check_gate_args(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                                 d_query_norm_w, gate_eps, tokens, hc_mult, hidden, dtype,
                                                 d_value_out, d_gate_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_short_conv(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                             float eps, int64_t batch, int64_t seq_len, int32_t hc_mult,
                                             int32_t hidden, int32_t kernel_size, int32_t dilation, int32_t dtype,
                                             void* d_out, void*) {
    engram::ShortConvParams p;
    engram_status_t st = engram::check_short_conv_args(d_value, d_norm_w, d_conv_w, eps, batch, seq_len, hc_mult,
                                                       hidden, kernel_size, dilation, dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_gate_short_conv(const void* d_proj, const void* d_key_bias,
                                                  const void* d_value_bias, const void* d_hidden,
                                                  const void* d_key_norm_w, const void* d_query_norm_w,
                                                  float gate_eps, const void* d_conv_norm_w, const void* d_conv_w,
                                                  float conv_eps, int64_t batch, int64_t seq_len, int32_t hc_mult,
                                                  int32_t hidden, int32_t kernel_size, int32_t dilation,
                                                  int32_t dtype, void* d_out, float* d_gate_out, void*) {
    engram::GateShortConvParams p;
    engram_status_t st = engram::check_gate_short_conv_args(
        d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w, d_query_norm_w, gate_eps, d_conv_norm_w, d_conv_w,
        conv_eps, batch, seq_len, hc_mult, hidden, kernel_size, dilation, dtype, d_out, d_gate_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_hashed_gather_packed(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const void* d_table,
    int64_t table_rows, int32_t head_dim, int32_t dtype, void* d_out, int64_t* d_hash_ids_out, void*) {
    engram::PackedGatherParams p;
    engram_status_t st = engram::check_hashed_gather_packed_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_history, num_slots, d_lut, lut_size,
        pad_id_compressed, multipliers, max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, table_rows,
        head_dim, dtype, d_out, d_hash_ids_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_short_conv_packed(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                                    float eps, int64_t tokens, const int32_t* d_cu_seqlens,
                                                    const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                                    int32_t num_seqs, const void* d_conv_state, int32_t num_slots,
                                                    int32_t hc_mult, int32_t hidden, int32_t kernel_size,
                                                    int32_t dilation, int32_t dtype, void* d_out, void*) {
    engram::PackedShortConvParams p;
    engram_status_t st = engram::check_short_conv_packed_args(
        d_value, d_norm_w, d_conv_w, eps, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_conv_state,
        num_slots, hc_mult, hidden, kernel_size, dilation, dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_state_commit(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                               const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                               int32_t num_seqs, int32_t num_slots, const int64_t* d_lut,
                                               int64_t lut_size, int64_t pad_id_compressed, int32_t max_ngram_size,
                                               int64_t* d_history, const void* d_value, int32_t hc_mult,
                                               int32_t hidden, int32_t kernel_size, int32_t dilation, int32_t dtype,
                                               void* d_conv_state, void*) {
    engram::StateCommitParams p;
    engram_status_t st = engram::check_state_commit_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, num_slots, d_lut, lut_size,
        pad_id_compressed, max_ngram_size, d_history, d_value, hc_mult, hidden, kernel_size, dilation, dtype,
        d_conv_state, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_hashed_gather_fp8(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                                    const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                    const int64_t* multipliers, int32_t max_ngram_size,
                                                    const int64_t* moduli, const int64_t* row_offsets,
                                                    int32_t heads_per_ngram, const uint8_t* d_table,
                                                    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim,
                                                    int32_t scale_block, int32_t out_dtype, void* d_out,
                                                    int64_t* d_hash_ids_out, void*) {
    engram::HashedGatherParams p;
    engram::Fp8Scales f;
    engram_status_t st = engram::check_hashed_gather_fp8_args(
        d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers, max_ngram_size, moduli,
        row_offsets, heads_per_ngram, d_table, d_scales, table_rows, head_dim, scale_block, out_dtype, d_out,
        d_hash_ids_out, &p, &f);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_hashed_gather_fp8_packed(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const uint8_t* d_table,
    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim, int32_t scale_block, int32_t out_dtype, void* d_out,
    int64_t* d_hash_ids_out, void*) {
    engram::PackedGatherParams p;
    engram::Fp8Scales f;
    engram_status_t st = engram::check_hashed_gather_fp8_packed_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_history, num_slots, d_lut, lut_size,
        pad_id_compressed, multipliers, max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, d_scales,
        table_rows, head_dim, scale_block, out_dtype, d_out, d_hash_ids_out, &p, &f);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_fp8_dequantize_rows(const uint8_t* d_codes, const uint8_t* d_scales, int64_t rows,
                                                      int32_t head_dim, int32_t scale_block, int32_t out_dtype,
                                                      void* d_out, void*) {
    engram::Fp8DequantizeParams p;
    engram_status_t st =
        engram::check_fp8_dequantize_args(d_codes, d_scales, rows, head_dim, scale_block, out_dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}
