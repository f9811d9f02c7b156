// Dequantizing gathered fp8 rows (kernels/fp8_dequantize.cu, engram.h "Dequantizing gathered fp8 rows"): the
// launch parameters and the host-side argument check (native/src/engram_fp8_dequantize_args.cpp), shared by
// the CUDA build, the no-CUDA stub and the CUDA simulator so all three reject bad arguments identically,
// before any CUDA call.
#pragma once

#include <stdint.h>

#include "engram.h"
#include "hashed_gather_fp8.h"

namespace engram {

struct Fp8DequantizeParams {
    int64_t rows;
    int32_t head_dim;
    int32_t dtype;       // the output's, ENGRAM_DTYPE_FLOAT32 or ENGRAM_DTYPE_BFLOAT16
    int32_t elem_bytes;  // its size
    Fp8Scales f;
};

// Records the last error ("engram_fp8_dequantize_rows: ...") and returns ENGRAM_STATUS_INVALID_ARGUMENT on
// failure, else fills `params` and returns SUCCESS.
engram_status_t check_fp8_dequantize_args(const uint8_t* d_codes, const uint8_t* d_scales, int64_t rows,
                                          int32_t head_dim, int32_t scale_block, int32_t out_dtype, const void* d_out,
                                          Fp8DequantizeParams* params);

}  // namespace engram
