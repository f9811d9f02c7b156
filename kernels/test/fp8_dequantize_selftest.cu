// Self-test of engram_fp8_dequantize_rows (the fp8 host-table path's dequantization of gathered code and
// scale rows) on a GPU or under kernels/emu, in C++:
//   cmake --build BUILD --target engram_fp8_dequantize_selftest && BUILD/engram_fp8_dequantize_selftest
// The rule (SEMANTICS.md 9, engram.h "fp8 tables"): a value is e4m3(q) * 2^(b - 127) in float32, rounded to
// nearest even for bf16, NaN codes and NaN scales the canonical 0x7fc00000 / 0x7fc0, BIT FOR BIT. The
// reference is written from the bit fields in double (where the products are exact); it shares nothing with
// the kernel's float bit tricks.
//  1. every one of the 256 E4M3 codes times the scale bytes 0, 1, 126, 127, 128, 254 (and 255, NaN), both out
//     dtypes, on the 16-code path (block 256 and 16) and the code-by-code path (block 8, codes one byte off
//     16-byte alignment, an output one element off);
//  2. random rows (every byte value) with random scales per block, head dims and blocks on both paths, row
//     counts that make every thread loop (grid-stride, unrolled);
//  3. rows == 0 launches nothing; bad arguments give INVALID_ARGUMENT naming the entry point, nothing written.
// Outputs are poisoned before every launch. Exit status 0 when everything matches.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engram.h"

#include "check_cuda.h"

namespace {

int failures = 0;

void fail(const std::string& what) {
    if (failures++ < 30) std::printf("  FAIL %s\n", what.c_str());
}

// A device allocation of exactly `bytes` (16 when 0), freed at scope end (exact sizes: ASan sees overreads).
struct Dev {
    void* p = nullptr;
    size_t n;
    explicit Dev(size_t bytes) : n(bytes) { CHECK_CUDA(cudaMalloc(&p, bytes ? bytes : 16)); }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
    ~Dev() { cudaFree(p); }
    template <class T>
    T* as(size_t byte_offset = 0) const {
        return reinterpret_cast<T*>(static_cast<uint8_t*>(p) + byte_offset);
    }
    void put(const std::vector<uint8_t>& v, size_t offset = 0) {
        if (!v.empty()) CHECK_CUDA(cudaMemcpy(as<uint8_t>(offset), v.data(), v.size(), cudaMemcpyHostToDevice));
    }
    void poison() { CHECK_CUDA(cudaMemset(p, 0xee, n)); }  // no value the kernel writes (not even NaN)
    std::vector<uint8_t> get() const {
        std::vector<uint8_t> r(n);
        CHECK_CUDA(cudaMemcpy(r.data(), p, n, cudaMemcpyDeviceToHost));
        return r;
    }
};

// ---------------------------------------------------------------- the reference dequantization

// The value of an E4M3 code from its fields: 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0
// is subnormal (m/8 * 2^-6); S.1111.111 is NaN.
double e4m3_value(uint8_t q) {
    const int sign = q >> 7, e = (q >> 3) & 15, m = q & 7;
    if (e == 15 && m == 7) return NAN;
    const double mag = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
    return sign ? -mag : mag;
}

// x = e4m3(q) * 2^(b - 127), exact in double, to float32 by rounding (exact but for overflow to inf).
uint32_t ref_f32(uint8_t q, uint8_t b) {
    const double v = e4m3_value(q);
    if (std::isnan(v) || b == 255) return 0x7fc00000u;
    const float f = static_cast<float>(std::ldexp(v, b - 127));
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// The float32 above rounded to nearest even to bf16 (its upper 16 bits).
uint16_t ref_bf16(uint8_t q, uint8_t b) {
    const uint32_t u = ref_f32(q, b);
    if (u == 0x7fc00000u) return 0x7fc0;
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// Known values, so a wrong reference cannot pass silently.
void reference_sanity() {
    const int before = failures;
    if (ref_f32(0x38, 127) != 0x3f800000u || ref_f32(0xfe, 127) != 0xc3e00000u || ref_f32(0x01, 0) != 0x00002000u ||
        ref_f32(0x7e, 254) != 0x7f800000u || ref_f32(0x7f, 127) != 0x7fc00000u || ref_f32(0x38, 255) != 0x7fc00000u) {
        fail("reference: known float32 values (1, -448, 2^-136, inf, NaN code, NaN scale)");
    }
    if (ref_bf16(0x04, 0) != 0x0000 || ref_bf16(0x06, 0) != 0x0001 || ref_bf16(0x0c, 0) != 0x0002) {
        fail("reference: bf16 ties to even among subnormals");
    }
    std::printf("%s  the reference dequantization gives the known values\n", failures > before ? "(fail)" : "ok    ");
}

// The reference rows of codes [rows, head_dim] with scales [rows, head_dim / block], as bytes of `dtype`.
std::vector<uint8_t> reference_rows(const std::vector<uint8_t>& codes, const std::vector<uint8_t>& scales,
                                    int head_dim, int block, int dtype) {
    const int elem = dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
    std::vector<uint8_t> out(codes.size() * elem);
    for (size_t i = 0; i < codes.size(); ++i) {
        const size_t row = i / head_dim, c = i % head_dim;
        const uint8_t b = scales[row * (head_dim / block) + c / block];
        if (elem == 4) {
            const uint32_t v = ref_f32(codes[i], b);
            std::memcpy(out.data() + 4 * i, &v, 4);
        } else {
            const uint16_t v = ref_bf16(codes[i], b);
            std::memcpy(out.data() + 2 * i, &v, 2);
        }
    }
    return out;
}

std::string dtype_name(int dtype) { return dtype == ENGRAM_DTYPE_FLOAT32 ? "f32" : "bf16"; }

// Uploads codes (codes_offset bytes into their allocation) and scales, dequantizes into an output
// out_offset_elems elements into its poisoned allocation, and compares with the reference bit for bit.
// Returns the number of differing values.
int run_and_compare(const std::vector<uint8_t>& codes, const std::vector<uint8_t>& scales, int head_dim, int block,
                    int dtype, int codes_offset, int out_offset_elems, const std::string& what) {
    const int elem = dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
    const int64_t rows = static_cast<int64_t>(codes.size()) / head_dim;
    const size_t off = static_cast<size_t>(out_offset_elems) * elem;
    Dev d_codes(codes.size() + codes_offset), d_scales(scales.size()), out(codes.size() * elem + off);
    d_codes.put(codes, codes_offset);
    d_scales.put(scales);
    out.poison();
    const engram_status_t st = engram_fp8_dequantize_rows(d_codes.as<uint8_t>(codes_offset), d_scales.as<uint8_t>(),
                                                          rows, head_dim, block, dtype, out.as<void>(off), nullptr);
    if (st != ENGRAM_STATUS_SUCCESS) {
        fail(what + ": status " + std::to_string(st) + ": " + engram_last_error());
        return 1;
    }
    CHECK_CUDA(cudaDeviceSynchronize());
    const std::vector<uint8_t> got = out.get(), want = reference_rows(codes, scales, head_dim, block, dtype);
    int bad = 0;
    for (size_t i = 0; i < codes.size(); ++i) {
        uint32_t g = 0, w = 0;
        std::memcpy(&g, got.data() + off + i * elem, elem);
        std::memcpy(&w, want.data() + i * elem, elem);
        if (g != w && bad++ < 3) {
            char buf[240];
            std::snprintf(buf, sizeof buf, "%s: row %zu col %zu code 0x%02x scale %u: got 0x%08x, want 0x%08x",
                          what.c_str(), i / head_dim, i % head_dim, codes[i],
                          scales[(i / head_dim) * (head_dim / block) + (i % head_dim) / block], g, w);
            fail(buf);
        }
    }
    for (size_t i = 0; i < off; ++i) {
        if (got[i] != 0xee) {
            fail(what + ": wrote before the output");
            ++bad;
            break;
        }
    }
    return bad;
}

// ---------------------------------------------------------------- 1. every code x the scale bytes

void every_code() {
    // One row per scale byte, holding the 256 codes in order.
    const uint8_t kScales[] = {0, 1, 126, 127, 128, 254, 255};
    const int rows = 7, head_dim = 256;
    std::vector<uint8_t> codes;
    for (int r = 0; r < rows; ++r) {
        for (int q = 0; q < 256; ++q) codes.push_back(static_cast<uint8_t>(q));
    }
    struct Path {
        const char* name;
        int block, codes_offset, out_offset_elems;
    };
    const Path paths[] = {{"16-code units, block 256", 256, 0, 0},
                          {"16-code units, block 16", 16, 0, 0},
                          {"code by code: block 8", 8, 0, 0},
                          {"code by code: codes 1 byte off alignment", 256, 1, 0},
                          {"code by code: out 1 element off alignment", 32, 0, 1}};
    for (const Path& path : paths) {
        std::vector<uint8_t> scales;
        for (int r = 0; r < rows; ++r) scales.insert(scales.end(), head_dim / path.block, kScales[r]);
        for (int dtype : {ENGRAM_DTYPE_FLOAT32, ENGRAM_DTYPE_BFLOAT16}) {
            const std::string what = std::string("every code, ") + path.name + ", " + dtype_name(dtype);
            const int bad = run_and_compare(codes, scales, head_dim, path.block, dtype, path.codes_offset,
                                            path.out_offset_elems, what);
            std::printf("%s  every code x scales {0,1,126,127,128,254,255}, %s, %s\n", bad ? "(fail)" : "ok    ",
                        dtype_name(dtype).c_str(), path.name);
        }
    }
}

// ---------------------------------------------------------------- 2. random rows

struct Shape {
    int head_dim, block;
};

void random_rows(int config, const Shape& s, int dtype, uint32_t seed) {
    std::mt19937_64 rng(seed);
    // Up to 600 rows: beyond what EMU_MAX_GRID blocks cover in one pass, so threads loop.
    const int64_t rows = 1 + static_cast<int64_t>(rng() % 600);
    std::vector<uint8_t> codes(rows * s.head_dim), scales(rows * (s.head_dim / s.block));
    for (auto& q : codes) q = static_cast<uint8_t>(rng());  // every code, NaNs included
    for (auto& b : scales) {
        const int r = static_cast<int>(rng() % 16);
        b = r == 0 ? 0 : r == 1 ? 255 : r == 2 ? 254 : static_cast<uint8_t>(100 + rng() % 50);
    }
    const int codes_offset = config % 5 == 4 ? 1 : 0, out_offset = config % 6 == 5 ? 1 : 0;
    char what[160];
    std::snprintf(what, sizeof what, "random %s rows=%lld head_dim=%d block=%d%s%s", dtype_name(dtype).c_str(),
                  static_cast<long long>(rows), s.head_dim, s.block, codes_offset ? " codes+1B" : "",
                  out_offset ? " out+1" : "");
    const int bad = run_and_compare(codes, scales, s.head_dim, s.block, dtype, codes_offset, out_offset, what);
    std::printf("%s  %s\n", bad ? "(fail)" : "ok    ", what);
}

// ---------------------------------------------------------------- 3. edge cases and bad arguments

void expect_invalid(engram_status_t got, const std::string& what) {
    const char* prefix = "engram_fp8_dequantize_rows: ";
    if (got != ENGRAM_STATUS_INVALID_ARGUMENT) {
        fail(what + ": status " + std::to_string(got) + ", want INVALID_ARGUMENT (" + engram_last_error() + ")");
    } else if (std::strncmp(engram_last_error(), prefix, std::strlen(prefix)) != 0) {
        fail(what + ": the error text does not name engram_fp8_dequantize_rows: " + engram_last_error());
    }
}

void edge_cases() {
    const int before = failures;
    const int head_dim = 32, block = 16, f32 = ENGRAM_DTYPE_FLOAT32, bf16 = ENGRAM_DTYPE_BFLOAT16;
    const int64_t rows = 3;
    Dev codes(rows * head_dim), scales(rows * 2), out(rows * head_dim * 4 + 4);
    const uint8_t* c = codes.as<uint8_t>();
    const uint8_t* s = scales.as<uint8_t>();

    // Nothing to do: success without a launch, so an error left pending stays pending.
    int a = 0, b = 0;
    (void)cudaMemcpy(&a, &b, 4, static_cast<cudaMemcpyKind>(77));
    if (engram_fp8_dequantize_rows(c, s, 0, head_dim, block, f32, out.p, nullptr) != ENGRAM_STATUS_SUCCESS) {
        fail("rows == 0 failed");
    }
    if (cudaGetLastError() == cudaSuccess) fail("rows == 0 launched (it consumed a pending CUDA error)");

    out.poison();
    expect_invalid(engram_fp8_dequantize_rows(nullptr, s, rows, head_dim, block, f32, out.p, nullptr), "null d_codes");
    expect_invalid(engram_fp8_dequantize_rows(c, nullptr, rows, head_dim, block, f32, out.p, nullptr), "null d_scales");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, block, f32, nullptr, nullptr), "null d_out");
    expect_invalid(engram_fp8_dequantize_rows(c, s, -1, head_dim, block, f32, out.p, nullptr), "rows -1");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, 0, block, f32, out.p, nullptr), "head_dim 0");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, 65537, 1, f32, out.p, nullptr), "head_dim 65537");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, 0, f32, out.p, nullptr), "scale_block 0");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, 12, f32, out.p, nullptr), "scale_block 12");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, 64, f32, out.p, nullptr), "scale_block 64");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, block, ENGRAM_DTYPE_FP8_E4M3, out.p, nullptr),
                   "out_dtype fp8");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, block, 7, out.p, nullptr), "out_dtype 7");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, block, f32, out.as<void>(2), nullptr),
                   "out misaligned for f32");
    expect_invalid(engram_fp8_dequantize_rows(c, s, rows, head_dim, block, bf16, out.as<void>(1), nullptr),
                   "out misaligned for bf16");
    expect_invalid(engram_fp8_dequantize_rows(c, s, INT64_MAX / 16, 32, block, f32, out.p, nullptr),
                   "rows * head_dim bytes overflowing int64");
    CHECK_CUDA(cudaDeviceSynchronize());
    for (uint8_t v : out.get()) {
        if (v != 0xee) {
            fail("a rejected call wrote the output");
            break;
        }
    }
    std::printf("%s  edge cases: rows == 0 launches nothing; bad arguments rejected, nothing written\n",
                failures > before ? "(fail)" : "ok    ");
}

}  // namespace

int main() {
    reference_sanity();
    every_code();
    // head_dim / block: the 16-code path (head_dim and block multiples of 16) and the code-by-code one.
    const Shape shapes[] = {{16, 16}, {32, 32}, {48, 16}, {256, 128}, {64, 8}, {24, 8}, {5, 5}, {3, 1}, {256, 256}};
    for (int i = 0; i < 12; ++i) {
        random_rows(i, shapes[i % 9], i % 2 ? ENGRAM_DTYPE_BFLOAT16 : ENGRAM_DTYPE_FLOAT32, 100 + i);
    }
    edge_cases();
    std::printf("%s\n", failures ? "FAILED" : "ALL OK");
    return failures ? 1 : 0;
}
