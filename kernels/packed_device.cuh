// Device helpers of the packed kernels (kernels/hashed_gather.cu's packed variant,
// kernels/short_conv_packed.cu): where a packed token lies in its sequence and which slot's state it reads.
// The descriptors are not validated on the device (engram.h), so every value here is clamped to keep
// the kernels' reads inside their tensors whatever the descriptors hold.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "packed.h"

namespace engram {

// The last sequence s < num_seqs (num_seqs >= 1) with cu[s] <= i: the one owning token i when cu is
// valid (the non-empty one where empty sequences repeat cu). Binary search: log2(num_seqs) reads of cu,
// which the tile's tokens share in L1.
__device__ __forceinline__ int32_t packed_sequence(const int32_t* __restrict__ cu, int32_t num_seqs, int64_t i) {
    int32_t lo = 0, hi = num_seqs;  // cu[lo] <= i (cu[0] = 0), and hi == num_seqs or cu[hi] > i
    while (hi - lo > 1) {
        const int32_t mid = lo + (hi - lo) / 2;
        if (__ldg(cu + mid) <= i) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// Token i of a packed batch: its position t in its sequence's chunk, and the slot whose state it reads
// for positions before the chunk (-1: none, i.e. the sequence starts here, or its slot is outside
// [0, num_slots), or the call has no state).
struct PackedPosition {
    int32_t t;     // 0 <= t <= i whatever the descriptors hold: token i - k is in the chunk iff t - k >= 0
    int32_t slot;  // -1 or in [0, num_slots)
};

__device__ __forceinline__ PackedPosition packed_position(const PackedBatch& b, int64_t i) {
    const int32_t s = packed_sequence(b.cu_seqlens, b.num_seqs, i);
    int64_t t = i - __ldg(b.cu_seqlens + s);
    t = t < 0 ? 0 : (t > i ? i : t);  // only garbage descriptors are clamped (tokens <= INT32_MAX)
    const int32_t slot = __ldg(b.seq_slots + s);
    const bool reads_state = __ldg(b.seq_starts + s) == 0 && slot >= 0 && slot < b.num_slots;
    return PackedPosition{static_cast<int32_t>(t), reads_state ? slot : -1};
}

}  // namespace engram
