// Host-side argument checks of engram_gate, engram_short_conv and engram_gate_short_conv: no CUDA call, so they also run
// (and are tested) on machines without a GPU, driver or nvcc.
#include <cmath>
#include <cstdint>
#include <string>

#include "engram_args.h"
#include "engram_error.h"
#include "gate_conv.h"

namespace engram {

namespace {

// The limits the three entry points share; each returns "" when the arguments are fine, else the text.
std::string hc_hidden_problem(int32_t hc_mult, int32_t hidden) {
    if (hc_mult < 1 || hc_mult > kGateMaxHcMult) return out_of_range_text("hc_mult", hc_mult, 1, kGateMaxHcMult);
    if (hidden < 1 || hidden > kGateMaxHidden) return out_of_range_text("hidden", hidden, 1, kGateMaxHidden);
    return "";
}

std::string conv_shape_problem(int32_t kernel_size, int32_t dilation) {
    if (kernel_size < 1 || kernel_size > kConvMaxKernel) {
        return out_of_range_text("kernel_size", kernel_size, 1, kConvMaxKernel);
    }
    if (dilation < 1) return "dilation must be >= 1, got " + std::to_string(dilation);
    return "";
}

std::string eps_problem(const char* name, float eps) {
    if (!(std::isfinite(eps) && eps > 0.0f)) return std::string(name) + " must be finite and > 0";
    return "";
}

std::string aligned_text(int32_t elem) {
    return "tensor pointers must be aligned to the dtype's " + std::to_string(elem) + "-byte elements";
}

}  // namespace

engram_status_t check_gate_args(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                const void* d_hidden, const void* d_key_norm_w, const void* d_query_norm_w,
                                float gate_eps, int64_t tokens, int32_t hc_mult, int32_t hidden, int32_t dtype,
                                const void* d_value_out, const float* d_gate_out, GateParams* params) {
    auto bad = [](const std::string& what) { return fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_gate: " + what); };
    if (!d_proj) return bad("null d_proj");
    if (!d_key_bias) return bad("null d_key_bias");
    if (!d_value_bias) return bad("null d_value_bias");
    if (!d_hidden) return bad("null d_hidden");
    if (!d_key_norm_w) return bad("null d_key_norm_w");
    if (!d_query_norm_w) return bad("null d_query_norm_w");
    if (!d_value_out) return bad("null d_value_out");
    if (tokens < 0) return bad("tokens must be >= 0, got " + std::to_string(tokens));
    if (std::string why = hc_hidden_problem(hc_mult, hidden); !why.empty()) return bad(why);
    const int32_t elem = dtype_elem_bytes(dtype);
    if (elem == 0) return bad(unknown_dtype_text(dtype));
    if (std::string why = eps_problem("gate_eps", gate_eps); !why.empty()) return bad(why);
    if (misaligned(d_proj, elem) || misaligned(d_key_bias, elem) || misaligned(d_value_bias, elem) ||
        misaligned(d_hidden, elem) || misaligned(d_key_norm_w, elem) || misaligned(d_query_norm_w, elem) ||
        misaligned(d_value_out, elem)) {
        return bad(aligned_text(elem));
    }
    if (d_gate_out && misaligned(d_gate_out, 4)) return bad("d_gate_out must be 4-byte aligned");
    // The largest tensor is d_proj, [tokens, (hc_mult + 1) * hidden] elements.
    const int64_t row_bytes = static_cast<int64_t>(hc_mult + 1) * hidden * elem;
    if (tokens != 0 && tokens > INT64_MAX / row_bytes) return bad("tokens * (hc_mult + 1) * hidden bytes overflows int64");
    params->tokens = tokens;
    params->hc_mult = hc_mult;
    params->hidden = hidden;
    params->dtype = dtype;
    params->elem_bytes = elem;
    params->eps = gate_eps;
    return ok();
}

engram_status_t check_short_conv_args(const void* d_value, const void* d_norm_w, const void* d_conv_w, float eps,
                                      int64_t batch, int64_t seq_len, int32_t hc_mult, int32_t hidden,
                                      int32_t kernel_size, int32_t dilation, int32_t dtype, const void* d_out,
                                      ShortConvParams* params) {
    auto bad = [](const std::string& what) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_short_conv: " + what);
    };
    if (!d_value) return bad("null d_value");
    if (!d_norm_w) return bad("null d_norm_w");
    if (!d_conv_w) return bad("null d_conv_w");
    if (!d_out) return bad("null d_out");
    if (d_out == d_value) return bad("d_out must not be d_value (the conv reads neighbouring time steps)");
    if (batch < 0 || seq_len < 0) return bad("batch and seq_len must be >= 0");
    if (std::string why = hc_hidden_problem(hc_mult, hidden); !why.empty()) return bad(why);
    if (std::string why = conv_shape_problem(kernel_size, dilation); !why.empty()) return bad(why);
    const int32_t elem = dtype_elem_bytes(dtype);
    if (elem == 0) return bad(unknown_dtype_text(dtype));
    if (std::string why = eps_problem("eps", eps); !why.empty()) return bad(why);
    if (misaligned(d_value, elem) || misaligned(d_norm_w, elem) || misaligned(d_conv_w, elem) ||
        misaligned(d_out, elem)) {
        return bad(aligned_text(elem));
    }
    const int64_t row_bytes = static_cast<int64_t>(hc_mult) * hidden * elem;
    if (seq_len != 0 && batch > INT64_MAX / seq_len) return bad("batch * seq_len overflows int64");
    const int64_t tokens = batch * seq_len;
    if (tokens != 0 && tokens > INT64_MAX / row_bytes) {
        return bad("batch * seq_len * hc_mult * hidden bytes overflows int64");
    }
    params->batch = batch;
    params->seq_len = seq_len;
    params->dilation = dilation;
    params->hc_mult = hc_mult;
    params->hidden = hidden;
    params->kernel_size = kernel_size;
    params->dtype = dtype;
    params->elem_bytes = elem;
    params->eps = eps;
    return ok();
}

engram_status_t check_gate_short_conv_args(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                           const void* d_hidden, const void* d_key_norm_w,
                                           const void* d_query_norm_w, float gate_eps, const void* d_conv_norm_w,
                                           const void* d_conv_w, float conv_eps, int64_t batch, int64_t seq_len,
                                           int32_t hc_mult, int32_t hidden, int32_t kernel_size, int32_t dilation,
                                           int32_t dtype, const void* d_out, const float* d_gate_out,
                                           GateShortConvParams* params) {
    auto bad = [](const std::string& what) {
        return fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_gate_short_conv: " + what);
    };
    if (!d_proj) return bad("null d_proj");
    if (!d_key_bias) return bad("null d_key_bias");
    if (!d_value_bias) return bad("null d_value_bias");
    if (!d_hidden) return bad("null d_hidden");
    if (!d_key_norm_w) return bad("null d_key_norm_w");
    if (!d_query_norm_w) return bad("null d_query_norm_w");
    if (!d_conv_norm_w) return bad("null d_conv_norm_w");
    if (!d_conv_w) return bad("null d_conv_w");
    if (!d_out) return bad("null d_out");
    if (d_out == d_proj) return bad("d_out must not be d_proj (the conv reads neighbouring time steps)");
    if (d_out == d_hidden) return bad("d_out must not be d_hidden (the conv reads neighbouring time steps)");
    if (batch < 0 || seq_len < 0) return bad("batch and seq_len must be >= 0");
    if (std::string why = hc_hidden_problem(hc_mult, hidden); !why.empty()) return bad(why);
    if (std::string why = conv_shape_problem(kernel_size, dilation); !why.empty()) return bad(why);
    const int32_t elem = dtype_elem_bytes(dtype);
    if (elem == 0) return bad(unknown_dtype_text(dtype));
    if (std::string why = eps_problem("gate_eps", gate_eps); !why.empty()) return bad(why);
    if (std::string why = eps_problem("conv_eps", conv_eps); !why.empty()) return bad(why);
    if (misaligned(d_proj, elem) || misaligned(d_key_bias, elem) || misaligned(d_value_bias, elem) ||
        misaligned(d_hidden, elem) || misaligned(d_key_norm_w, elem) || misaligned(d_query_norm_w, elem) ||
        misaligned(d_conv_norm_w, elem) || misaligned(d_conv_w, elem) || misaligned(d_out, elem)) {
        return bad(aligned_text(elem));
    }
    if (d_gate_out && misaligned(d_gate_out, 4)) return bad("d_gate_out must be 4-byte aligned");
    if (seq_len != 0 && batch > INT64_MAX / seq_len) return bad("batch * seq_len overflows int64");
    const int64_t tokens = batch * seq_len;
    // The largest tensor is d_proj, [tokens, (hc_mult + 1) * hidden] elements.
    const int64_t row_bytes = static_cast<int64_t>(hc_mult + 1) * hidden * elem;
    if (tokens != 0 && tokens > INT64_MAX / row_bytes) {
        return bad("batch * seq_len * (hc_mult + 1) * hidden bytes overflows int64");
    }
    params->gate.tokens = tokens;
    params->gate.hc_mult = hc_mult;
    params->gate.hidden = hidden;
    params->gate.dtype = dtype;
    params->gate.elem_bytes = elem;
    params->gate.eps = gate_eps;
    params->conv.batch = batch;
    params->conv.seq_len = seq_len;
    params->conv.dilation = dilation;
    params->conv.hc_mult = hc_mult;
    params->conv.hidden = hidden;
    params->conv.kernel_size = kernel_size;
    params->conv.dtype = dtype;
    params->conv.elem_bytes = elem;
    params->conv.eps = conv_eps;
    return ok();
}

}  // namespace engram
