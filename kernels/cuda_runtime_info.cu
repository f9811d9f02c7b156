// CUDA runtime queries that need no GPU to answer (they report why there is none).
#include <cuda_runtime.h>

#include <string>

#include "engram_error.h"

namespace {
engram_status_t cuda_fail(const char* call, cudaError_t err) {
    return engram::fail_cuda(std::string(call) + " failed", err, cudaGetErrorName(err), cudaGetErrorString(err));
}
}  // namespace

ENGRAM_API int32_t engram_built_with_cuda(void) { return 1; }

ENGRAM_API engram_status_t engram_cuda_runtime_version(int32_t* out_version) {
    if (!out_version) return engram::fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_cuda_runtime_version: null out_version");
    int version = 0;
    cudaError_t err = cudaRuntimeGetVersion(&version);
    if (err != cudaSuccess) return cuda_fail("cudaRuntimeGetVersion", err);
    *out_version = version;
    return engram::ok();
}

ENGRAM_API engram_status_t engram_cuda_device_count(int32_t* out_count) {
    if (!out_count) return engram::fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_cuda_device_count: null out_count");
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return cuda_fail("cudaGetDeviceCount", err);
    }
    *out_count = count;
    return engram::ok();
}
