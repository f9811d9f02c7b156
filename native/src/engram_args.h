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
    return "unknown dtype " + std::to_string(dtype) + " (ENGRAM_DTYPE_FLOAT32 = 0, ENGRAM_DTYPE_BFLOAT16 = 1)";
}

inline bool misaligned(const void* ptr, int64_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes != 0; }

// "NAME must be in [LO, HI], got VALUE"
inline std::string out_of_range_text(const char* name, int64_t value, int64_t lo, int64_t hi) {
    return std::string(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
           std::to_string(value);
}

}  // namespace engram
