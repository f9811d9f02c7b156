// The CUDA entry points of a library built without nvcc: they say so instead of failing to link.
#include "engram_error.h"

ENGRAM_API int32_t engram_built_with_cuda(void) { return 0; }

ENGRAM_API engram_status_t engram_cuda_runtime_version(int32_t*) {
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}

ENGRAM_API engram_status_t engram_cuda_device_count(int32_t*) {
    return engram::fail(ENGRAM_STATUS_NOT_BUILT_WITH_CUDA, "libengram was built without CUDA (nvcc not found at build time)");
}
