// Small helpers shared by the host-side argument checks of the launch wrappers.
#pragma once

#include <cstdint>
#include <string>

#include "engram.h"

namespace engram {

// Element size of a storage dtype (ENGRAM_DTYPE_*), or 0 when unknown.
inline int32_t dtype_elem_bytes(int32_t dtype) {
    return dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : dtype == ENGRAM_DTYPE_BFLOAT16 ? 2 : 0;
}

inline std::string unknown_dtype_text(int32_t dtype) {
    if (dtype == ENGRAM_DTYPE_FP8_E4M3) {  // a table dtype, valid in engram_hashed_gather_fp8* only
        return "dtype 2 (ENGRAM_DTYPE_FP8_E4M3) is for fp8 tables (engram_hashed_gather_fp8); here ENGRAM_DTYPE_FLOAT32 = 0 "
               "or ENGRAM_DTYPE_BFLOAT16 = 1";
    }
    return "unknown dtype " + std::to_string(dtype) + " (ENGRAM_DTYPE_FLOAT32 = 0, ENGRAM_DTYPE_BFLOAT16 = 1)";
}

inline bool misaligned(const void* ptr, int64_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes != 0; }

// "NAME must be in [LO, HI], got VALUE"
inline std::string out_of_range_text(const char* name, int64_t value, int64_t lo, int64_t hi) {
    return std::string(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
           std::to_string(value);
}

// Shared by the packed checks (engram_packed_args.cpp) and the fp8 ones (engram_fp8_gather_args.cpp):
// Re-labels the last error of another entry point's check ("engram_short_conv: why") as `name`'s ("name: why").
engram_status_t relabel(const char* name, const char* rectangular);

// "" when a packed batch's descriptor pointers and counts are fine, else the reason.
std::string packed_problem(int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
                           const uint8_t* d_seq_starts, int32_t num_seqs, int32_t num_slots);

}  // namespace engram
