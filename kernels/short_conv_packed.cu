// engram_short_conv_packed: engram_short_conv over each sequence of a packed batch, with the rows before
// a continuing sequence's chunk read from its carried conv window (engram.h, "Packed batches").
//
// Design: one block of kThreads threads per (tile of `tile` consecutive PACKED tokens, g) (grid-stride
// beyond kMaxBlocks); a tile may span sequence boundaries. The tile length is chosen per launch from the
// shape alone: the smallest power of two >= the mean chunk length, at most kConvTile (32). So prefill of
// long sequences gets engram_short_conv's 32-step tiles, and decode (1-token chunks) one token per block:
// G * num_seqs small blocks that each read K rows per branch, the most parallel a step can be.
//   0. Each token's position t in its chunk and the slot whose window it reads (-1: none; binary search
//      in cu_seqlens, kernels/packed_device.cuh) go to shared memory.
//   1. The inverse RMS of every row the tile reads, one warp per row (engram::conv_row_inv_rms, the code
//      engram_short_conv runs, so a row's norm has the same bits whether it is read from the chunk now or
//      from the window in a later call). Rows are numbered by slot:
//        - window path (dilation < tile): chunk rows by packed index, slot = row - (i0 - W) in [0, tt + W),
//          computed only where some token of the tile taps that row within its own sequence; window rows
//          (t - back < 0 of a continuing sequence) per tap, slot = tt + W + (K-1-k)*tt + li;
//        - per-tap path (dilation >= tile, so every decode step): slot = (K-1-k)*tt + li for every tap,
//          whichever of the chunk or the window its row lies in.
//      At most 2 * K * tile slots (1,024 floats).
//   2. Each thread takes one unit of VEC channels (16 bytes, or one channel) and kConvSub consecutive
//      tokens, and accumulates w[c, k] * inv_rms * x over the K taps in the order of
//      engram::conv_tile_outputs (taps with nothing before the sequence start are skipped, as there),
//      then writes x + SiLU(norm_w * acc). So the outputs equal engram_short_conv on the whole sequences
//      bit for bit when both take the same VEC path (16-byte path: H * element size a multiple of 16
//      and d_value, d_norm_w, d_out and d_conv_state 16-byte aligned).
// Race-free: the kernel only reads d_conv_state (engram_state_commit writes it afterwards), and d_out
// must not be d_value. The descriptors are not trusted: positions are clamped (packed_position), a
// window row index W + t - back lies in [0, W) because back <= W.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <string>

#include "engram_error.h"
#include "gate_conv.h"
#include "gate_conv_device.cuh"
#include "packed.h"
#include "packed_device.cuh"
#include "vec_io.cuh"

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxTile = engram::kConvTile;
constexpr int kMaxSlots = 2 * engram::kConvMaxKernel * kMaxTile;
constexpr int64_t kMaxBlocks = 1 << 20;

// The rows one block's tile of tt <= tile tokens starting at packed index i0 reads (see the top comment).
struct PackedConvTile {
    int64_t i0;
    int64_t dil;
    int64_t window_rows;  // W = (K-1) * dil
    int tt;
    int K;
    bool window;  // the window path

    __device__ __forceinline__ int chunk_slots() const { return window ? tt + static_cast<int>(window_rows) : 0; }
    __device__ __forceinline__ int slots() const { return chunk_slots() + K * tt; }
    // Slot of tap k of local token li whose row is in the chunk (row i0 + li - back).
    __device__ __forceinline__ int chunk_slot(int li, int k) const {
        return window ? li + static_cast<int>(k * dil) : (K - 1 - k) * tt + li;
    }
    // Slot of tap k of local token li whose row is in the window (t - back < 0, continuing).
    __device__ __forceinline__ int window_slot(int li, int k) const { return chunk_slots() + (K - 1 - k) * tt + li; }
};

template <typename T, int VEC>
__global__ void ENGRAM_CONV_LAUNCH_BOUNDS(kThreads)
short_conv_packed_kernel(const T* __restrict__ value, const T* __restrict__ norm_w, const T* __restrict__ conv_w,
                         const T* __restrict__ conv_state, T* __restrict__ out, const engram::PackedBatch packed,
                         const engram::PackedShortConvParams pp, const int tile) {
    __shared__ float s_inv[kMaxSlots];
    __shared__ engram::PackedPosition s_pos[kMaxTile];
    const engram::ShortConvParams& p = pp.conv;
    const int H = p.hidden;
    const int G = p.hc_mult;
    const int K = p.kernel_size;
    const int64_t dil = p.dilation;
    const int64_t W = pp.window;
    const int64_t tokens = p.seq_len;  // batch = 1
    const int units = H / VEC;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const float inv_h = 1.0f / static_cast<float>(H);
    const int64_t tiles = (tokens + tile - 1) / tile;
    const int64_t items = G * tiles;
    const int64_t row_stride = static_cast<int64_t>(G) * H;  // between consecutive tokens, and window rows

    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t tile_index = item % tiles;
        const int g = static_cast<int>(item / tiles);
        const int64_t i0 = tile_index * tile;
        const int tt = static_cast<int>(tokens - i0 < tile ? tokens - i0 : tile);
        const PackedConvTile c{i0, dil, W, tt, K, dil < tile};
        // Element (token i, g, 0) is at base + i * row_stride; window row r of slot q at
        // wbase + (q * W + r) * row_stride.
        const T* base = value + static_cast<int64_t>(g) * H;
        const T* wbase = conv_state != nullptr ? conv_state + static_cast<int64_t>(g) * H : nullptr;  // slot -1 then
        T* obase = out + static_cast<int64_t>(g) * H;

        // Phase 0: positions in the chunks.
        for (int li = threadIdx.x; li < tt; li += kThreads) s_pos[li] = engram::packed_position(packed, i0 + li);
        __syncthreads();

        // Phase 1: inverse RMS of the rows the tile reads (nullptr: a slot nobody reads).
        const int slots = c.slots();
        for (int s = warp; s < slots; s += kWarps) {
            const T* row = nullptr;
            if (s < c.chunk_slots()) {  // window path, chunk row i0 - W + s
                for (int k = 0; k < K && row == nullptr; ++k) {
                    const int li = s - static_cast<int>(k * dil);
                    if (li >= 0 && li < tt && s_pos[li].t >= (K - 1 - k) * dil) row = base + (i0 - W + s) * row_stride;
                }
            } else {  // per tap: tap k = K-1-kb of local token li
                const int q = s - c.chunk_slots();
                const int kb = q / tt;
                const int li = q - kb * tt;
                const engram::PackedPosition pos = s_pos[li];
                const int64_t tp = pos.t - kb * dil;  // position of the tapped row in the chunk
                if (tp >= 0) {
                    if (!c.window) row = base + (i0 + li - kb * dil) * row_stride;
                } else if (pos.slot >= 0) {
                    row = wbase + (pos.slot * W + W + tp) * row_stride;
                }
            }
            float inv = 0.f;
            if (row != nullptr) inv = engram::conv_row_inv_rms<T, VEC>(row, units, lane, inv_h, p.eps);
            if (lane == 0) s_inv[s] = inv;
        }
        __syncthreads();

        // Phase 2: conv + SiLU + residual, kConvSub tokens x VEC channels per work item; the arithmetic
        // of engram::conv_tile_outputs.
        const int subs = (tt + engram::kConvSub - 1) / engram::kConvSub;
        for (int w = threadIdx.x; w < subs * units; w += kThreads) {
            const int u = w % units;
            const int li0 = (w / units) * engram::kConvSub;
            const int64_t c0 = static_cast<int64_t>(g) * H + u * VEC;  // first channel
            float acc[engram::kConvSub][VEC];
#pragma unroll
            for (int i = 0; i < engram::kConvSub; ++i)
#pragma unroll
                for (int v = 0; v < VEC; ++v) acc[i][v] = 0.f;
            for (int k = 0; k < K; ++k) {
                const int64_t back = (K - 1 - k) * dil;
                float wk[VEC];
#pragma unroll
                for (int v = 0; v < VEC; ++v) wk[v] = engram::to_f32(conv_w[(c0 + v) * K + k]);
#pragma unroll
                for (int i = 0; i < engram::kConvSub; ++i) {
                    const int li = li0 + i;
                    if (li < tt) {
                        const engram::PackedPosition pos = s_pos[li];
                        const int64_t tp = pos.t - back;
                        const T* x_row;
                        int slot;
                        if (tp >= 0) {
                            x_row = base + (i0 + li - back) * row_stride;
                            slot = c.chunk_slot(li, k);
                        } else if (pos.slot >= 0) {
                            x_row = wbase + (pos.slot * W + W + tp) * row_stride;
                            slot = c.window_slot(li, k);
                        } else {
                            continue;  // zero padding before the sequence start
                        }
                        const float inv = s_inv[slot];
                        float x[VEC];
                        engram::load_f32<T, VEC>(x_row + u * VEC, x);
#pragma unroll
                        for (int v = 0; v < VEC; ++v) acc[i][v] = fmaf(wk[v] * inv, x[v], acc[i][v]);
                    }
                }
            }
            float nw[VEC];
            engram::load_f32<T, VEC>(norm_w + c0, nw);
#pragma unroll
            for (int i = 0; i < engram::kConvSub; ++i) {
                const int li = li0 + i;
                if (li < tt) {
                    float x[VEC];
                    engram::load_f32<T, VEC>(base + (i0 + li) * row_stride + u * VEC, x);
#pragma unroll
                    for (int v = 0; v < VEC; ++v) x[v] = engram::silu_residual(x[v], nw[v] * acc[i][v]);
                    engram::store_f32<T, VEC>(obase + (i0 + li) * row_stride + u * VEC, x);
                }
            }
        }
        __syncthreads();  // s_pos and s_inv are rewritten by the next item
    }
}

// Tokens per block: the smallest power of two >= the mean chunk length, at most kMaxTile (see the top).
int tile_for(int64_t tokens, int32_t num_seqs) {
    const int64_t mean = (tokens + num_seqs - 1) / num_seqs;
    int tile = 1;
    while (tile < mean && tile < kMaxTile) tile *= 2;
    return tile;
}

template <typename T, int VEC>
cudaError_t launch(const void* value, const void* norm_w, const void* conv_w, const void* conv_state, void* out,
                   const engram::PackedBatch& packed, const engram::PackedShortConvParams& p, cudaStream_t stream) {
    const int tile = tile_for(p.conv.seq_len, p.num_seqs);
    const int64_t items = p.conv.hc_mult * ((p.conv.seq_len + tile - 1) / tile);
    const unsigned blocks = static_cast<unsigned>(items < kMaxBlocks ? items : kMaxBlocks);
    short_conv_packed_kernel<T, VEC><<<blocks, kThreads, 0, stream>>>(
        static_cast<const T*>(value), static_cast<const T*>(norm_w), static_cast<const T*>(conv_w),
        static_cast<const T*>(conv_state), static_cast<T*>(out), packed, p, tile);
    return cudaGetLastError();
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

ENGRAM_API engram_status_t engram_short_conv_packed(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                                    float eps, int64_t tokens, const int32_t* d_cu_seqlens,
                                                    const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                                    int32_t num_seqs, const void* d_conv_state, int32_t num_slots,
                                                    int32_t hc_mult, int32_t hidden, int32_t kernel_size,
                                                    int32_t dilation, int32_t dtype, void* d_out, void* stream) {
    engram::PackedShortConvParams p;
    engram_status_t st = engram::check_short_conv_packed_args(
        d_value, d_norm_w, d_conv_w, eps, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_conv_state,
        num_slots, hc_mult, hidden, kernel_size, dilation, dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.conv.seq_len == 0) return engram::ok();

    const engram::PackedBatch packed{d_cu_seqlens, d_seq_slots, d_seq_starts, p.num_seqs, p.num_slots};
    // As engram_short_conv (conv_w is read per channel), plus the window rows read with the same units.
    const bool vec16 = (static_cast<int64_t>(hidden) * p.conv.elem_bytes) % 16 == 0 && aligned16(d_value) &&
                       aligned16(d_norm_w) && aligned16(d_out) && aligned16(d_conv_state);
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t err;
    if (p.conv.dtype == ENGRAM_DTYPE_FLOAT32) {
        err = vec16 ? launch<float, 4>(d_value, d_norm_w, d_conv_w, d_conv_state, d_out, packed, p, s)
                    : launch<float, 1>(d_value, d_norm_w, d_conv_w, d_conv_state, d_out, packed, p, s);
    } else {
        err = vec16 ? launch<__nv_bfloat16, 8>(d_value, d_norm_w, d_conv_w, d_conv_state, d_out, packed, p, s)
                    : launch<__nv_bfloat16, 1>(d_value, d_norm_w, d_conv_w, d_conv_state, d_out, packed, p, s);
    }
    if (err != cudaSuccess) {
        return engram::fail_cuda("engram_short_conv_packed: kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}
