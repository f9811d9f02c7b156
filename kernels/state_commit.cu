// engram_state_commit: the carried state of every sequence of a packed call, written after the kernels
// that read it (engram.h, "Packed batches").
//
// Design: one launch, a grid-stride loop over independent work items, so no item reads what another
// writes and nothing needs a barrier:
//   - history (d_history != NULL): one thread per sequence; it reads every old entry of its slot into
//     registers before writing any (a chunk shorter than M = max_ngram_size - 1 keeps old entries at
//     new places), then writes entry j = the compressed id at position len - M + j, the old entry
//     j + len, or the pad.
//   - window (d_conv_state != NULL, W > 0): one thread per (sequence, copy unit of a row: 16 bytes when
//     G * H * element size is a multiple of 16 and d_value, d_conv_state are 16-byte aligned, else one
//     element). Rows are copied bit for bit (no dtype arithmetic). New row j is d_value's row
//     len - W + j of the chunk, else the old row j + len, else zeros. Rows go in ascending j, kUnroll at a
//     time, all loads of a group before its stores: the old row j + len a group reads is above every row
//     written so far (they are < j), and a row a later group reads (>= j + kUnroll + len) is above the
//     group's rows, so every old row is read before it is overwritten, for any len >= 1.
// len == 0: a continuing slot is left as it is (no write), a starting one gets the pad / zeros. A slot
// outside [0, num_slots) is skipped. The descriptors are not trusted: a sequence's token range is
// clamped to [0, tokens) (an empty or shortened chunk), so every read stays inside d_raw_ids / d_value.
// Distinct slots are the caller's contract (two sequences on one slot race, inside the state).
#include <cuda_runtime.h>

#include <string>

#include "engram_error.h"
#include "hashed_gather.h"
#include "packed.h"

namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 8;  // window rows loaded before they are stored
constexpr int64_t kMaxBlocks = 1 << 20;

// The clamped token range [start, start + len) of sequence s, and whether its slot is committed.
struct CommitSeq {
    int64_t start;
    int64_t len;
    int32_t slot;  // -1: not committed
    bool starts;
};

__device__ __forceinline__ CommitSeq commit_seq(const engram::PackedBatch& b, int64_t tokens, int32_t s) {
    int64_t lo = __ldg(b.cu_seqlens + s);
    int64_t hi = __ldg(b.cu_seqlens + s + 1);
    lo = lo < 0 ? 0 : (lo > tokens ? tokens : lo);
    hi = hi < lo ? lo : (hi > tokens ? tokens : hi);
    const int32_t slot = __ldg(b.seq_slots + s);
    return CommitSeq{lo, hi - lo, slot >= 0 && slot < b.num_slots ? slot : -1, __ldg(b.seq_starts + s) != 0};
}

// A compressed id as engram_hashed_gather reads it (ids < 0 pass; ids >= lut_size, outside the table, give
// the pad: the caller validates ids, this only keeps the read in the table).
__device__ __forceinline__ int64_t compressed_id(int64_t raw, const int64_t* __restrict__ lut, int64_t lut_size,
                                                 int64_t pad) {
    if (lut == nullptr || raw < 0) return raw;
    return raw < lut_size ? __ldg(lut + raw) : pad;
}

__device__ __forceinline__ void commit_history(const CommitSeq& q, const int64_t* __restrict__ raw_ids,
                                               const int64_t* __restrict__ lut, int64_t* __restrict__ history,
                                               const engram::StateCommitParams& p) {
    const int M = p.history;
    int64_t* h = history + static_cast<int64_t>(q.slot) * M;
    if (q.len == 0 && !q.starts) return;  // unchanged
    int64_t old[engram::kGatherMaxNgram - 1];
    if (!q.starts) {
        for (int j = 0; j < M; ++j) old[j] = h[j];
    }
    for (int j = 0; j < M; ++j) {
        const int64_t pos = q.len - M + j;  // position in the chunk of new entry j
        int64_t v;
        if (pos >= 0) {
            v = compressed_id(__ldg(raw_ids + q.start + pos), lut, p.lut_size, p.pad_id);
        } else if (!q.starts) {
            v = old[j + q.len];  // old entry M + pos, with j + len < M here
        } else {
            v = p.pad_id;
        }
        h[j] = v;
    }
}

// One copy unit (column `unit`) of every window row of the sequence's slot.
template <typename U>
__device__ __forceinline__ void commit_window(const CommitSeq& q, int64_t unit, int64_t units_per_row,
                                              const U* __restrict__ value, U* __restrict__ state, int64_t W) {
    if (q.len == 0 && !q.starts) return;  // unchanged
    U* rows = state + static_cast<int64_t>(q.slot) * W * units_per_row + unit;  // row j at rows[j * units_per_row]
    for (int64_t j0 = 0; j0 < W; j0 += kUnroll) {
        U v[kUnroll];
#pragma unroll
        for (int r = 0; r < kUnroll; ++r) {
            const int64_t j = j0 + r;
            const int64_t pos = q.len - W + j;  // position in the chunk of new row j
            if (j < W) {
                if (pos >= 0) {
                    v[r] = value[(q.start + pos) * units_per_row + unit];  // len > 0: value != nullptr
                } else if (!q.starts) {
                    v[r] = rows[(j + q.len) * units_per_row];  // old row W + pos, above every row written so far
                } else {
                    v[r] = U{};  // zeros
                }
            }
        }
#pragma unroll
        for (int r = 0; r < kUnroll; ++r) {
            if (j0 + r < W) rows[(j0 + r) * units_per_row] = v[r];
        }
    }
}

// U: the window's copy unit (uint4, uint32_t or uint16_t); d_value/d_conv_state as U.
template <typename U>
__global__ void __launch_bounds__(kThreads)
state_commit_kernel(const int64_t* __restrict__ raw_ids, const int64_t* __restrict__ lut,
                    int64_t* __restrict__ history, const U* __restrict__ value, U* __restrict__ state,
                    const engram::PackedBatch packed, const engram::StateCommitParams p, int64_t units_per_row) {
    const int64_t history_items = history != nullptr ? p.num_seqs : 0;
    const int64_t window_items = state != nullptr && p.window > 0 ? p.num_seqs * units_per_row : 0;
    const int64_t items = history_items + window_items;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
    for (int64_t w = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; w < items; w += stride) {
        if (w < history_items) {
            const CommitSeq q = commit_seq(packed, p.tokens, static_cast<int32_t>(w));
            if (q.slot >= 0) commit_history(q, raw_ids, lut, history, p);
        } else {
            const int64_t x = w - history_items;
            const int32_t s = static_cast<int32_t>(x / units_per_row);
            const CommitSeq q = commit_seq(packed, p.tokens, s);
            if (q.slot >= 0) commit_window(q, x - s * units_per_row, units_per_row, value, state, p.window);
        }
    }
}

template <typename U>
cudaError_t launch(const int64_t* raw_ids, const int64_t* lut, int64_t* history, const void* value, void* state,
                   const engram::PackedBatch& packed, const engram::StateCommitParams& p, cudaStream_t stream) {
    const int64_t units_per_row =
        p.window > 0 ? static_cast<int64_t>(p.channels) * p.elem_bytes / static_cast<int64_t>(sizeof(U)) : 1;
    const int64_t items = (history != nullptr ? p.num_seqs : 0) +
                          (state != nullptr && p.window > 0 ? p.num_seqs * units_per_row : 0);
    if (items == 0) return cudaSuccess;  // nothing to commit (d_conv_state alone with W = 0)
    const int64_t needed = (items + kThreads - 1) / kThreads;
    const unsigned blocks = static_cast<unsigned>(needed < kMaxBlocks ? needed : kMaxBlocks);
    state_commit_kernel<U><<<blocks, kThreads, 0, stream>>>(raw_ids, lut, history, static_cast<const U*>(value),
                                                           static_cast<U*>(state), packed, p, units_per_row);
    return cudaGetLastError();
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

ENGRAM_API engram_status_t engram_state_commit(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                               const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                               int32_t num_seqs, int32_t num_slots, const int64_t* d_lut,
                                               int64_t lut_size, int64_t pad_id_compressed, int32_t max_ngram_size,
                                               int64_t* d_history, const void* d_value, int32_t hc_mult,
                                               int32_t hidden, int32_t kernel_size, int32_t dilation, int32_t dtype,
                                               void* d_conv_state, void* stream) {
    engram::StateCommitParams p;
    engram_status_t st = engram::check_state_commit_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, num_slots, d_lut, lut_size,
        pad_id_compressed, max_ngram_size, d_history, d_value, hc_mult, hidden, kernel_size, dilation, dtype,
        d_conv_state, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.num_seqs == 0) return engram::ok();

    const engram::PackedBatch packed{d_cu_seqlens, d_seq_slots, d_seq_starts, p.num_seqs, p.num_slots};
    const int64_t* lut = d_history != nullptr ? d_lut : nullptr;
    const int64_t* raw_ids = d_history != nullptr ? d_raw_ids : nullptr;
    void* state = p.window > 0 ? d_conv_state : nullptr;  // W = 0: no window to keep
    const void* value = state != nullptr ? d_value : nullptr;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t err;
    if (state != nullptr && (static_cast<int64_t>(p.channels) * p.elem_bytes) % 16 == 0 && aligned16(value) &&
        aligned16(state)) {
        err = launch<uint4>(raw_ids, lut, d_history, value, state, packed, p, s);
    } else if (state == nullptr || p.elem_bytes == 4) {
        err = launch<uint32_t>(raw_ids, lut, d_history, value, state, packed, p, s);
    } else {
        err = launch<uint16_t>(raw_ids, lut, d_history, value, state, packed, p, s);
    }
    if (err != cudaSuccess) {
        return engram::fail_cuda("engram_state_commit: kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}
