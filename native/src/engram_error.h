// Thread-local last-error text shared by the C ABI's translation units.
#pragma once

#include <string>

#include "engram.h"

namespace engram {

// Records `message` as this thread's last error and returns `status` (for `return fail(...)`).
engram_status_t fail(engram_status_t status, const char* message);

// As above for a composed message (the text is copied into the thread-local last error).
engram_status_t fail(engram_status_t status, const std::string& message);

// Records a CUDA failure: ENGRAM_STATUS_CUDA_ERROR, engram_last_cuda_error() = cuda_error and the text
// "<what>: <error_name>: <error_text>". Takes the code as an int so host-only code needs no CUDA header.
engram_status_t fail_cuda(const std::string& what, int cuda_error, const char* error_name, const char* error_text);

// Clears this thread's last error and returns ENGRAM_STATUS_SUCCESS.
engram_status_t ok();

}  // namespace engram

#define ENGRAM_API extern "C" __attribute__((visibility("default")))
