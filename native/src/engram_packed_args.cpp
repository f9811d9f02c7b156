// Host-side argument checks of the packed entry points (kernels/packed.h): the rectangular checks with
// batch = 1, seq_len = tokens (their messages re-labelled with the packed entry point's name), plus the
// packed descriptors and the state. No CUDA call, so they also run on machines without a GPU.
#include <cstdint>
#include <string>

#include "engram_args.h"
#include "engram_error.h"
#include "packed.h"

namespace engram {

// Re-labels the last error of a rectangular check ("engram_short_conv: why") as `name`'s ("name: why").
engram_status_t relabel(const char* name, const char* rectangular) {
    std::string text = engram_last_error();
    const std::string prefix = std::string(rectangular) + ": ";
    if (text.rfind(prefix, 0) == 0) text = text.substr(prefix.size());
    return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(name) + ": " + text);
}

std::string packed_problem(int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
                           const uint8_t* d_seq_starts, int32_t num_seqs, int32_t num_slots) {
    if (tokens < 0) return "tokens must be >= 0, got " + std::to_string(tokens);
    if (tokens > INT32_MAX) return "tokens must fit int32 (cu_seqlens is int32), got " + std::to_string(tokens);
    if (num_seqs < 0) return "num_seqs must be >= 0, got " + std::to_string(num_seqs);
    if (num_slots < 0) return "num_slots must be >= 0, got " + std::to_string(num_slots);
    if (!d_cu_seqlens) return "null d_cu_seqlens";
    if (misaligned(d_cu_seqlens, 4)) return "d_cu_seqlens must be 4-byte aligned";
    if (num_seqs > 0) {
        if (!d_seq_slots) return "null d_seq_slots";
        if (!d_seq_starts) return "null d_seq_starts";
        if (misaligned(d_seq_slots, 4)) return "d_seq_slots must be 4-byte aligned";
    }
    if (num_seqs == 0 && tokens != 0) return "tokens = " + std::to_string(tokens) + " but no sequences";
    return "";
}

engram_status_t check_hashed_gather_packed_args(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                                const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                                int32_t num_seqs, const int64_t* d_history, int32_t num_slots,
                                                const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                const int64_t* multipliers, int32_t max_ngram_size,
                                                const int64_t* moduli, const int64_t* row_offsets,
                                                int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                                int32_t head_dim, int32_t dtype, const void* d_out,
                                                const int64_t* d_hash_ids_out, PackedGatherParams* params) {
    static const char* kName = "engram_hashed_gather_packed";
    if (std::string why = packed_problem(tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, num_slots);
        !why.empty()) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": " + why);
    }
    if (d_history && misaligned(d_history, 8)) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": d_history must be 8-byte aligned");
    }
    if (check_hashed_gather_args(d_raw_ids, 1, tokens, d_lut, lut_size, pad_id_compressed, multipliers, max_ngram_size,
                                 moduli, row_offsets, heads_per_ngram, d_table, table_rows, head_dim, dtype, d_out,
                                 d_hash_ids_out, &params->gather) != ENGRAM_STATUS_SUCCESS) {
        return relabel(kName, "engram_hashed_gather");
    }
    params->num_seqs = num_seqs;
    params->num_slots = d_history ? num_slots : 0;  // no history: every sequence reads pad
    return ok();
}

engram_status_t check_short_conv_packed_args(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                             float eps, int64_t tokens, const int32_t* d_cu_seqlens,
                                             const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                             int32_t num_seqs, const void* d_conv_state, int32_t num_slots,
                                             int32_t hc_mult, int32_t hidden, int32_t kernel_size, int32_t dilation,
                                             int32_t dtype, const void* d_out, PackedShortConvParams* params) {
    static const char* kName = "engram_short_conv_packed";
    if (std::string why = packed_problem(tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, num_slots);
        !why.empty()) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": " + why);
    }
    if (check_short_conv_args(d_value, d_norm_w, d_conv_w, eps, 1, tokens, hc_mult, hidden, kernel_size, dilation,
                              dtype, d_out, &params->conv) != ENGRAM_STATUS_SUCCESS) {
        return relabel(kName, "engram_short_conv");
    }
    const int64_t window = static_cast<int64_t>(kernel_size - 1) * dilation;
    if (window > INT32_MAX) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, std::string(kName) + ": (kernel_size - 1) * dilation overflows int32");
    }
    if (d_conv_state && misaligned(d_conv_state, params->conv.elem_bytes)) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT,
                    std::string(kName) + ": d_conv_state must be aligned to the dtype's elements");
    }
    params->num_seqs = num_seqs;
    params->num_slots = d_conv_state ? num_slots : 0;  // no window: every sequence reads zeros
    params->window = static_cast<int32_t>(window);
    return ok();
}

engram_status_t check_state_commit_args(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                        const int32_t* d_seq_slots, const uint8_t* d_seq_starts, int32_t num_seqs,
                                        int32_t num_slots, const int64_t* d_lut, int64_t lut_size,
                                        int64_t pad_id_compressed, int32_t max_ngram_size, const int64_t* d_history,
                                        const void* d_value, int32_t hc_mult, int32_t hidden, int32_t kernel_size,
                                        int32_t dilation, int32_t dtype, const void* d_conv_state,
                                        StateCommitParams* params) {
    auto bad = [](const std::string& what) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_state_commit: " + what);
    };
    if (std::string why = packed_problem(tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, num_slots);
        !why.empty()) {
        return bad(why);
    }
    if (!d_history && !d_conv_state) return bad("d_history and d_conv_state are both NULL: nothing to commit");
    *params = StateCommitParams{};
    params->tokens = tokens;
    params->num_seqs = num_seqs;
    params->num_slots = num_slots;
    params->pad_id = pad_id_compressed;
    if (d_history) {
        if (max_ngram_size < 2 || max_ngram_size > kGatherMaxNgram) {
            return bad(out_of_range_text("max_ngram_size", max_ngram_size, 2, kGatherMaxNgram));
        }
        if (misaligned(d_history, 8)) return bad("d_history must be 8-byte aligned");
        if (tokens > 0 && !d_raw_ids) return bad("null d_raw_ids");
        if (d_raw_ids && misaligned(d_raw_ids, 8)) return bad("d_raw_ids must be 8-byte aligned");
        if (d_lut && lut_size < 0) return bad("lut_size must be >= 0");
        if (d_lut && misaligned(d_lut, 8)) return bad("d_lut must be 8-byte aligned");
        params->history = max_ngram_size - 1;
        params->lut_size = d_lut ? lut_size : 0;
    }
    if (d_conv_state) {
        if (hc_mult < 1 || hc_mult > kGateMaxHcMult) return bad(out_of_range_text("hc_mult", hc_mult, 1, kGateMaxHcMult));
        if (hidden < 1 || hidden > kGateMaxHidden) return bad(out_of_range_text("hidden", hidden, 1, kGateMaxHidden));
        if (kernel_size < 1 || kernel_size > kConvMaxKernel) {
            return bad(out_of_range_text("kernel_size", kernel_size, 1, kConvMaxKernel));
        }
        if (dilation < 1) return bad("dilation must be >= 1, got " + std::to_string(dilation));
        const int32_t elem = dtype_elem_bytes(dtype);
        if (elem == 0) return bad(unknown_dtype_text(dtype));
        if (tokens > 0 && !d_value) return bad("null d_value");
        if ((d_value && misaligned(d_value, elem)) || misaligned(d_conv_state, elem)) {
            return bad("d_value and d_conv_state must be aligned to the dtype's " + std::to_string(elem) +
                       "-byte elements");
        }
        const int64_t window = static_cast<int64_t>(kernel_size - 1) * dilation;
        if (window > INT32_MAX) return bad("(kernel_size - 1) * dilation overflows int32");
        params->window = static_cast<int32_t>(window);
        params->channels = hc_mult * hidden;  // <= 64 * 65536 fits int32
        params->dtype = dtype;
        params->elem_bytes = elem;
    }
    return ok();
}

}  // namespace engram
