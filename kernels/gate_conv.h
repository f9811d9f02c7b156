// The gate (kernels/gate.cu), the short conv (kernels/short_conv.cu) and both fused
// (kernels/gate_short_conv.cu): launch parameters and the
// host-side argument checks, shared by the CUDA build and the no-CUDA stub
// (native/src/engram_no_cuda.cpp) so both reject bad arguments identically, before any CUDA call.
#pragma once

#include <stdint.h>

#include "engram.h"

namespace engram {

constexpr int32_t kGateMaxHcMult = 64;
constexpr int32_t kGateMaxHidden = 65536;
constexpr int32_t kConvMaxKernel = 16;

struct GateParams {
    int64_t tokens;
    int32_t hc_mult;
    int32_t hidden;
    int32_t dtype;
    int32_t elem_bytes;
    float eps;
};

struct ShortConvParams {
    int64_t batch;
    int64_t seq_len;
    int64_t dilation;
    int32_t hc_mult;
    int32_t hidden;
    int32_t kernel_size;
    int32_t dtype;
    int32_t elem_bytes;
    float eps;
};

// engram_gate_short_conv: the gate's parameters (tokens = batch * seq_len) and the conv's.
struct GateShortConvParams {
    GateParams gate;
    ShortConvParams conv;
};

// Validate the arguments of engram_gate / engram_short_conv and fill `params`. On failure they
// record the last error ("engram_gate: ..." / "engram_short_conv: ...") and return
// ENGRAM_STATUS_INVALID_ARGUMENT.
engram_status_t check_gate_args(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                const void* d_hidden, const void* d_key_norm_w, const void* d_query_norm_w,
                                float gate_eps, int64_t tokens, int32_t hc_mult, int32_t hidden, int32_t dtype,
                                const void* d_value_out, const float* d_gate_out, GateParams* params);

engram_status_t check_short_conv_args(const void* d_value, const void* d_norm_w, const void* d_conv_w, float eps,
                                      int64_t batch, int64_t seq_len, int32_t hc_mult, int32_t hidden,
                                      int32_t kernel_size, int32_t dilation, int32_t dtype, const void* d_out,
                                      ShortConvParams* params);

// The same for engram_gate_short_conv (messages "engram_gate_short_conv: ..."): the limits of both.
engram_status_t check_gate_short_conv_args(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                           const void* d_hidden, const void* d_key_norm_w,
                                           const void* d_query_norm_w, float gate_eps, const void* d_conv_norm_w,
                                           const void* d_conv_w, float conv_eps, int64_t batch, int64_t seq_len,
                                           int32_t hc_mult, int32_t hidden, int32_t kernel_size, int32_t dilation,
                                           int32_t dtype, const void* d_out, const float* d_gate_out,
                                           GateShortConvParams* params);

}  // namespace engram
