// Device helpers shared by the gate (kernels/gate.cu), the short conv (kernels/short_conv.cu) and the
// fused gate + short conv (kernels/gate_short_conv.cu), so the three compute the gate, the norms and the
// conv with the same fp32 operations in the same order.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "gate_conv.h"
#include "vec_io.cuh"

namespace engram {

// ---- gate ----

// Accumulates, over the units u0, u0 + ustep, .. < units (VEC elements each) of one (token, branch):
// skk += sum(k^2), sqq += sum(q^2), skq += sum(k*w1 * q*w2) with k = key projection + key bias,
// q = hidden row, w1/w2 = key/query norm weights.
template <typename T, int VEC>
__device__ __forceinline__ void gate_partial_sums(const T* __restrict__ pk, const T* __restrict__ bk,
                                                  const T* __restrict__ hq, const T* __restrict__ wk,
                                                  const T* __restrict__ wq, int u0, int ustep, int units, float& skk,
                                                  float& sqq, float& skq) {
    for (int u = u0; u < units; u += ustep) {
        const int off = u * VEC;
        float k[VEC], b[VEC], q[VEC], w1[VEC], w2[VEC];
        load_f32<T, VEC>(pk + off, k);
        load_f32<T, VEC>(bk + off, b);
        load_f32<T, VEC>(hq + off, q);
        load_f32<T, VEC>(wk + off, w1);
        load_f32<T, VEC>(wq + off, w2);
#pragma unroll
        for (int i = 0; i < VEC; ++i) {
            const float kk = k[i] + b[i];
            skk = fmaf(kk, kk, skk);
            sqq = fmaf(q[i], q[i], sqq);
            skq = fmaf(kk * w1[i], q[i] * w2[i], skq);
        }
    }
}

// The gate from the three full-row sums: dot = skq * rsqrt_k * rsqrt_q / sqrt(H), then
// sigmoid(sign(dot) * sqrt(max(|dot|, 1e-6))). sqrt_h = sqrtf(H) (sqrtf, not rsqrtf, which is up to
// 2 ulp off, and a division like the reference's "/ sqrt(H)").
__device__ __forceinline__ float gate_from_sums(float skk, float sqq, float skq, float inv_h, float sqrt_h,
                                                float eps) {
    const float rk = 1.0f / sqrtf(skk * inv_h + eps);
    const float rq = 1.0f / sqrtf(sqq * inv_h + eps);
    const float dot = skq * rk * rq / sqrt_h;
    const float sign = static_cast<float>((dot > 0.f) - (dot < 0.f));  // sign(0) = 0 -> gate 0.5
    const float s = sign * sqrtf(fmaxf(fabsf(dot), 1e-6f));
    return 1.0f / (1.0f + expf(-s));
}

// The gated value gate * (v + b) in fp32, as engram_gate computes it before rounding to storage.
__device__ __forceinline__ float gated_value(float gate, float v, float b) { return gate * (v + b); }

// The same, rounded to the storage dtype T and widened back: the u that engram_gate stores and
// engram_short_conv reads.
template <typename T>
__device__ __forceinline__ float gated_value_stored(float gate, float v, float b) {
    return to_f32(from_f32<T>(gated_value(gate, v, b)));
}

// ---- short conv ----

// Threads per (token, branch) of engram_gate's block; the fused kernel replays its summation order.
constexpr int kGateThreads = 128;
constexpr int kConvTile = 32;  // time steps per block
constexpr int kConvSub = 8;    // time steps per thread work item
// The conv kernels' launch bounds. By default only the block size, which leaves the register count to
// ptxas (117 for bf16 ShortConv: 4 blocks of 128 threads per SM). -DENGRAM_CONV_MIN_BLOCKS=N asks for N
// blocks per SM (at most 65536 / (128 N) registers): a build option, so that the GPU session can time
// register caps against the default (tests/gpu-session.sh conv-variants).
#ifdef ENGRAM_CONV_MIN_BLOCKS
#define ENGRAM_CONV_LAUNCH_BOUNDS(threads) __launch_bounds__(threads, ENGRAM_CONV_MIN_BLOCKS)
#else
#define ENGRAM_CONV_LAUNCH_BOUNDS(threads) __launch_bounds__(threads)
#endif

// The rows (time steps) one block's tile of tt <= kConvTile steps starting at t0 reads, numbered by
// slot. With dilation <= kConvTile they form the window t0-(K-1)*dil .. t0+tt-1 (slot = row - window
// start); with a larger dilation the taps' windows are disjoint and tap k's tt rows get their own
// slots (slot = (K-1-k)*tt + i). Either way at most kConvMaxKernel * kConvTile slots.
struct ConvTile {
    int64_t t0;
    int64_t dil;
    int tt;
    int K;
    bool window;

    __device__ __forceinline__ int slots() const { return window ? tt + static_cast<int>((K - 1) * dil) : K * tt; }
    // Time step of slot s (negative: before the sequence start, the zero padding).
    __device__ __forceinline__ int64_t row(int s) const {
        return window ? t0 - (K - 1) * dil + s : t0 + (s % tt) - static_cast<int64_t>(s / tt) * dil;
    }
    // Slot of tap k of local time step li (row t0 + li - (K-1-k)*dil); k = K-1 is the step itself.
    __device__ __forceinline__ int slot(int li, int k) const {
        return window ? li + static_cast<int>(k * dil) : (K - 1 - k) * tt + li;
    }
};

__device__ __forceinline__ float conv_inv_rms(float ss, float inv_h, float eps) { return 1.0f / sqrtf(ss * inv_h + eps); }

// The inverse RMS of one conv input row x[0 .. units * VEC) by one whole warp (every lane gets it):
// lane-strided 16-byte units, warp-shuffle sum. engram_short_conv and engram_short_conv_packed both
// call it, so a row's norm is the same bits whether it is read from the chunk or the carried window.
template <typename T, int VEC>
__device__ __forceinline__ float conv_row_inv_rms(const T* __restrict__ x, int units, int lane, float inv_h,
                                                  float eps) {
    float ss = 0.f;
    for (int u = lane; u < units; u += 32) {
        float v[VEC];
        load_f32<T, VEC>(x + u * VEC, v);
#pragma unroll
        for (int i = 0; i < VEC; ++i) ss = fmaf(v[i], v[i], ss);
    }
    ss = warp_sum(ss);
    return conv_inv_rms(ss, inv_h, eps);
}

__device__ __forceinline__ float silu_residual(float x, float y) {
    return x + y / (1.0f + expf(-y));  // SiLU; y -> -inf gives -0
}

// Phase 2 of the conv for one block's tile: conv + SiLU + residual, kConvSub time steps x VEC channels
// per work item, work items strided over the block's THREADS threads.
//   load(row, slot, u, x): the conv input x (VEC floats, channels u*VEC ..) of time step `row` >= 0,
//                          whose slot in the tile is `slot`;
//   s_inv[slot]:           the inverse RMS of that row;
//   obase:                 element (b, 0, g, 0) of the output; rows row_stride elements apart.
// acc[i][v] += w[c, k] * x[row] * inv_rms[row] over the K taps, then out = x[t] + SiLU(norm_w[c] * acc)
// (the norm weight factored out of the sum).
template <typename T, int VEC, int THREADS, class Load>
__device__ __forceinline__ void conv_tile_outputs(const ConvTile& c, int units, int64_t c_base,
                                                  const T* __restrict__ norm_w, const T* __restrict__ conv_w,
                                                  const float* s_inv, T* __restrict__ obase, int64_t row_stride,
                                                  Load load) {
    const int K = c.K;
    const int subs = (c.tt + kConvSub - 1) / kConvSub;
    for (int w = threadIdx.x; w < subs * units; w += THREADS) {
        const int u = w % units;
        const int li0 = (w / units) * kConvSub;
        const int64_t c0 = c_base + u * VEC;  // first channel
        float acc[kConvSub][VEC];
#pragma unroll
        for (int i = 0; i < kConvSub; ++i)
#pragma unroll
            for (int v = 0; v < VEC; ++v) acc[i][v] = 0.f;
        for (int k = 0; k < K; ++k) {
            const int64_t back = (K - 1 - k) * c.dil;
            float wk[VEC];
#pragma unroll
            for (int v = 0; v < VEC; ++v) wk[v] = to_f32(conv_w[(c0 + v) * K + k]);
#pragma unroll
            for (int i = 0; i < kConvSub; ++i) {
                const int li = li0 + i;
                const int64_t row = c.t0 + li - back;
                if (li < c.tt && row >= 0) {
                    const int slot = c.slot(li, k);
                    const float inv = s_inv[slot];
                    float x[VEC];
                    load(row, slot, u, x);
#pragma unroll
                    for (int v = 0; v < VEC; ++v) acc[i][v] = fmaf(wk[v] * inv, x[v], acc[i][v]);
                }
            }
        }
        float nw[VEC];
        load_f32<T, VEC>(norm_w + c0, nw);
#pragma unroll
        for (int i = 0; i < kConvSub; ++i) {
            const int li = li0 + i;
            if (li < c.tt) {
                float x[VEC];
                load(c.t0 + li, c.slot(li, K - 1), u, x);
#pragma unroll
                for (int v = 0; v < VEC; ++v) x[v] = silu_residual(x[v], nw[v] * acc[i][v]);
                store_f32<T, VEC>(obase + (c.t0 + li) * row_stride + u * VEC, x);
            }
        }
    }
}

}  // namespace engram
