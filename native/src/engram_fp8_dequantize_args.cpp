// Host-side argument check of engram_fp8_dequantize_rows (kernels/fp8_dequantize.h): no CUDA call, so it
// also runs (and is tested) on machines without a GPU.
#include <cstdint>
#include <string>

#include "engram_args.h"
#include "engram_error.h"
#include "fp8_dequantize.h"
#include "hashed_gather.h"

namespace engram {
namespace {
engram_status_t bad(const std::string& what) {
    return fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_fp8_dequantize_rows: " + what);
}
}  // namespace

engram_status_t check_fp8_dequantize_args(const uint8_t* d_codes, const uint8_t* d_scales, int64_t rows,
                                          int32_t head_dim, int32_t scale_block, int32_t out_dtype, const void* d_out,
                                          Fp8DequantizeParams* params) {
    if (!d_codes) return bad("null d_codes");
    if (!d_scales) return bad("null d_scales");
    if (!d_out) return bad("null d_out");
    if (rows < 0) return bad("rows must be >= 0, got " + std::to_string(rows));
    if (head_dim < 1 || head_dim > kGatherMaxHeadDim) {
        return bad(out_of_range_text("head_dim", head_dim, 1, kGatherMaxHeadDim));
    }
    if (scale_block < 1) return bad("scale_block must be >= 1, got " + std::to_string(scale_block));
    if (head_dim % scale_block != 0) {
        return bad("scale_block " + std::to_string(scale_block) + " does not divide head_dim " +
                   std::to_string(head_dim));
    }
    if (out_dtype != ENGRAM_DTYPE_FLOAT32 && out_dtype != ENGRAM_DTYPE_BFLOAT16) {
        return bad("out_dtype must be ENGRAM_DTYPE_FLOAT32 = 0 or ENGRAM_DTYPE_BFLOAT16 = 1 (the codes are E4M3), got " +
                   std::to_string(out_dtype));
    }
    const int32_t elem_bytes = dtype_elem_bytes(out_dtype);
    if (misaligned(d_out, elem_bytes)) {
        return bad("d_out must be aligned to the dtype's " + std::to_string(elem_bytes) + "-byte elements");
    }
    if (rows > INT64_MAX / head_dim / elem_bytes) return bad("rows * head_dim output bytes overflow int64");
    params->rows = rows;
    params->head_dim = head_dim;
    params->dtype = out_dtype;
    params->elem_bytes = elem_bytes;
    params->f.block = scale_block;
    params->f.per_row = head_dim / scale_block;
    return ok();
}

}  // namespace engram
