// engram_gate: key/query RMSNorms, the signed-sqrt sigmoid gate and the gated value, in one launch
// (engram.h documents the contract).
//
// One block of kThreads threads per (token, branch) (grid-stride beyond kMaxBlocks). Pass 1 reads
// the key projection + bias, the hidden row and both norm weights once, VEC elements per thread
// step, and accumulates in fp32 sum(k^2), sum(q^2) and sum(k*w1 * q*w2); a warp-shuffle then
// shared-memory block reduction gives every thread the three sums, so
//   dot = sum(k*w1*q*w2) * rsqrt_k * rsqrt_q / sqrt(H)
// without storing the normalized rows. Pass 2 writes gate * (v + b_v). The value row is read by all
// G blocks of a token (from L2 after the first).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <string>

#include "engram_error.h"
#include "gate_conv.h"
#include "gate_conv_device.cuh"
#include "vec_io.cuh"

namespace {

constexpr int kThreads = engram::kGateThreads;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kMaxBlocks = 1 << 20;

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads)
gate_kernel(const T* __restrict__ proj, const T* __restrict__ key_bias, const T* __restrict__ value_bias,
            const T* __restrict__ hidden, const T* __restrict__ key_w, const T* __restrict__ query_w,
            T* __restrict__ value_out, float* __restrict__ gate_out, const engram::GateParams p) {
    __shared__ float s_part[3][kWarps];
    const int H = p.hidden;
    const int G = p.hc_mult;
    const int units = H / VEC;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int64_t items = p.tokens * G;
    const int64_t proj_row = static_cast<int64_t>(G + 1) * H;
    const float inv_h = 1.0f / static_cast<float>(H);
    const float sqrt_h = sqrtf(static_cast<float>(H));

    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t tok = item / G;
        const int g = static_cast<int>(item - tok * G);
        const T* pk = proj + tok * proj_row + static_cast<int64_t>(g) * H;
        const T* pv = proj + tok * proj_row + static_cast<int64_t>(G) * H;
        const T* hq = hidden + item * H;
        const T* bk = key_bias + static_cast<int64_t>(g) * H;
        const T* wk = key_w + static_cast<int64_t>(g) * H;
        const T* wq = query_w + static_cast<int64_t>(g) * H;

        float skk = 0.f, sqq = 0.f, skq = 0.f;
        engram::gate_partial_sums<T, VEC>(pk, bk, hq, wk, wq, threadIdx.x, kThreads, units, skk, sqq, skq);
        skk = engram::warp_sum(skk);
        sqq = engram::warp_sum(sqq);
        skq = engram::warp_sum(skq);
        if (lane == 0) {
            s_part[0][warp] = skk;
            s_part[1][warp] = sqq;
            s_part[2][warp] = skq;
        }
        __syncthreads();
        skk = sqq = skq = 0.f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            skk += s_part[0][w];
            sqq += s_part[1][w];
            skq += s_part[2][w];
        }
        __syncthreads();  // s_part is rewritten by the next item

        const float gate = engram::gate_from_sums(skk, sqq, skq, inv_h, sqrt_h, p.eps);
        if (gate_out != nullptr && threadIdx.x == 0) gate_out[item] = gate;

        T* out = value_out + item * H;
        for (int u = threadIdx.x; u < units; u += kThreads) {
            const int off = u * VEC;
            float v[VEC], b[VEC];
            engram::load_f32<T, VEC>(pv + off, v);
            engram::load_f32<T, VEC>(value_bias + off, b);
#pragma unroll
            for (int i = 0; i < VEC; ++i) v[i] = engram::gated_value(gate, v[i], b[i]);
            engram::store_f32<T, VEC>(out + off, v);
        }
    }
}

template <typename T, int VEC>
cudaError_t launch(const void* proj, const void* kb, const void* vb, const void* hidden, const void* kw,
                   const void* qw, void* vout, float* gout, const engram::GateParams& p, cudaStream_t stream) {
    const int64_t items = p.tokens * p.hc_mult;
    const unsigned blocks = static_cast<unsigned>(items < kMaxBlocks ? items : kMaxBlocks);
    gate_kernel<T, VEC><<<blocks, kThreads, 0, stream>>>(
        static_cast<const T*>(proj), static_cast<const T*>(kb), static_cast<const T*>(vb),
        static_cast<const T*>(hidden), static_cast<const T*>(kw), static_cast<const T*>(qw), static_cast<T*>(vout),
        gout, p);
    return cudaGetLastError();
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

ENGRAM_API engram_status_t engram_gate(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                       const void* d_hidden, const void* d_key_norm_w, const void* d_query_norm_w,
                                       float gate_eps, int64_t tokens, int32_t hc_mult, int32_t hidden,
                                       int32_t dtype, void* d_value_out, float* d_gate_out, void* stream) {
    engram::GateParams p;
    engram_status_t st = engram::check_gate_args(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                                 d_query_norm_w, gate_eps, tokens, hc_mult, hidden, dtype,
                                                 d_value_out, d_gate_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.tokens == 0) return engram::ok();

    const bool vec16 = (static_cast<int64_t>(hidden) * p.elem_bytes) % 16 == 0 && aligned16(d_proj) &&
                       aligned16(d_key_bias) && aligned16(d_value_bias) && aligned16(d_hidden) &&
                       aligned16(d_key_norm_w) && aligned16(d_query_norm_w) && aligned16(d_value_out);
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t err;
    if (p.dtype == ENGRAM_DTYPE_FLOAT32) {
        err = vec16 ? launch<float, 4>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w, d_query_norm_w,
                                       d_value_out, d_gate_out, p, s)
                    : launch<float, 1>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w, d_query_norm_w,
                                       d_value_out, d_gate_out, p, s);
    } else {
        err = vec16 ? launch<__nv_bfloat16, 8>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                               d_query_norm_w, d_value_out, d_gate_out, p, s)
                    : launch<__nv_bfloat16, 1>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                               d_query_norm_w, d_value_out, d_gate_out, p, s);
    }
    if (err != cudaSuccess) {
        return engram::fail_cuda("engram_gate: kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}
