// engram_hashed_gather: raw ids -> compression table -> n-gram hashes of all heads -> table rows
// -> out[B*T, H*head_dim], in one launch (engram.h documents the contract).
//
// One block handles a tile of kGatherTileTokens consecutive tokens (flat index b*seq_len + t) in three
// phases separated by __syncthreads:
//   0. one thread per (token, k < max_ngram): the compressed token k positions back (pad before
//      the sequence start) into shared memory, with a flag for ids outside the table;
//   1. one thread per (token, head): the hash (kernels/ngram_hash.cuh arithmetic, bit-identical
//      to engram_ngram_hash_host), written to d_hash_ids_out and, as a table row, to shared memory;
//   2. all threads copy the tile's token*head rows with 16-byte units; the destination of the
//      tile is contiguous, so the stores are fully coalesced; kUnroll loads are issued before
//      the first store.
// Phases 0 and 1 are kernels/hashed_gather_tile.cuh's, shared with the fp8 tables' kernel
// (kernels/hashed_gather_fp8.cu), whose phase 2 dequantizes instead of copying.
// The per-layer constants (multipliers, moduli, row offsets) travel by value in the kernel
// parameters (__grid_constant__, read through the constant bank): no device reads, no global
// __constant__ state shared between streams.
// Known cost: the int64 % of phase 1 is a slow software sequence on the GPU (one per token and
// head); a multiply-high by a precomputed reciprocal per modulus would replace it later.
//
// engram_hashed_gather_packed is the same kernel instantiated with kPacked = true (the rectangular
// instantiation compiles to the code it had before: every packed step is under `if constexpr`). The
// tile is kGatherTileTokens consecutive PACKED tokens, which may span several sequences; one extra phase
// before phase 0 finds, for each token of the tile, its sequence (binary search in cu_seqlens,
// kernels/packed_device.cuh), its position t in the chunk and the slot whose history it reads, into
// shared memory. Phase 0 then takes s_k from the chunk when t - k >= 0, else from d_history[slot,
// M + (t - k)] (already compressed: not mapped through the lut, never flagged bad), else the pad.
// Phases 1 and 2 are the rectangular ones, so hash ids and rows equal a whole-sequence run bit for bit.
#include <cuda_runtime.h>

#include <string>

#include "engram_error.h"
#include "hashed_gather.h"
#include "hashed_gather_tile.cuh"
#include "packed.h"

namespace {

using engram::kGatherThreads;
using engram::kGatherTileTokens;
constexpr int kUnroll = 4;

// NaN bit patterns filling a 32-bit word, per dtype (rows of tokens outside the table).
constexpr uint32_t kNanWordF32 = 0x7fc00000u;
constexpr uint32_t kNanWordBf16 = 0x7fc07fc0u;

template <typename U>
__device__ __forceinline__ U nan_unit(uint32_t word);
template <>
__device__ __forceinline__ uint4 nan_unit<uint4>(uint32_t w) { return make_uint4(w, w, w, w); }
template <>
__device__ __forceinline__ uint32_t nan_unit<uint32_t>(uint32_t w) { return w; }
template <>
__device__ __forceinline__ uint16_t nan_unit<uint16_t>(uint32_t w) { return static_cast<uint16_t>(w); }

template <typename U>
__device__ __forceinline__ U load_unit(const U* p) { return __ldg(p); }
template <>
__device__ __forceinline__ uint16_t load_unit<uint16_t>(const uint16_t* p) {
    return __ldg(reinterpret_cast<const unsigned short*>(p));
}

// U: the copy unit, uint4 (16-byte path) or the element itself (uint32_t fp32, uint16_t bf16).
// kPacked: engram_hashed_gather_packed (p.batch = 1, p.seq_len = p.tokens; `packed` and `history` are
// read only then).
template <typename U, bool kPacked>
__global__ void __launch_bounds__(kGatherThreads)
hashed_gather_kernel(const int64_t* __restrict__ raw_ids, const int64_t* __restrict__ lut,
                     const U* __restrict__ table, U* __restrict__ out, int64_t* __restrict__ hash_ids_out,
                     const engram::PackedBatch packed, const int64_t* __restrict__ history,
                     const __grid_constant__ engram::HashedGatherParams p) {
    __shared__ int64_t s_tok[kGatherTileTokens][engram::kGatherMaxNgram];
    __shared__ uint8_t s_bad[kGatherTileTokens][engram::kGatherMaxNgram];
    __shared__ int64_t s_row[kGatherTileTokens * engram::kGatherMaxHeads];  // -1: NaN row
    __shared__ engram::PackedPosition s_pos[kGatherTileTokens];              // kPacked only

    const int heads = p.heads;
    const int max_ngram = p.max_ngram;
    const int units_per_row = p.head_dim * p.elem_bytes / static_cast<int>(sizeof(U));
    const uint32_t nan_word = p.dtype == ENGRAM_DTYPE_BFLOAT16 ? kNanWordBf16 : kNanWordF32;
    const int64_t num_tiles = (p.tokens + kGatherTileTokens - 1) / kGatherTileTokens;

    for (int64_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
        const int64_t i0 = tile * kGatherTileTokens;
        const int tile_tokens =
            static_cast<int>(p.tokens - i0 < kGatherTileTokens ? p.tokens - i0 : kGatherTileTokens);
        engram::gather_tile_rows<kPacked>(i0, tile_tokens, raw_ids, lut, hash_ids_out, packed, history, p, heads,
                                          max_ngram, s_tok, s_bad, s_row, s_pos);

        // Phase 2: copy rows; the tile's output is one contiguous run of tile_tokens*heads rows.
        const int tile_units = tile_tokens * heads * units_per_row;
        U* dst = out + i0 * heads * static_cast<int64_t>(units_per_row);
        const U nan = nan_unit<U>(nan_word);
        for (int base = threadIdx.x; base < tile_units; base += kGatherThreads * kUnroll) {
            U v[kUnroll];
#pragma unroll
            for (int r = 0; r < kUnroll; ++r) {
                const int u = base + r * kGatherThreads;
                if (u < tile_units) {
                    const int row = u / units_per_row;
                    const int c = u - row * units_per_row;
                    const int64_t trow = s_row[row];
                    v[r] = trow >= 0 ? load_unit(table + trow * units_per_row + c) : nan;
                }
            }
#pragma unroll
            for (int r = 0; r < kUnroll; ++r) {
                const int u = base + r * kGatherThreads;
                if (u < tile_units) dst[u] = v[r];
            }
        }
        __syncthreads();  // s_row is rewritten by the next tile
    }
}

template <typename U, bool kPacked>
cudaError_t launch(const int64_t* raw_ids, const int64_t* lut, const void* table, void* out, int64_t* hash_ids,
                   const engram::PackedBatch& packed, const int64_t* history, const engram::HashedGatherParams& p,
                   cudaStream_t stream) {
    const int64_t tiles = (p.tokens + kGatherTileTokens - 1) / kGatherTileTokens;
    const unsigned blocks = static_cast<unsigned>(tiles < engram::kGatherMaxBlocks ? tiles : engram::kGatherMaxBlocks);
    hashed_gather_kernel<U, kPacked><<<blocks, kGatherThreads, 0, stream>>>(
        raw_ids, lut, static_cast<const U*>(table), static_cast<U*>(out), hash_ids, packed, history, p);
    return cudaGetLastError();
}

// The launch for the copy unit the row size and alignment allow (rectangular: packed is all zeros).
template <bool kPacked>
cudaError_t launch_any_unit(const int64_t* raw_ids, const int64_t* lut, const void* table, void* out,
                            int64_t* hash_ids, const engram::PackedBatch& packed, const int64_t* history,
                            const engram::HashedGatherParams& p, cudaStream_t stream) {
    const int64_t row_bytes = static_cast<int64_t>(p.head_dim) * p.elem_bytes;
    const bool vec16 = row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(table) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(out) % 16 == 0;
    if (vec16) return launch<uint4, kPacked>(raw_ids, lut, table, out, hash_ids, packed, history, p, stream);
    if (p.elem_bytes == 4) {
        return launch<uint32_t, kPacked>(raw_ids, lut, table, out, hash_ids, packed, history, p, stream);
    }
    return launch<uint16_t, kPacked>(raw_ids, lut, table, out, hash_ids, packed, history, p, stream);
}

engram_status_t launch_status(const char* name, cudaError_t err) {
    if (err != cudaSuccess) {
        return engram::fail_cuda(std::string(name) + ": kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}

}  // namespace

ENGRAM_API engram_status_t engram_hashed_gather(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                                const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                const int64_t* multipliers, int32_t max_ngram_size,
                                                const int64_t* moduli, const int64_t* row_offsets,
                                                int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                                int32_t head_dim, int32_t dtype, void* d_out,
                                                int64_t* d_hash_ids_out, void* stream) {
    engram::HashedGatherParams p;
    engram_status_t st = engram::check_hashed_gather_args(
        d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers, max_ngram_size, moduli,
        row_offsets, heads_per_ngram, d_table, table_rows, head_dim, dtype, d_out, d_hash_ids_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.tokens == 0) return engram::ok();
    return launch_status("engram_hashed_gather",
                         launch_any_unit<false>(d_raw_ids, d_lut, d_table, d_out, d_hash_ids_out,
                                                engram::PackedBatch{}, nullptr, p, static_cast<cudaStream_t>(stream)));
}

ENGRAM_API engram_status_t engram_hashed_gather_packed(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const void* d_table,
    int64_t table_rows, int32_t head_dim, int32_t dtype, void* d_out, int64_t* d_hash_ids_out, void* stream) {
    engram::PackedGatherParams p;
    engram_status_t st = engram::check_hashed_gather_packed_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_history, num_slots, d_lut, lut_size,
        pad_id_compressed, multipliers, max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, table_rows,
        head_dim, dtype, d_out, d_hash_ids_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.gather.tokens == 0) return engram::ok();
    const engram::PackedBatch packed{d_cu_seqlens, d_seq_slots, d_seq_starts, p.num_seqs, p.num_slots};
    return launch_status("engram_hashed_gather_packed",
                         launch_any_unit<true>(d_raw_ids, d_lut, d_table, d_out, d_hash_ids_out, packed, d_history,
                                               p.gather, static_cast<cudaStream_t>(stream)));
}
