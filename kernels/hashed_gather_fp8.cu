// engram_hashed_gather_fp8 and engram_hashed_gather_fp8_packed: the hashed gather of
// kernels/hashed_gather.cu from a table of E4M3 codes with E8M0 block scales, the rows dequantized to
// float32 or bf16 on the way (engram.h, "fp8 tables"; SEMANTICS.md 9).
//
// Phases 0 and 1 (hash ids and table rows of a tile of kGatherTileTokens tokens, packed or not) are
// kernels/hashed_gather_tile.cuh's, so hash ids and NaN rows are those of the float tables' gather bit
// for bit. Phase 2 dequantizes instead of copying (kernels/fp8_e4m3.cuh): a unit is 16 codes (one
// 16-byte load, 64 or 32 bytes stored) when head_dim and the scale block are multiples of 16 and the
// pointers 16-byte aligned, else one code; each unit reads its block's scale byte (one per unit: a
// 16-code unit never spans two blocks), kUnroll units' loads issued before the first store. An
// out-of-table id's row reads neither codes nor scales and is stored as NaN (scale byte 255).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include "engram_error.h"
#include "fp8_e4m3.cuh"
#include "hashed_gather_fp8.h"
#include "hashed_gather_tile.cuh"

namespace {

using engram::kGatherThreads;
using engram::kGatherTileTokens;
constexpr int kUnroll = 4;

// Out: float or __nv_bfloat16. kVec16: units of 16 codes. kPacked: engram_hashed_gather_fp8_packed
// (p.batch = 1, p.seq_len = p.tokens; `packed` and `history` are read only then).
template <typename Out, bool kVec16, bool kPacked>
__global__ void __launch_bounds__(kGatherThreads)
hashed_gather_fp8_kernel(const int64_t* __restrict__ raw_ids, const int64_t* __restrict__ lut,
                         const uint8_t* __restrict__ table, const uint8_t* __restrict__ scales,
                         Out* __restrict__ out, int64_t* __restrict__ hash_ids_out, const engram::PackedBatch packed,
                         const int64_t* __restrict__ history, const __grid_constant__ engram::HashedGatherParams p,
                         const engram::Fp8Scales f) {
    __shared__ int64_t s_tok[kGatherTileTokens][engram::kGatherMaxNgram];
    __shared__ uint8_t s_bad[kGatherTileTokens][engram::kGatherMaxNgram];
    __shared__ int64_t s_row[kGatherTileTokens * engram::kGatherMaxHeads];  // -1: NaN row
    __shared__ engram::PackedPosition s_pos[kGatherTileTokens];              // kPacked only

    using Codes = std::conditional_t<kVec16, uint4, uint8_t>;
    constexpr int kCodes = sizeof(Codes);
    const int heads = p.heads;
    const int max_ngram = p.max_ngram;
    const int units_per_row = p.head_dim / kCodes;
    const int units_per_scale = f.block / kCodes;  // kVec16 only when the block is a multiple of 16
    const int64_t num_tiles = (p.tokens + kGatherTileTokens - 1) / kGatherTileTokens;

    for (int64_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
        const int64_t i0 = tile * kGatherTileTokens;
        const int tile_tokens =
            static_cast<int>(p.tokens - i0 < kGatherTileTokens ? p.tokens - i0 : kGatherTileTokens);
        engram::gather_tile_rows<kPacked>(i0, tile_tokens, raw_ids, lut, hash_ids_out, packed, history, p, heads,
                                          max_ngram, s_tok, s_bad, s_row, s_pos);

        // Phase 2: dequantize rows; the tile's output is one contiguous run of tile_tokens*heads rows.
        const int tile_units = tile_tokens * heads * units_per_row;
        Out* dst = out + i0 * heads * static_cast<int64_t>(p.head_dim);
        for (int base = threadIdx.x; base < tile_units; base += kGatherThreads * kUnroll) {
            Codes codes[kUnroll];
            uint32_t scale[kUnroll];
#pragma unroll
            for (int r = 0; r < kUnroll; ++r) {
                const int u = base + r * kGatherThreads;
                codes[r] = Codes{};
                scale[r] = engram::kE8m0Nan;  // a NaN row unless it is in the table
                if (u < tile_units) {
                    const int row = u / units_per_row;
                    const int c = u - row * units_per_row;
                    const int64_t trow = s_row[row];
                    if (trow >= 0) {
                        codes[r] = __ldg(reinterpret_cast<const Codes*>(table + trow * p.head_dim) + c);
                        scale[r] = __ldg(scales + trow * f.per_row + c / units_per_scale);
                    }
                }
            }
#pragma unroll
            for (int r = 0; r < kUnroll; ++r) {
                const int u = base + r * kGatherThreads;
                if (u < tile_units) {
                    if constexpr (kVec16) {
                        engram::dequantize_e4m3x16(codes[r], scale[r], dst + static_cast<int64_t>(u) * kCodes);
                    } else {
                        engram::dequantize_e4m3(codes[r], scale[r], dst + u);
                    }
                }
            }
        }
        __syncthreads();  // s_row is rewritten by the next tile
    }
}

template <typename Out, bool kVec16, bool kPacked>
cudaError_t launch(const int64_t* raw_ids, const int64_t* lut, const uint8_t* table, const uint8_t* scales, void* out,
                   int64_t* hash_ids, const engram::PackedBatch& packed, const int64_t* history,
                   const engram::HashedGatherParams& p, const engram::Fp8Scales& f, cudaStream_t stream) {
    const int64_t tiles = (p.tokens + kGatherTileTokens - 1) / kGatherTileTokens;
    const unsigned blocks = static_cast<unsigned>(tiles < engram::kGatherMaxBlocks ? tiles : engram::kGatherMaxBlocks);
    hashed_gather_fp8_kernel<Out, kVec16, kPacked><<<blocks, kGatherThreads, 0, stream>>>(
        raw_ids, lut, table, scales, static_cast<Out*>(out), hash_ids, packed, history, p, f);
    return cudaGetLastError();
}

// The launch for the output dtype and the unit the row size, the scale block and the alignment allow.
template <bool kPacked>
cudaError_t launch_any(const int64_t* raw_ids, const int64_t* lut, const uint8_t* table, const uint8_t* scales,
                       void* out, int64_t* hash_ids, const engram::PackedBatch& packed, const int64_t* history,
                       const engram::HashedGatherParams& p, const engram::Fp8Scales& f, cudaStream_t stream) {
    const bool vec16 = p.head_dim % 16 == 0 && f.block % 16 == 0 && reinterpret_cast<uintptr_t>(table) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(out) % 16 == 0;
    if (p.dtype == ENGRAM_DTYPE_FLOAT32) {
        return vec16 ? launch<float, true, kPacked>(raw_ids, lut, table, scales, out, hash_ids, packed, history, p, f,
                                                    stream)
                     : launch<float, false, kPacked>(raw_ids, lut, table, scales, out, hash_ids, packed, history, p,
                                                     f, stream);
    }
    return vec16 ? launch<__nv_bfloat16, true, kPacked>(raw_ids, lut, table, scales, out, hash_ids, packed, history, p,
                                                         f, stream)
                 : launch<__nv_bfloat16, false, kPacked>(raw_ids, lut, table, scales, out, hash_ids, packed, history,
                                                          p, f, stream);
}

engram_status_t launch_status(const char* name, cudaError_t err) {
    if (err != cudaSuccess) {
        return engram::fail_cuda(std::string(name) + ": kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}

}  // namespace

ENGRAM_API engram_status_t engram_hashed_gather_fp8(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                                    const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                    const int64_t* multipliers, int32_t max_ngram_size,
                                                    const int64_t* moduli, const int64_t* row_offsets,
                                                    int32_t heads_per_ngram, const uint8_t* d_table,
                                                    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim,
                                                    int32_t scale_block, int32_t out_dtype, void* d_out,
                                                    int64_t* d_hash_ids_out, void* stream) {
    engram::HashedGatherParams p;
    engram::Fp8Scales f;
    engram_status_t st = engram::check_hashed_gather_fp8_args(
        d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers, max_ngram_size, moduli,
        row_offsets, heads_per_ngram, d_table, d_scales, table_rows, head_dim, scale_block, out_dtype, d_out,
        d_hash_ids_out, &p, &f);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.tokens == 0) return engram::ok();
    return launch_status("engram_hashed_gather_fp8",
                         launch_any<false>(d_raw_ids, d_lut, d_table, d_scales, d_out, d_hash_ids_out,
                                           engram::PackedBatch{}, nullptr, p, f, static_cast<cudaStream_t>(stream)));
}

ENGRAM_API engram_status_t engram_hashed_gather_fp8_packed(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const uint8_t* d_table,
    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim, int32_t scale_block, int32_t out_dtype, void* d_out,
    int64_t* d_hash_ids_out, void* stream) {
    engram::PackedGatherParams p;
    engram::Fp8Scales f;
    engram_status_t st = engram::check_hashed_gather_fp8_packed_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_history, num_slots, d_lut, lut_size,
        pad_id_compressed, multipliers, max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, d_scales,
        table_rows, head_dim, scale_block, out_dtype, d_out, d_hash_ids_out, &p, &f);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.gather.tokens == 0) return engram::ok();
    const engram::PackedBatch packed{d_cu_seqlens, d_seq_slots, d_seq_starts, p.num_seqs, p.num_slots};
    return launch_status("engram_hashed_gather_fp8_packed",
                         launch_any<true>(d_raw_ids, d_lut, d_table, d_scales, d_out, d_hash_ids_out, packed,
                                          d_history, p.gather, f, static_cast<cudaStream_t>(stream)));
}
