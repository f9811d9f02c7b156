// The row-copy loop of engram_host_gather_rows, shared with its benchmark
// (bench/native/host_gather_stores_bench.cpp), which times both store kinds on the same code.
//
// Random rows of a large table are latency bound: rows are prefetched a fixed distance ahead so one
// core keeps many cache misses in flight. The destination is a staging buffer that the CPU does not
// read again (a DMA engine does): streaming (non-temporal) stores write it without first reading
// each destination line into the cache (the read-for-ownership of a normal store), which leaves
// the memory bus to the random reads.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#define ENGRAM_HAVE_STREAMING_STORES 1
#else
#define ENGRAM_HAVE_STREAMING_STORES 0
#endif

namespace engram {

enum class RowStores { kCached, kStreaming };

constexpr int64_t kPrefetchRows = 16;  // rows ahead; 8..32 all measured within a few percent
constexpr int64_t kPrefetchLines = 4;  // cache lines per row; the hardware prefetcher takes wider rows' tails

// {@return whether streaming stores can write rows of row_bytes at out}: 16-byte stores need a
// 16-byte aligned destination and whole 16-byte units per row.
inline bool streaming_stores_fit(const void* out, int64_t row_bytes) {
    return ENGRAM_HAVE_STREAMING_STORES && row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
}

namespace detail {

inline const unsigned char* row_at(const unsigned char* table, const int64_t* offsets, int64_t heads,
                                   const int64_t* ids, int64_t r, int64_t row_bytes) {
    return table + (offsets[r % heads] + ids[r]) * row_bytes;
}

inline void prefetch_row(const unsigned char* row, int64_t row_bytes) {
    for (int64_t line = 0; line < kPrefetchLines && line * 64 < row_bytes; ++line) {
        __builtin_prefetch(row + line * 64, 0, 0);
    }
}

template <RowStores kStores>
inline void copy_one_row(unsigned char* dst, const unsigned char* src, int64_t row_bytes) {
#if ENGRAM_HAVE_STREAMING_STORES
    if constexpr (kStores == RowStores::kStreaming) {
        for (int64_t b = 0; b < row_bytes; b += 16) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + b));
            _mm_stream_si128(reinterpret_cast<__m128i*>(dst + b), v);
        }
        return;
    }
#endif
    std::memcpy(dst, src, static_cast<size_t>(row_bytes));
}

// kRowBytes > 0: a compile-time row size, so the copy becomes a few vector moves; 0: row_bytes at run time.
template <int64_t kRowBytes, RowStores kStores>
void copy_rows(const unsigned char* table, const int64_t* offsets, int64_t heads, const int64_t* ids, int64_t rows,
               int64_t row_bytes, unsigned char* out) {
    const int64_t rb = kRowBytes > 0 ? kRowBytes : row_bytes;
    for (int64_t r = 0; r < rows && r < kPrefetchRows; ++r) prefetch_row(row_at(table, offsets, heads, ids, r, rb), rb);
    for (int64_t r = 0; r < rows; ++r) {
        if (r + kPrefetchRows < rows) prefetch_row(row_at(table, offsets, heads, ids, r + kPrefetchRows, rb), rb);
        copy_one_row<kStores>(out + r * rb, row_at(table, offsets, heads, ids, r, rb), rb);
    }
#if ENGRAM_HAVE_STREAMING_STORES
    // Streaming stores are weakly ordered: make them visible before the caller signals completion
    // (to another thread, or to a DMA that reads the buffer).
    if constexpr (kStores == RowStores::kStreaming) _mm_sfence();
#endif
}

template <RowStores kStores>
void copy_rows_sized(const unsigned char* table, const int64_t* offsets, int64_t heads, const int64_t* ids,
                     int64_t rows, int64_t row_bytes, unsigned char* out) {
    switch (row_bytes) {  // bf16 and fp32 rows of the usual head dims 32/64/128
        case 64: copy_rows<64, kStores>(table, offsets, heads, ids, rows, row_bytes, out); break;
        case 128: copy_rows<128, kStores>(table, offsets, heads, ids, rows, row_bytes, out); break;
        case 256: copy_rows<256, kStores>(table, offsets, heads, ids, rows, row_bytes, out); break;
        case 512: copy_rows<512, kStores>(table, offsets, heads, ids, rows, row_bytes, out); break;
        default: copy_rows<0, kStores>(table, offsets, heads, ids, rows, row_bytes, out); break;
    }
}

}  // namespace detail

// Copies rows[r] = table[(offsets[r % heads] + ids[r]) * row_bytes ..] to out + r * row_bytes for
// r < rows. Ids must already be checked. kStreaming needs streaming_stores_fit(out, row_bytes).
inline void copy_hashed_rows(const unsigned char* table, const int64_t* offsets, int64_t heads, const int64_t* ids,
                             int64_t rows, int64_t row_bytes, unsigned char* out, RowStores stores) {
    if (stores == RowStores::kStreaming) {
        detail::copy_rows_sized<RowStores::kStreaming>(table, offsets, heads, ids, rows, row_bytes, out);
    } else {
        detail::copy_rows_sized<RowStores::kCached>(table, offsets, heads, ids, rows, row_bytes, out);
    }
}

}  // namespace engram
