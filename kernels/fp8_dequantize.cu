// engram_fp8_dequantize_rows: dequantizes rows of E4M3 codes with their E8M0 block scales into float32 or
// bf16 (engram.h, "Dequantizing gathered fp8 rows"), with kernels/fp8_e4m3.cuh's exact arithmetic, so a row
// dequantized here has the bits engram_hashed_gather_fp8 gives the same table row. The fp8 host-table path
// runs it on the code and scale rows its CPU gather copied to the device.
//
// The codes are one contiguous [rows, head_dim] run, so unit u (16 codes, or one) starts at code u * kCodes,
// and its scale is scales[u * kCodes / block]: block divides head_dim, so row * head_dim + c over block is
// row * (head_dim / block) + c / block, and a 16-code unit never spans two blocks (16 divides the block).
// Grid-stride, kUnroll units' loads issued before the first store.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include "engram_error.h"
#include "fp8_dequantize.h"
#include "fp8_e4m3.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;
constexpr int64_t kMaxBlocks = 4096;

// Out: float or __nv_bfloat16. kVec16: units of 16 codes (one 16-byte load, 64 or 32 bytes stored).
template <typename Out, bool kVec16>
__global__ void __launch_bounds__(kThreads)
fp8_dequantize_rows_kernel(const uint8_t* __restrict__ codes, const uint8_t* __restrict__ scales,
                           Out* __restrict__ out, int64_t units, int32_t block) {
    using Codes = std::conditional_t<kVec16, uint4, uint8_t>;
    constexpr int kCodes = sizeof(Codes);
    const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
    for (int64_t base = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; base < units;
         base += stride * kUnroll) {
        Codes q[kUnroll];
        uint32_t b[kUnroll];
#pragma unroll
        for (int r = 0; r < kUnroll; ++r) {
            const int64_t u = base + r * stride;
            q[r] = Codes{};
            b[r] = engram::kE8m0Nan;
            if (u < units) {
                q[r] = __ldg(reinterpret_cast<const Codes*>(codes) + u);
                b[r] = __ldg(scales + u * kCodes / block);
            }
        }
#pragma unroll
        for (int r = 0; r < kUnroll; ++r) {
            const int64_t u = base + r * stride;
            if (u < units) {
                if constexpr (kVec16) {
                    engram::dequantize_e4m3x16(q[r], b[r], out + u * kCodes);
                } else {
                    engram::dequantize_e4m3(q[r], b[r], out + u);
                }
            }
        }
    }
}

template <typename Out, bool kVec16>
cudaError_t launch(const uint8_t* codes, const uint8_t* scales, void* out, const engram::Fp8DequantizeParams& p,
                   cudaStream_t stream) {
    const int64_t units = p.rows * p.head_dim / (kVec16 ? 16 : 1);
    const int64_t wanted = (units + kThreads - 1) / kThreads;
    const unsigned blocks = static_cast<unsigned>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
    fp8_dequantize_rows_kernel<Out, kVec16><<<blocks, kThreads, 0, stream>>>(codes, scales, static_cast<Out*>(out),
                                                                            units, p.f.block);
    return cudaGetLastError();
}

}  // namespace

ENGRAM_API engram_status_t engram_fp8_dequantize_rows(const uint8_t* d_codes, const uint8_t* d_scales, int64_t rows,
                                                      int32_t head_dim, int32_t scale_block, int32_t out_dtype,
                                                      void* d_out, void* stream) {
    engram::Fp8DequantizeParams p;
    engram_status_t st =
        engram::check_fp8_dequantize_args(d_codes, d_scales, rows, head_dim, scale_block, out_dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.rows == 0) return engram::ok();
    const bool vec16 = p.head_dim % 16 == 0 && p.f.block % 16 == 0 && reinterpret_cast<uintptr_t>(d_codes) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(d_out) % 16 == 0;
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    cudaError_t err;
    if (p.dtype == ENGRAM_DTYPE_FLOAT32) {
        err = vec16 ? launch<float, true>(d_codes, d_scales, d_out, p, s) : launch<float, false>(d_codes, d_scales, d_out, p, s);
    } else {
        err = vec16 ? launch<__nv_bfloat16, true>(d_codes, d_scales, d_out, p, s)
                    : launch<__nv_bfloat16, false>(d_codes, d_scales, d_out, p, s);
    }
    if (err != cudaSuccess) {
        return engram::fail_cuda("engram_fp8_dequantize_rows: kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}
