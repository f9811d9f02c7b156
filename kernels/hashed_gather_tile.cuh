// Phases 0 and 1 of the hashed gather kernels, shared by kernels/hashed_gather.cu (rows copied) and
// kernels/hashed_gather_fp8.cu (fp8 rows dequantized): for a tile of kGatherTileTokens consecutive tokens,
// the table row of every (token, head) into shared memory, the hash ids into hash_ids_out.
//   (packed only) one thread per token: its sequence's position t and the slot whose history it reads
//      (kernels/packed_device.cuh);
//   0. one thread per (token, k < max_ngram): the compressed token k positions back (pad before the
//      sequence start; in a packed batch the slot's history before the chunk) into s_tok, with a flag for
//      ids outside the compression table in s_bad;
//   1. one thread per (token, head): the hash (kernels/ngram_hash.cuh arithmetic, bit-identical to
//      engram_ngram_hash_host) into hash_ids_out and, as a table row (-1: a NaN row), into s_row.
// Each phase ends with __syncthreads, so phase 2 (the caller's) reads a complete s_row. The per-layer
// constants come by reference to the kernel's __grid_constant__ parameters: read through the constant
// bank, no device reads, no global __constant__ state shared between streams.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "hashed_gather.h"
#include "ngram_hash.cuh"
#include "packed.h"
#include "packed_device.cuh"

namespace engram {

constexpr int kGatherThreads = 256;
constexpr int kGatherTileTokens = 16;
constexpr int64_t kGatherMaxBlocks = 1 << 20;  // grid-stride over tiles beyond this

// The tile's shared memory is declared by each kernel (kernels/emu's transform.py registers the
// __shared__ arrays it sees in a .cu file), with these shapes:
//   __shared__ int64_t s_tok[kGatherTileTokens][kGatherMaxNgram];
//   __shared__ uint8_t s_bad[kGatherTileTokens][kGatherMaxNgram];
//   __shared__ int64_t s_row[kGatherTileTokens * kGatherMaxHeads];  // -1: NaN row
//   __shared__ PackedPosition s_pos[kGatherTileTokens];             // kPacked only

// Phases (packed), 0 and 1 for the tile of tokens [i0, i0 + tile_tokens). kPacked: a packed batch
// (p.batch = 1, p.seq_len = p.tokens; `packed` and `history` are read only then).
// heads and max_ngram are p's, read once by the kernel before its tile loop.
template <bool kPacked>
__device__ __forceinline__ void gather_tile_rows(int64_t i0, int tile_tokens, const int64_t* raw_ids,
                                                 const int64_t* lut, int64_t* hash_ids_out,
                                                 const PackedBatch packed, const int64_t* history,
                                                 const HashedGatherParams& p, int heads, int max_ngram,
                                                 int64_t (&s_tok)[kGatherTileTokens][kGatherMaxNgram],
                                                 uint8_t (&s_bad)[kGatherTileTokens][kGatherMaxNgram],
                                                 int64_t (&s_row)[kGatherTileTokens * kGatherMaxHeads],
                                                 PackedPosition (&s_pos)[kGatherTileTokens]) {
    if constexpr (kPacked) {  // each token's position in its sequence and the slot it reads
        for (int tok = threadIdx.x; tok < tile_tokens; tok += kGatherThreads) {
            s_pos[tok] = packed_position(packed, i0 + tok);
        }
        __syncthreads();
    }

    // Phase 0: compressed shifted tokens.
    for (int w = threadIdx.x; w < tile_tokens * max_ngram; w += kGatherThreads) {
        const int tok = w / max_ngram;
        const int k = w - tok * max_ngram;
        const int64_t i = i0 + tok;
        int64_t t;
        if constexpr (kPacked) {
            t = s_pos[tok].t;
        } else {
            t = i % p.seq_len;
        }
        int64_t v = p.pad_id;
        uint8_t bad = 0;
        if constexpr (kPacked) {
            // Before the chunk (t - k in [-M, -1]): the continued sequence's compressed history.
            const int32_t slot = s_pos[tok].slot;
            if (t - k < 0 && slot >= 0) {
                const int64_t m = max_ngram - 1;
                v = __ldg(history + slot * m + m + (t - k));
            }
        }
        if (t - k >= 0) {
            v = __ldg(raw_ids + (i - k));
            if (lut != nullptr && v >= 0) {
                if (v < p.lut_size) {
                    v = __ldg(lut + v);
                } else {
                    bad = 1;  // id outside the table: caller's contract broken; NaN rows, hash -1
                    v = 0;
                }
            }
        }
        s_tok[tok][k] = v;
        s_bad[tok][k] = bad;
    }
    __syncthreads();

    // Phase 1: hash ids and table rows.
    for (int w = threadIdx.x; w < tile_tokens * heads; w += kGatherThreads) {
        const int tok = w / heads;
        const int h = w - tok * heads;
        const int n = h / p.heads_per_ngram + 2;
        int64_t mix = 0;
        bool bad = false;
        for (int k = 0; k < n; ++k) {
            mix ^= wrapping_mul(s_tok[tok][k], p.multipliers[k]);
            bad |= s_bad[tok][k] != 0;
        }
        const int64_t hash = bad ? -1 : floor_mod(mix, p.moduli[h]);
        s_row[w] = bad ? -1 : p.row_offsets[h] + hash;
        if (hash_ids_out != nullptr) hash_ids_out[(i0 + tok) * heads + h] = hash;
    }
    __syncthreads();
}

}  // namespace engram
