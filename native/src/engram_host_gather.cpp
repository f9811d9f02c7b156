// engram_host_gather_rows: the CPU gather of a host-memory table's rows (issue 4's CPU path).
// Random rows of a large table are latency bound, not bandwidth bound: one core waiting on one
// cache miss at a time gets ~4 GB/s. Prefetching the rows a fixed distance ahead keeps many misses
// in flight per core (measured on the 2-core dev VM, 128-byte rows from a 4 GiB table: 4.1 GB/s
// plain memcpy per row, 6.4 GB/s prefetched). The copy loop is in host_row_copy.h.
#include <cstdint>
#include <string>

#include "engram_error.h"
#include "host_row_copy.h"

namespace {

engram_status_t bad(const std::string& what) {
    return engram::fail(ENGRAM_STATUS_INVALID_ARGUMENT, "engram_host_gather_rows: " + what);
}

}  // namespace

ENGRAM_API engram_status_t engram_host_gather_rows(const void* table, int64_t table_rows, int64_t row_bytes,
                                                   const int64_t* hash_ids, int64_t tokens, int32_t heads,
                                                   const int64_t* moduli, const int64_t* row_offsets, void* out,
                                                   int64_t* out_first_bad) {
    if (out_first_bad) *out_first_bad = -1;
    if (!table || !hash_ids || !moduli || !row_offsets || !out) return bad("null pointer argument");
    if (table_rows < 0 || tokens < 0) return bad("table_rows and tokens must be >= 0");
    if (row_bytes < 1) return bad("row_bytes must be >= 1, got " + std::to_string(row_bytes));
    if (heads < 1) return bad("heads must be >= 1, got " + std::to_string(heads));
    if (table_rows > INT64_MAX / row_bytes) return bad("table_rows * row_bytes overflows int64");
    if (tokens > INT64_MAX / heads / row_bytes) return bad("tokens * heads * row_bytes overflows int64");
    for (int32_t h = 0; h < heads; ++h) {
        if (moduli[h] <= 0 || row_offsets[h] < 0 || row_offsets[h] > table_rows - moduli[h]) {
            return bad("head " + std::to_string(h) + ": rows [" + std::to_string(row_offsets[h]) + ", +" +
                       std::to_string(moduli[h]) + ") are not inside the table's " + std::to_string(table_rows) +
                       " rows");
        }
    }
    // Every id first, so a bad one leaves out untouched and no read leaves the table.
    const int64_t rows = tokens * heads;
    for (int64_t r = 0, h = 0; r < rows; ++r) {
        const int64_t id = hash_ids[r];
        if (id < 0 || id >= moduli[h]) {
            if (out_first_bad) *out_first_bad = r;
            return bad("hash id " + std::to_string(id) + " at index " + std::to_string(r) + " (token " +
                       std::to_string(r / heads) + ", head " + std::to_string(h) + ") is outside [0, " +
                       std::to_string(moduli[h]) + "); nothing was written");
        }
        if (++h == heads) h = 0;
    }
    const engram::RowStores stores = engram::streaming_stores_fit(out, row_bytes) ? engram::RowStores::kStreaming
                                                                                  : engram::RowStores::kCached;
    engram::copy_hashed_rows(static_cast<const unsigned char*>(table), row_offsets, heads, hash_ids, rows, row_bytes,
                             static_cast<unsigned char*>(out), stores);
    return engram::ok();
}
