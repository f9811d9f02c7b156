// engram_short_conv: per-branch RMSNorm, depthwise causal dilated conv over time, SiLU, residual,
// in one launch (engram.h documents the contract).
//
// Design (no scratch memory, so no separate pass for the norms): one block of kThreads threads per
// (b, g, tile of kTile time steps) (grid-stride beyond kMaxBlocks).
//   1. The inverse RMS of every row (b, t', g, :) the tile reads goes to shared memory, one warp per
//      row (warp-shuffle reduction over H). With dilation <= kTile the rows form the window
//      t0-(K-1)*dil .. t0+tt-1 (slot = row - window start); with a larger dilation the windows of the
//      K taps are disjoint and each tap's tt rows get their own slots (slot = tap*tt + i). Either
//      way at most K*kTile slots. Rows before the sequence start get 0 (the zero padding).
//   2. Each thread takes one unit of VEC channels (16 bytes, or one channel) and kConvSub (8) consecutive
//      time steps, and accumulates acc[i][v] += w[c, k] * x[row] * inv_rms[row] over the K taps in
//      registers, then writes x[t] + SiLU(norm_w[c] * acc) (the norm weight factored out of the sum).
// The K taps re-read rows of the block's window, which hit L1/L2 after the first read.
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
constexpr int kTile = engram::kConvTile;  // time steps per block
constexpr int64_t kMaxBlocks = 1 << 20;

template <typename T, int VEC>
__global__ void ENGRAM_CONV_LAUNCH_BOUNDS(kThreads)
short_conv_kernel(const T* __restrict__ value, const T* __restrict__ norm_w, const T* __restrict__ conv_w,
                  T* __restrict__ out, const engram::ShortConvParams p) {
    __shared__ float s_inv[engram::kConvMaxKernel * kTile];
    const int H = p.hidden;
    const int G = p.hc_mult;
    const int K = p.kernel_size;
    const int64_t dil = p.dilation;
    const int64_t T_len = p.seq_len;
    const int units = H / VEC;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const float inv_h = 1.0f / static_cast<float>(H);
    const int64_t tiles = (T_len + kTile - 1) / kTile;
    const int64_t items = p.batch * G * tiles;
    const int64_t row_stride = static_cast<int64_t>(G) * H;  // between consecutive time steps
    const bool window = dil <= kTile;

    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t tile = item % tiles;
        const int64_t bg = item / tiles;
        const int g = static_cast<int>(bg % G);
        const int64_t b = bg / G;
        const int64_t t0 = tile * kTile;
        const int tt = static_cast<int>(T_len - t0 < kTile ? T_len - t0 : kTile);
        // Element (b, t, g, 0) is at base + t * row_stride.
        const T* base = value + b * T_len * row_stride + static_cast<int64_t>(g) * H;
        T* obase = out + b * T_len * row_stride + static_cast<int64_t>(g) * H;

        const engram::ConvTile c{t0, dil, tt, K, window};

        // Phase 1: inverse RMS of the rows the tile reads.
        const int slots = c.slots();
        for (int s = warp; s < slots; s += kWarps) {
            const int64_t row = c.row(s);
            float inv = 0.f;
            if (row >= 0) inv = engram::conv_row_inv_rms<T, VEC>(base + row * row_stride, units, lane, inv_h, p.eps);
            if (lane == 0) s_inv[s] = inv;
        }
        __syncthreads();

        // Phase 2: conv + SiLU + residual, kConvSub time steps x VEC channels per work item.
        engram::conv_tile_outputs<T, VEC, kThreads>(
            c, units, static_cast<int64_t>(g) * H, norm_w, conv_w, s_inv, obase, row_stride,
            [&](int64_t row, int, int u, float (&x)[VEC]) {
                engram::load_f32<T, VEC>(base + row * row_stride + u * VEC, x);
            });
        __syncthreads();  // s_inv is rewritten by the next item
    }
}

template <typename T, int VEC>
cudaError_t launch(const void* value, const void* norm_w, const void* conv_w, void* out,
                   const engram::ShortConvParams& p, cudaStream_t stream) {
    const int64_t tiles = (p.seq_len + kTile - 1) / kTile;
    const int64_t items = p.batch * p.hc_mult * tiles;
    const unsigned blocks = static_cast<unsigned>(items < kMaxBlocks ? items : kMaxBlocks);
    short_conv_kernel<T, VEC><<<blocks, kThreads, 0, stream>>>(static_cast<const T*>(value),
                                                               static_cast<const T*>(norm_w),
                                                               static_cast<const T*>(conv_w), static_cast<T*>(out), p);
    return cudaGetLastError();
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

ENGRAM_API engram_status_t engram_short_conv(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                             float eps, int64_t batch, int64_t seq_len, int32_t hc_mult,
                                             int32_t hidden, int32_t kernel_size, int32_t dilation, int32_t dtype,
                                             void* d_out, void* stream) {
    engram::ShortConvParams p;
    engram_status_t st = engram::check_short_conv_args(d_value, d_norm_w, d_conv_w, eps, batch, seq_len, hc_mult,
                                                       hidden, kernel_size, dilation, dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.batch * p.seq_len == 0) return engram::ok();

    // conv_w is read per channel (scalar), so only value, norm_w and out need 16-byte alignment.
    const bool vec16 = (static_cast<int64_t>(hidden) * p.elem_bytes) % 16 == 0 && aligned16(d_value) &&
                       aligned16(d_norm_w) && aligned16(d_out);
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t err;
    if (p.dtype == ENGRAM_DTYPE_FLOAT32) {
        err = vec16 ? launch<float, 4>(d_value, d_norm_w, d_conv_w, d_out, p, s)
                    : launch<float, 1>(d_value, d_norm_w, d_conv_w, d_out, p, s);
    } else {
        err = vec16 ? launch<__nv_bfloat16, 8>(d_value, d_norm_w, d_conv_w, d_out, p, s)
                    : launch<__nv_bfloat16, 1>(d_value, d_norm_w, d_conv_w, d_out, p, s);
    }
    if (err != cudaSuccess) {
        return engram::fail_cuda("engram_short_conv: kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}
