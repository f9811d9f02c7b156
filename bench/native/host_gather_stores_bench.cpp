// Times engram_host_gather_rows' copy loop (native/src/host_row_copy.h) with cached stores against
// streaming stores, on the same rows, alternating, so both see the same machine state.
//
// Build and run (no CUDA needed):
//   cmake -S . -B build && cmake --build build --target engram_host_gather_bench
//   build/engram_host_gather_bench [--table-gib 2] [--threads 2] [--tokens 16384] [--heads 16]
//                                  [--row-bytes 128] [--reps 21]
// The table is an anonymous mapping with MADV_HUGEPAGE (as HostMemory.anonymousMapping(true)), filled
// once; every rep draws fresh random ids, gathers tokens*heads rows into a page-aligned buffer split
// into one contiguous range per thread (as CpuRowGather does), and reports payload GB/s.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host_row_copy.h"

namespace {

struct Options {
    double table_gib = 2;
    int threads = 2;
    int64_t tokens = 16384;
    int64_t heads = 16;
    int64_t row_bytes = 128;
    int reps = 21;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--table-gib") o.table_gib = std::atof(v);
        else if (k == "--threads") o.threads = std::atoi(v);
        else if (k == "--tokens") o.tokens = std::atoll(v);
        else if (k == "--heads") o.heads = std::atoll(v);
        else if (k == "--row-bytes") o.row_bytes = std::atoll(v);
        else if (k == "--reps") o.reps = std::atoi(v);
        else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); std::exit(64); }
    }
    if (argc % 2 == 0) { std::fprintf(stderr, "options come in pairs: --name value\n"); std::exit(64); }
    return o;
}

double gather_ms(const Options& o, const unsigned char* table, const int64_t* offsets, const int64_t* ids,
                 unsigned char* out, engram::RowStores stores) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int p = 0; p < o.threads; ++p) {
        // Whole tokens per thread, so each range starts at head 0 like CpuRowGather's parts.
        const int64_t from = o.tokens * p / o.threads * o.heads, to = o.tokens * (p + 1) / o.threads * o.heads;
        workers.emplace_back([&, from, to] {
            engram::copy_hashed_rows(table, offsets, o.heads, ids + from, to - from, o.row_bytes,
                                     out + from * o.row_bytes, stores);
        });
    }
    for (auto& w : workers) w.join();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const int64_t table_bytes = static_cast<int64_t>(o.table_gib * (1LL << 30)) / o.row_bytes * o.row_bytes;
    const int64_t table_rows = table_bytes / o.row_bytes;
    const int64_t rows = o.tokens * o.heads;
    const int64_t out_bytes = rows * o.row_bytes;

    void* t = mmap(nullptr, table_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void* d = mmap(nullptr, out_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED || d == MAP_FAILED) { std::perror("mmap"); return 1; }
    madvise(t, table_bytes, MADV_HUGEPAGE);
    auto* table = static_cast<unsigned char*>(t);
    auto* out = static_cast<unsigned char*>(d);
    for (int64_t i = 0; i < table_bytes; i += 8) std::memcpy(table + i, &i, 8);  // touch every page
    std::memset(out, 0, out_bytes);
    if (!engram::streaming_stores_fit(out, o.row_bytes)) {
        std::fprintf(stderr, "streaming stores do not fit rows of %lld bytes on this build\n",
                     static_cast<long long>(o.row_bytes));
        return 1;
    }

    const int64_t per_head = table_rows / o.heads;
    std::vector<int64_t> offsets(o.heads), ids(rows);
    for (int64_t h = 0; h < o.heads; ++h) offsets[h] = h * per_head;
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> pick(0, per_head - 1);
    std::vector<double> cached, streaming;
    for (int rep = 0; rep < o.reps + 2; ++rep) {  // the first two are warm-up
        for (auto& id : ids) id = pick(rng);
        const bool cached_first = rep % 2 == 0;    // alternate which goes first
        double a, b;
        if (cached_first) {
            a = gather_ms(o, table, offsets.data(), ids.data(), out, engram::RowStores::kCached);
            b = gather_ms(o, table, offsets.data(), ids.data(), out, engram::RowStores::kStreaming);
        } else {
            b = gather_ms(o, table, offsets.data(), ids.data(), out, engram::RowStores::kStreaming);
            a = gather_ms(o, table, offsets.data(), ids.data(), out, engram::RowStores::kCached);
        }
        if (rep >= 2) { cached.push_back(a); streaming.push_back(b); }
    }
    const double mb = out_bytes / 1e6;
    std::printf("table %.1f GiB, %lld rows of %lld B (%.1f MB), %d threads, %d reps:\n", o.table_gib,
                static_cast<long long>(rows), static_cast<long long>(o.row_bytes), mb, o.threads, o.reps);
    const double mc = median(cached), ms = median(streaming);
    std::printf("  cached stores:    median %.3f ms (%.1f GB/s), min %.3f ms\n", mc, mb / mc,
                *std::min_element(cached.begin(), cached.end()));
    std::printf("  streaming stores: median %.3f ms (%.1f GB/s), min %.3f ms\n", ms, mb / ms,
                *std::min_element(streaming.begin(), streaming.end()));
    std::printf("{\"bench\":\"host_gather_stores\",\"table_gib\":%.1f,\"threads\":%d,\"row_bytes\":%lld,"
                "\"cached_ms\":%.4f,\"streaming_ms\":%.4f}\n",
                o.table_gib, o.threads, static_cast<long long>(o.row_bytes), mc, ms);
    return 0;
}
