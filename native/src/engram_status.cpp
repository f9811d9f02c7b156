// Version, status names and the thread-local last error.
#include <string>

#include "engram_error.h"

namespace {
thread_local std::string last_error;
thread_local int last_cuda_error = 0;
}

namespace engram {

engram_status_t fail(engram_status_t status, const char* message) {
    last_error = message;
    last_cuda_error = 0;
    return status;
}

engram_status_t fail(engram_status_t status, const std::string& message) {
    return fail(status, message.c_str());
}

engram_status_t fail_cuda(const std::string& what, int cuda_error, const char* error_name, const char* error_text) {
    last_error = what + ": " + error_name + ": " + error_text;
    last_cuda_error = cuda_error;
    return ENGRAM_STATUS_CUDA_ERROR;
}

engram_status_t ok() {
    last_error.clear();
    last_cuda_error = 0;
    return ENGRAM_STATUS_SUCCESS;
}

}  // namespace engram

ENGRAM_API const char* engram_version(void) { return ENGRAM_VERSION_STRING; }

ENGRAM_API int32_t engram_abi_version(void) { return ENGRAM_ABI_VERSION; }

ENGRAM_API const char* engram_status_string(engram_status_t status) {
    switch (status) {
        case ENGRAM_STATUS_SUCCESS: return "ENGRAM_STATUS_SUCCESS";
        case ENGRAM_STATUS_INVALID_ARGUMENT: return "ENGRAM_STATUS_INVALID_ARGUMENT";
        case ENGRAM_STATUS_CUDA_ERROR: return "ENGRAM_STATUS_CUDA_ERROR";
        case ENGRAM_STATUS_NOT_BUILT_WITH_CUDA: return "ENGRAM_STATUS_NOT_BUILT_WITH_CUDA";
        case ENGRAM_STATUS_INTERNAL_ERROR: return "ENGRAM_STATUS_INTERNAL_ERROR";
        default: return "ENGRAM_STATUS_UNKNOWN";
    }
}

ENGRAM_API const char* engram_last_error(void) { return last_error.c_str(); }

ENGRAM_API int32_t engram_last_cuda_error(void) { return last_cuda_error; }
