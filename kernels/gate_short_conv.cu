// engram_gate_short_conv: engram_gate followed by engram_short_conv on its output, in one launch and
// without storing the gated value u (engram.h documents the contract).
//
// One block of kThreads threads per (b, g, tile of kConvTile time steps) (grid-stride beyond kMaxBlocks),
// the tiling of kernels/short_conv.cu (engram::ConvTile: the window path for dilation <= kConvTile,
// else the per-tap path; at most kConvMaxKernel * kConvTile = 512 rows).
//   A. For every row (b, t', g) the tile reads, one warp per row: the gate scalar as kernels/gate.cu
//      computes it (key and query RMSNorm sums over H, engram::gate_from_sums), then the inverse RMS
//      (eps conv_eps) of the row u = gate * (v + b_v) ROUNDED TO THE STORAGE DTYPE, which is what
//      engram_short_conv reads back after engram_gate stored it. Gate and inverse RMS go to shared
//      memory (0 and 0 for rows before the sequence start, the zero padding).
//   B. engram::conv_tile_outputs, as in kernels/short_conv.cu, with the conv input of a row recomputed
//      from the value projection (L2-resident: the G blocks of a token and the tiles that share rows
//      read it) and the row's gate, rounded to the dtype again; the residual is the same rounded u.
// d_gate_out gets the gates of the tile's own rows only (every row is some tile's own row once).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <string>

#include "engram_error.h"
#include "gate_conv.h"
#include "gate_conv_device.cuh"
#include "vec_io.cuh"

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = engram::kConvTile;
constexpr int64_t kMaxBlocks = 1 << 20;

template <typename T, int VEC>
__global__ void ENGRAM_CONV_LAUNCH_BOUNDS(kThreads)
gate_short_conv_kernel(const T* __restrict__ proj, const T* __restrict__ key_bias, const T* __restrict__ value_bias,
                       const T* __restrict__ hidden, const T* __restrict__ key_w, const T* __restrict__ query_w,
                       const T* __restrict__ conv_norm_w, const T* __restrict__ conv_w, T* __restrict__ out,
                       float* __restrict__ gate_out, const engram::GateShortConvParams p) {
    __shared__ float s_gate[engram::kConvMaxKernel * kTile];
    __shared__ float s_inv[engram::kConvMaxKernel * kTile];
    const int H = p.conv.hidden;
    const int G = p.conv.hc_mult;
    const int K = p.conv.kernel_size;
    const int64_t dil = p.conv.dilation;
    const int64_t T_len = p.conv.seq_len;
    const int units = H / VEC;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const float inv_h = 1.0f / static_cast<float>(H);
    const float sqrt_h = sqrtf(static_cast<float>(H));
    const int64_t tiles = (T_len + kTile - 1) / kTile;
    const int64_t items = p.conv.batch * G * tiles;
    const int64_t proj_row = static_cast<int64_t>(G + 1) * H;  // between consecutive tokens of proj
    const int64_t row_stride = static_cast<int64_t>(G) * H;    // ... of hidden and out
    const bool window = dil <= kTile;

    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t tile = item % tiles;
        const int64_t bg = item / tiles;
        const int g = static_cast<int>(bg % G);
        const int64_t b = bg / G;
        const int64_t t0 = tile * kTile;
        const int tt = static_cast<int>(T_len - t0 < kTile ? T_len - t0 : kTile);
        const engram::ConvTile c{t0, dil, tt, K, window};
        const int64_t tok0 = b * T_len;  // token of (b, t = 0)
        // Value projection of (b, t) at pv0 + t * proj_row; output element (b, t, g, 0) at obase + t * row_stride.
        const T* pv0 = proj + tok0 * proj_row + static_cast<int64_t>(G) * H;
        T* obase = out + tok0 * row_stride + static_cast<int64_t>(g) * H;
        const T* bk = key_bias + static_cast<int64_t>(g) * H;
        const T* wk = key_w + static_cast<int64_t>(g) * H;
        const T* wq = query_w + static_cast<int64_t>(g) * H;

        // Phase A: gate and inverse RMS of u of every row the tile reads, one warp per row.
        const int slots = c.slots();
        for (int s = warp; s < slots; s += kWarps) {
            const int64_t row = c.row(s);
            float gate = 0.f, inv = 0.f;
            if (row >= 0) {
                const int64_t tok = tok0 + row;
                const T* pk = proj + tok * proj_row + static_cast<int64_t>(g) * H;
                const T* hq = hidden + tok * row_stride + static_cast<int64_t>(g) * H;
                // The sums in engram_gate's order, so the gates are bit-identical to it: this warp plays
                // each of gate.cu's warps in turn (threads w*32 + lane striding kGateThreads units), sums
                // that warp's partials with the same butterfly, and adds the warps' sums in order.
                float skk = 0.f, sqq = 0.f, skq = 0.f;
#pragma unroll
                for (int w = 0; w < engram::kGateThreads / 32; ++w) {
                    float pkk = 0.f, pqq = 0.f, pkq = 0.f;
                    engram::gate_partial_sums<T, VEC>(pk, bk, hq, wk, wq, w * 32 + lane, engram::kGateThreads, units,
                                                      pkk, pqq, pkq);
                    skk += engram::warp_sum(pkk);
                    sqq += engram::warp_sum(pqq);
                    skq += engram::warp_sum(pkq);
                }
                gate = engram::gate_from_sums(skk, sqq, skq, inv_h, sqrt_h, p.gate.eps);

                const T* pv = pv0 + row * proj_row;
                float ss = 0.f;
                for (int u = lane; u < units; u += 32) {
                    float v[VEC], bv[VEC];
                    engram::load_f32<T, VEC>(pv + u * VEC, v);
                    engram::load_f32<T, VEC>(value_bias + u * VEC, bv);
#pragma unroll
                    for (int i = 0; i < VEC; ++i) {
                        const float x = engram::gated_value_stored<T>(gate, v[i], bv[i]);
                        ss = fmaf(x, x, ss);
                    }
                }
                ss = engram::warp_sum(ss);
                inv = engram::conv_inv_rms(ss, inv_h, p.conv.eps);
            }
            if (lane == 0) {
                s_gate[s] = gate;
                s_inv[s] = inv;
            }
        }
        __syncthreads();

        const int li = static_cast<int>(threadIdx.x);
        if (gate_out != nullptr && li < tt) gate_out[(tok0 + t0 + li) * G + g] = s_gate[c.slot(li, K - 1)];

        // Phase B: conv + SiLU + residual on u recomputed from the value projection and the row's gate.
        engram::conv_tile_outputs<T, VEC, kThreads>(
            c, units, static_cast<int64_t>(g) * H, conv_norm_w, conv_w, s_inv, obase, row_stride,
            [&](int64_t row, int slot, int u, float (&x)[VEC]) {
                float bv[VEC];
                engram::load_f32<T, VEC>(pv0 + row * proj_row + u * VEC, x);
                engram::load_f32<T, VEC>(value_bias + u * VEC, bv);
                const float gate = s_gate[slot];
#pragma unroll
                for (int i = 0; i < VEC; ++i) x[i] = engram::gated_value_stored<T>(gate, x[i], bv[i]);
            });
        __syncthreads();  // s_gate and s_inv are rewritten by the next item
    }
}

template <typename T, int VEC>
cudaError_t launch(const void* proj, const void* kb, const void* vb, const void* hidden, const void* kw,
                   const void* qw, const void* cnw, const void* cw, void* out, float* gout,
                   const engram::GateShortConvParams& p, cudaStream_t stream) {
    const int64_t tiles = (p.conv.seq_len + kTile - 1) / kTile;
    const int64_t items = p.conv.batch * p.conv.hc_mult * tiles;
    const unsigned blocks = static_cast<unsigned>(items < kMaxBlocks ? items : kMaxBlocks);
    gate_short_conv_kernel<T, VEC><<<blocks, kThreads, 0, stream>>>(
        static_cast<const T*>(proj), static_cast<const T*>(kb), static_cast<const T*>(vb),
        static_cast<const T*>(hidden), static_cast<const T*>(kw), static_cast<const T*>(qw),
        static_cast<const T*>(cnw), static_cast<const T*>(cw), static_cast<T*>(out), gout, p);
    return cudaGetLastError();
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

ENGRAM_API engram_status_t engram_gate_short_conv(const void* d_proj, const void* d_key_bias,
                                                  const void* d_value_bias, const void* d_hidden,
                                                  const void* d_key_norm_w, const void* d_query_norm_w,
                                                  float gate_eps, const void* d_conv_norm_w, const void* d_conv_w,
                                                  float conv_eps, int64_t batch, int64_t seq_len, int32_t hc_mult,
                                                  int32_t hidden, int32_t kernel_size, int32_t dilation,
                                                  int32_t dtype, void* d_out, float* d_gate_out, void* stream) {
    engram::GateShortConvParams p;
    engram_status_t st = engram::check_gate_short_conv_args(
        d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w, d_query_norm_w, gate_eps, d_conv_norm_w, d_conv_w,
        conv_eps, batch, seq_len, hc_mult, hidden, kernel_size, dilation, dtype, d_out, d_gate_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.gate.tokens == 0) return engram::ok();

    // conv_w is read per channel (scalar); every other tensor is read or written in units of VEC.
    const bool vec16 = (static_cast<int64_t>(hidden) * p.conv.elem_bytes) % 16 == 0 && aligned16(d_proj) &&
                       aligned16(d_key_bias) && aligned16(d_value_bias) && aligned16(d_hidden) &&
                       aligned16(d_key_norm_w) && aligned16(d_query_norm_w) && aligned16(d_conv_norm_w) &&
                       aligned16(d_out);
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t err;
    if (p.conv.dtype == ENGRAM_DTYPE_FLOAT32) {
        err = vec16 ? launch<float, 4>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w, d_query_norm_w,
                                       d_conv_norm_w, d_conv_w, d_out, d_gate_out, p, s)
                    : launch<float, 1>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w, d_query_norm_w,
                                       d_conv_norm_w, d_conv_w, d_out, d_gate_out, p, s);
    } else {
        err = vec16 ? launch<__nv_bfloat16, 8>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                               d_query_norm_w, d_conv_norm_w, d_conv_w, d_out, d_gate_out, p, s)
                    : launch<__nv_bfloat16, 1>(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                               d_query_norm_w, d_conv_norm_w, d_conv_w, d_out, d_gate_out, p, s);
    }
    if (err != cudaSuccess) {
        return engram::fail_cuda("engram_gate_short_conv: kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}
