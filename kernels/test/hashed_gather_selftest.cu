// Self-test of engram_hashed_gather on a GPU, in C++ so it needs none of the Java device-memory API:
//   cmake --build BUILD --target engram_kernel_selftest && BUILD/engram_kernel_selftest
// For fp32 and bf16, a 16-byte row (vector path) and an odd row (scalar path), with and without the
// compression table, it compares the hash ids with engram_ngram_hash_host and the gathered rows
// bit for bit with a host gather; then an id outside the table must give hash -1 and NaN rows.
// Edge cases: multipliers whose products wrap around int64, raw ids INT64_MIN / INT64_MAX and other
// negatives, a negative pad, max_ngram_size 4, 5 and 16 (up to 60 heads), and 16-byte rows with d_out
// one element off 16-byte alignment (element-by-element path).
// Exit status 0 when everything matches.
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "engram.h"

#include "check_cuda.h"

template <typename T>
static T* to_device(const std::vector<T>& v) {
    T* d = nullptr;
    CHECK_CUDA(cudaMalloc(&d, v.size() * sizeof(T) + 16));
    CHECK_CUDA(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

static int failures = 0;

struct Case {
    int dtype;
    int head_dim;
    bool with_lut;
    bool out_of_range;  // raw ids >= lut_size (with the table): hash -1 and NaN rows
    int max_ngram = 3;
    int heads_per_ngram = 4;
    bool edge_ids = false;  // wrapping multipliers, INT64_MIN / INT64_MAX and negative raw ids, negative pad
    int out_offset = 0;     // d_out this many elements past a 256-byte aligned allocation
};

static void run_case(const Case& c, uint32_t seed) {
    const int64_t batch = 3, seq_len = 37, lut_size = 1000, vprime = 700;
    const int dtype = c.dtype, head_dim = c.head_dim, max_ngram = c.max_ngram;
    const int heads_per_ngram = c.heads_per_ngram, heads = (max_ngram - 1) * heads_per_ngram;
    const bool with_lut = c.with_lut;
    const int elem = dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
    std::mt19937_64 rng(seed);
    std::vector<int64_t> lut(lut_size);
    for (auto& x : lut) x = static_cast<int64_t>(rng() % vprime);
    std::vector<int64_t> raw(batch * seq_len);
    for (auto& x : raw) x = static_cast<int64_t>(rng() % (with_lut ? lut_size : vprime));
    raw[5] = -3;  // negative ids pass through
    if (c.out_of_range) raw[40] = lut_size + 7;
    int64_t pad = with_lut ? lut[2] : 2;
    std::vector<int64_t> mult = {1000003, 998244353 * 2 + 1, 0x5DEECE66DLL * 2 + 1};
    if (c.edge_ids) {
        // Products far beyond int64 (two's-complement wrap-around), negative multipliers, and raw ids at
        // the ends of int64 (negative ones pass the table unchanged; INT64_MAX is outside a table).
        mult = {(1LL << 62) + 12345, INT64_MAX, INT64_MIN + 1, -998244353, (1LL << 62) + 12345};
        for (int64_t i : {0, 9, 36, 37, 38, 60, 110}) raw[i] = INT64_MIN;
        for (int64_t i : {1, 50, 74}) raw[i] = INT64_MIN + 1;
        for (int64_t i : {12, 13, 80}) raw[i] = -1;
        raw[90] = -(1LL << 40);
        raw[100] = INT64_MAX;
        pad = -7;
    }
    for (size_t k = mult.size(); k < static_cast<size_t>(max_ngram); ++k) mult.push_back(static_cast<int64_t>(rng() | 1));
    std::vector<int64_t> moduli(heads), offsets(heads);
    int64_t rows = 0;
    for (int h = 0; h < heads; ++h) {
        moduli[h] = 101 + 2 * h;
        offsets[h] = rows;
        rows += moduli[h];
    }
    std::vector<uint8_t> table(rows * head_dim * elem);
    for (auto& b : table) b = static_cast<uint8_t>(rng());

    // Host expectation: compress, hash (engram_ngram_hash_host), gather.
    std::vector<int64_t> compressed(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        compressed[i] = with_lut && raw[i] >= 0 && raw[i] < lut_size ? lut[raw[i]] : raw[i];
    }
    std::vector<int64_t> want_hash(raw.size() * heads);
    if (engram_ngram_hash_host(compressed.data(), batch, seq_len, pad, mult.data(), max_ngram, moduli.data(),
                               heads_per_ngram, want_hash.data()) != ENGRAM_STATUS_SUCCESS) {
        std::printf("engram_ngram_hash_host failed: %s\n", engram_last_error());
        std::exit(2);
    }
    if (with_lut) {  // every head whose window (k < n) holds an id outside the table gets -1
        for (int64_t i = 0; i < batch * seq_len; ++i) {
            for (int h = 0; h < heads; ++h) {
                const int n = h / heads_per_ngram + 2;
                const int64_t t = i % seq_len;
                for (int k = 0; k < n; ++k) {
                    if (t - k >= 0 && raw[i - k] >= lut_size) want_hash[i * heads + h] = -1;
                }
            }
        }
    }

    int64_t* d_raw = to_device(raw);
    int64_t* d_lut = with_lut ? to_device(lut) : nullptr;
    uint8_t* d_table = to_device(table);
    uint8_t* d_out_alloc = nullptr;
    int64_t* d_hash = nullptr;
    const size_t out_bytes = raw.size() * heads * head_dim * elem;
    CHECK_CUDA(cudaMalloc(&d_out_alloc, out_bytes + c.out_offset * elem));
    uint8_t* d_out = d_out_alloc + c.out_offset * elem;
    CHECK_CUDA(cudaMalloc(&d_hash, want_hash.size() * 8));
    cudaStream_t stream;
    CHECK_CUDA(cudaStreamCreate(&stream));
    engram_status_t st = engram_hashed_gather(d_raw, batch, seq_len, d_lut, lut_size, pad, mult.data(), max_ngram,
                                              moduli.data(), offsets.data(), heads_per_ngram, d_table, rows,
                                              head_dim, dtype, d_out, d_hash, stream);
    if (st != ENGRAM_STATUS_SUCCESS) {
        std::printf("engram_hashed_gather: status %d: %s\n", st, engram_last_error());
        std::exit(2);
    }
    CHECK_CUDA(cudaStreamSynchronize(stream));
    std::vector<int64_t> got_hash(want_hash.size());
    std::vector<uint8_t> got(out_bytes);
    CHECK_CUDA(cudaMemcpy(got_hash.data(), d_hash, got_hash.size() * 8, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaMemcpy(got.data(), d_out, out_bytes, cudaMemcpyDeviceToHost));

    int bad = 0;
    const size_t row_bytes = static_cast<size_t>(head_dim) * elem;
    for (size_t r = 0; r < want_hash.size(); ++r) {
        if (got_hash[r] != want_hash[r] && bad++ < 5) {
            std::printf("  hash[%zu]: got %lld want %lld\n", r, (long long)got_hash[r], (long long)want_hash[r]);
        }
        const uint8_t* g = got.data() + r * row_bytes;
        if (want_hash[r] >= 0) {
            const uint8_t* w = table.data() + (offsets[r % heads] + want_hash[r]) * row_bytes;
            if (std::memcmp(g, w, row_bytes) != 0 && bad++ < 5) std::printf("  row %zu differs\n", r);
        } else {
            for (int d = 0; d < head_dim; ++d) {
                float f;
                if (elem == 4) {
                    std::memcpy(&f, g + 4 * d, 4);
                } else {
                    uint32_t bits = static_cast<uint32_t>(g[2 * d] | (g[2 * d + 1] << 8)) << 16;
                    std::memcpy(&f, &bits, 4);
                }
                if (!std::isnan(f) && bad++ < 5) std::printf("  row %zu dim %d not NaN\n", r, d);
            }
        }
    }
    std::printf("%s dtype=%s head_dim=%d lut=%d out_of_range=%d max_ngram=%d heads=%d edge_ids=%d out_offset=%d\n",
                bad ? "FAIL" : "ok  ", dtype == ENGRAM_DTYPE_FLOAT32 ? "f32" : "bf16", head_dim, with_lut,
                c.out_of_range, max_ngram, heads, c.edge_ids, c.out_offset);
    failures += bad != 0;
    cudaFree(d_raw);
    cudaFree(d_lut);
    cudaFree(d_table);
    cudaFree(d_out_alloc);
    cudaFree(d_hash);
    cudaStreamDestroy(stream);
}

int main() {
    uint32_t seed = 1;
    for (int dtype : {ENGRAM_DTYPE_FLOAT32, ENGRAM_DTYPE_BFLOAT16}) {
        for (int head_dim : {64, 8, 6, 3}) {
            for (bool lut : {true, false}) run_case({dtype, head_dim, lut, false}, seed++);
            run_case({dtype, head_dim, true, true}, seed++);
        }
    }
    const int f32 = ENGRAM_DTYPE_FLOAT32, bf16 = ENGRAM_DTYPE_BFLOAT16;
    for (bool lut : {true, false}) {
        run_case({f32, 64, lut, lut, 4, 4, true}, seed++);   // int64 wrap-around, extreme ids, negative pad
        run_case({bf16, 6, lut, lut, 16, 4, true}, seed++);  // max_ngram 16: 60 heads, multipliers 5..15 random
        run_case({f32, 8, lut, false, 5, 5, true}, seed++);  // 20 heads
    }
    // 16-byte rows with d_out one element off 16-byte alignment: the element-by-element path.
    run_case({f32, 4, true, true, 3, 4, false, 1}, seed++);
    run_case({bf16, 8, false, false, 4, 6, true, 1}, seed++);
    run_case({f32, 64, true, false, 3, 4, false, 1}, seed++);
    std::printf("%s\n", failures ? "FAILED" : "ALL OK");
    return failures ? 1 : 0;
}
