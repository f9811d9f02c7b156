// Thread-local last-error text shared by the C ABI's translation units.
#pragma once

#include <string>

#include "engram.h"

namespace engram {

// Records `message` as this thread's last error and returns `status` (for `return fail(...)`).
engram_status_t fail(engram_status_t status, const char* message);

// As above for a composed message (the text is copied into the thread-local last error).
engram_status_t fail(engram_status_t status, const std::string& message);

// Clears this thread's last error and returns ENGRAM_STATUS_SUCCESS.
engram_status_t ok();

}  // namespace engram

#define ENGRAM_API extern "C" __attribute__((visibility("default")))
