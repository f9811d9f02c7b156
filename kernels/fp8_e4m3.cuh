// Exact dequantization of OCP FP8 E4M3 codes with E8M0 block scales (SEMANTICS.md 9; engram.h, "fp8
// tables"): x = e4m3(q) * 2^(b - 127) in float32, stored as float32 or rounded to nearest even to bf16.
// Bit arithmetic, no lookup table: q's sign, exponent and mantissa fields are moved into a float's,
// which gives q * 2^-120 exactly (a float32 subnormal for q's subnormals), then two multiplications
// by powers of two, each exact (the second rounds only past FLT_MAX, to +-inf, as rounding the exact
// value does). Exact only WITHOUT flush-to-zero (no -ftz=true / --use_fast_math): q's subnormals, the
// scale 2^-127 (b = 0) and small results are float32 subnormals.
// NaN codes (S.1111.111) and NaN scales (b = 255) give the canonical quiet NaN, 0x7fc00000 / 0x7fc0,
// the bits of the gather's NaN rows: the GPU's own NaN results (0x7fffffff) are replaced, so the bits
// do not depend on the hardware's NaN propagation.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

namespace engram {

constexpr uint32_t kFp8NanF32 = 0x7fc00000u;
constexpr uint16_t kFp8NanBf16 = 0x7fc0u;
constexpr uint32_t kE8m0Nan = 255u;

// 2^(b - 127) for an E8M0 byte b < 255, exactly (b = 0: the float32 subnormal 2^-127).
__device__ __forceinline__ float e8m0_scale(uint32_t b) { return __uint_as_float(b != 0 ? b << 23 : 0x00400000u); }

__device__ __forceinline__ bool e4m3_is_nan(uint32_t q) { return (q & 0x7fu) == 0x7fu; }

// e4m3(q) * scale for the code q (bits 0..7) and a scale from e8m0_scale; q must not be NaN.
__device__ __forceinline__ float e4m3_scaled(uint32_t q, float scale) {
    const float q_times_2_pow_minus_120 = __uint_as_float(((q & 0x80u) << 24) | ((q & 0x7fu) << 20));
    return q_times_2_pow_minus_120 * 0x1p120f * scale;  // (x * 2^120) * scale: both products exact
}

// The bits a dequantized value is stored with: float32, or bfloat16 rounded to nearest even.
template <typename Out>
struct Fp8Store;

template <>
struct Fp8Store<float> {
    using Bits = uint32_t;
    static __device__ __forceinline__ uint32_t bits(uint32_t q, float scale, bool scale_nan) {
        return scale_nan || e4m3_is_nan(q) ? kFp8NanF32 : __float_as_uint(e4m3_scaled(q, scale));
    }
};

template <>
struct Fp8Store<__nv_bfloat16> {
    using Bits = uint16_t;
    static __device__ __forceinline__ uint16_t bits(uint32_t q, float scale, bool scale_nan) {
        return scale_nan || e4m3_is_nan(q) ? kFp8NanBf16 : __bfloat16_as_ushort(__float2bfloat16_rn(e4m3_scaled(q, scale)));
    }
};

// Dequantizes the code q with the E8M0 byte b into *dst.
template <typename Out>
__device__ __forceinline__ void dequantize_e4m3(uint32_t q, uint32_t b, Out* dst) {
    using S = Fp8Store<Out>;
    *reinterpret_cast<typename S::Bits*>(dst) = S::bits(q, e8m0_scale(b), b == kE8m0Nan);
}

// Dequantizes 16 codes (bytes of `codes`, in memory order) with one E8M0 byte b into dst[0 .. 16), 16-byte
// aligned: 64 bytes of float32 or 32 bytes of bf16, written as 16-byte stores.
template <typename Out>
__device__ __forceinline__ void dequantize_e4m3x16(const uint4& codes, uint32_t b, Out* dst) {
    using S = Fp8Store<Out>;
    const float scale = e8m0_scale(b);
    const bool scale_nan = b == kE8m0Nan;
    const uint32_t words[4] = {codes.x, codes.y, codes.z, codes.w};
    uint32_t out[16 * sizeof(typename S::Bits) / 4];  // the 16 values' bits, packed little-endian in words
#pragma unroll
    for (int i = 0; i < 16; ++i) {
        const uint32_t v = S::bits((words[i / 4] >> (8 * (i % 4))) & 0xffu, scale, scale_nan);
        if constexpr (sizeof(typename S::Bits) == 4) {
            out[i] = v;
        } else if (i % 2 == 0) {
            out[i / 2] = v;
        } else {
            out[i / 2] |= v << 16;
        }
    }
    uint4* d = reinterpret_cast<uint4*>(dst);
#pragma unroll
    for (int k = 0; k < static_cast<int>(sizeof(out) / 16); ++k) {
        d[k] = make_uint4(out[4 * k], out[4 * k + 1], out[4 * k + 2], out[4 * k + 3]);
    }
}

}  // namespace engram
