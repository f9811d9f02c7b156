// Self-test of the fp8-table gathers (engram_hashed_gather_fp8, engram_hashed_gather_fp8_packed) on a GPU
// or under kernels/emu, in C++:
//   cmake --build BUILD --target engram_fp8_gather_selftest && BUILD/engram_fp8_gather_selftest
// The rule (SEMANTICS.md 9, engram.h "fp8 tables"): a gathered value is e4m3(q) * 2^(b - 127) in float32,
// rounded to nearest even for bf16, NaN codes and NaN scales the canonical 0x7fc00000 / 0x7fc0, BIT FOR
// BIT. The reference here is written from the bit fields, in double (where the products are exact), and
// shares nothing with the kernel's float bit tricks.
//  1. every one of the 256 E4M3 codes (subnormals, +-0, +-448, the two NaNs) times the scale bytes 0, 1,
//     126, 127, 128, 254, 255 (float32 subnormal results, bf16 ties, overflow to inf, NaN), both out
//     dtypes, on the 16-code path (block 256 and 16) and the code-by-code path (block 8, a table one byte
//     off 16-byte alignment, an output one element off);
//  2. random tables (every byte value) with random scales per block through the rectangular gather (lut or
//     not, ids outside the lut: hash -1 and NaN rows, head dims and blocks on both paths), against a host
//     gather of the reference rows with a host hash;
//  3. the packed gather on sequences cut into chunks, packed in random order, the history carried by
//     engram_state_commit, against the same whole-sequence host reference;
//  4. tokens == 0 launches nothing; bad arguments give INVALID_ARGUMENT naming the entry point, nothing written.
// Outputs are poisoned before every launch. Exit status 0 when everything matches.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
    void put(const void* src, size_t bytes, size_t offset = 0) {
        if (bytes) CHECK_CUDA(cudaMemcpy(as<uint8_t>(offset), src, bytes, cudaMemcpyHostToDevice));
    }
    void poison() { CHECK_CUDA(cudaMemset(p, 0xee, n)); }  // no value the gather writes (not even NaN)
    std::vector<uint8_t> get() const {
        std::vector<uint8_t> r(n);
        CHECK_CUDA(cudaMemcpy(r.data(), p, n, cudaMemcpyDeviceToHost));
        return r;
    }
};

template <class T>
void upload(Dev& d, const std::vector<T>& v, size_t offset = 0) {
    d.put(v.data(), v.size() * sizeof(T), offset);
}

// ---------------------------------------------------------------- the reference dequantization

// The value of an E4M3 code from its fields: 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0
// is subnormal (m/8 * 2^-6); S.1111.111 is NaN.
double e4m3_value(uint8_t q) {
    const int sign = q >> 7, e = (q >> 3) & 15, m = q & 7;
    if (e == 15 && m == 7) return NAN;
    const double mag = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
    return sign ? -mag : mag;
}

uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// x = e4m3(q) * 2^(b - 127): exact in double; to float32 by rounding (exact but for overflow to inf).
uint32_t ref_f32(uint8_t q, uint8_t b) {
    const double v = e4m3_value(q);
    if (std::isnan(v) || b == 255) return 0x7fc00000u;
    return float_bits(static_cast<float>(std::ldexp(v, b - 127)));
}

// The float32 above rounded to nearest even to bf16 (its upper 16 bits).
uint16_t ref_bf16(uint8_t q, uint8_t b) {
    const uint32_t u = ref_f32(q, b);
    if (u == 0x7fc00000u) return 0x7fc0;
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// The reference's own sanity: known values, so a wrong reference cannot pass silently.
void reference_sanity() {
    const int before = failures;
    struct Known {
        uint8_t q, b;
        uint32_t f32;
    };
    const Known known[] = {
        {0x38, 127, 0x3f800000u},  // 1.0
        {0xb8, 127, 0xbf800000u},  // -1.0
        {0x7e, 127, 0x43e00000u},  // 448
        {0xfe, 127, 0xc3e00000u},  // -448
        {0x08, 127, 0x3c800000u},  // 2^-6, the smallest normal
        {0x01, 127, 0x3b000000u},  // 2^-9, the smallest subnormal
        {0x80, 127, 0x80000000u},  // -0
        {0x01, 0, 0x00002000u},    // 2^-136: a float32 subnormal
        {0x07, 1, 0x0001c000u},    // 7 * 2^-136 * 2 = 7 * 2^-135
        {0x7e, 254, 0x7f800000u},  // 448 * 2^127: inf
        {0x38, 254, 0x7f000000u},  // 2^127
        {0x7f, 127, 0x7fc00000u},  // NaN code
        {0x38, 255, 0x7fc00000u},  // NaN scale
    };
    for (const Known& k : known) {
        if (ref_f32(k.q, k.b) != k.f32) {
            fail("reference: code " + std::to_string(k.q) + " scale " + std::to_string(k.b) + " gives " +
                 std::to_string(ref_f32(k.q, k.b)) + ", want " + std::to_string(k.f32));
        }
    }
    // bf16 subnormals are multiples of 2^-133. Code 0x04 with scale 0 is 4 * 2^-136 = 0.5 * 2^-133: a tie, to
    // even (+-0); 0x06 is 0.75 * 2^-133 (to 2^-133); 0x0c (1.5 * 2^-6) is 1.5 * 2^-133: a tie, to 2 * 2^-133.
    if (ref_bf16(0x04, 0) != 0x0000 || ref_bf16(0x84, 0) != 0x8000 || ref_bf16(0x06, 0) != 0x0001 ||
        ref_bf16(0x0c, 0) != 0x0002) {
        fail("reference: bf16 ties to even among subnormals");
    }
    std::printf("%s  the reference dequantization gives the known values\n", failures > before ? "(fail)" : "ok    ");
}

// ---------------------------------------------------------------- one fp8 layer and its host reference

struct Layer {
    int max_ngram, heads_per_ngram, heads, head_dim, block;
    int64_t table_rows = 0, lut_size = 50, pad = 0;
    std::vector<int64_t> lut, mult, moduli, offsets;
    std::vector<uint8_t> codes, scales;  // [table_rows, head_dim], [table_rows, head_dim / block]

    // The reference row of table row r in out dtype `dtype`, as bytes.
    void ref_row(int64_t r, int dtype, uint8_t* dst) const {
        for (int c = 0; c < head_dim; ++c) {
            const uint8_t q = codes[r * head_dim + c], b = scales[r * (head_dim / block) + c / block];
            if (dtype == ENGRAM_DTYPE_FLOAT32) {
                const uint32_t v = ref_f32(q, b);
                std::memcpy(dst + 4 * c, &v, 4);
            } else {
                const uint16_t v = ref_bf16(q, b);
                std::memcpy(dst + 2 * c, &v, 2);
            }
        }
    }
};

int64_t floor_mod(int64_t a, int64_t m) {
    const int64_t r = a % m;
    return r < 0 ? r + m : r;
}

// Hash ids and rows of one sequence of raw ids (pad before its start), the arithmetic of SEMANTICS.md 2
// written out: s_k = compressed id k back, mix_n = XOR_{k<n} s_k * mult[k] (wrapping), hash = mix mod m.
// An id >= lut_size (with a lut) in the window: hash -1 and a NaN row.
void reference_sequence(const Layer& y, bool with_lut, const std::vector<int64_t>& raw, int dtype,
                        std::vector<int64_t>& hash, std::vector<uint8_t>& rows) {
    const int64_t L = static_cast<int64_t>(raw.size());
    const int elem = dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
    const size_t row_bytes = static_cast<size_t>(y.head_dim) * elem;
    hash.assign(L * y.heads, 0);
    rows.assign(L * y.heads * row_bytes, 0);
    for (int64_t t = 0; t < L; ++t) {
        for (int h = 0; h < y.heads; ++h) {
            const int n = h / y.heads_per_ngram + 2;
            uint64_t mix = 0;
            bool bad = false;
            for (int k = 0; k < n; ++k) {
                int64_t s = y.pad;
                if (t - k >= 0) {
                    s = raw[t - k];
                    if (with_lut && s >= 0) {
                        bad |= s >= y.lut_size;
                        s = s < y.lut_size ? y.lut[s] : 0;
                    }
                }
                mix ^= static_cast<uint64_t>(s) * static_cast<uint64_t>(y.mult[k]);
            }
            uint8_t* dst = rows.data() + (t * y.heads + h) * row_bytes;
            if (bad) {
                hash[t * y.heads + h] = -1;
                for (int c = 0; c < y.head_dim; ++c) {
                    if (elem == 4) {
                        const uint32_t nan = 0x7fc00000u;
                        std::memcpy(dst + 4 * c, &nan, 4);
                    } else {
                        const uint16_t nan = 0x7fc0;
                        std::memcpy(dst + 2 * c, &nan, 2);
                    }
                }
            } else {
                const int64_t id = floor_mod(static_cast<int64_t>(mix), y.moduli[h]);
                hash[t * y.heads + h] = id;
                y.ref_row(y.offsets[h] + id, dtype, dst);
            }
        }
    }
}

Layer make_layer(int max_ngram, int heads_per_ngram, int head_dim, int block, std::mt19937_64& rng) {
    Layer y;
    y.max_ngram = max_ngram;
    y.heads_per_ngram = heads_per_ngram;
    y.heads = (max_ngram - 1) * heads_per_ngram;
    y.head_dim = head_dim;
    y.block = block;
    y.lut.resize(y.lut_size);
    for (auto& x : y.lut) x = static_cast<int64_t>(rng() % 40);
    y.pad = y.lut[3];
    for (int k = 0; k < max_ngram; ++k) y.mult.push_back(static_cast<int64_t>(rng() | 1));
    for (int h = 0; h < y.heads; ++h) {
        y.moduli.push_back(5 + 3 * h);
        y.offsets.push_back(y.table_rows);
        y.table_rows += y.moduli.back();
    }
    y.codes.resize(y.table_rows * head_dim);
    for (auto& q : y.codes) q = static_cast<uint8_t>(rng());  // every code, NaNs included
    y.scales.resize(y.table_rows * (head_dim / block));
    for (auto& b : y.scales) {
        const int r = static_cast<int>(rng() % 16);
        b = r == 0 ? 0 : r == 1 ? 255 : r == 2 ? 254 : static_cast<uint8_t>(100 + rng() % 50);
    }
    return y;
}

// The layer's table and scales on the device; the table `table_offset` bytes into its allocation.
struct DeviceLayer {
    Dev table, scales, lut;
    int table_offset;
    DeviceLayer(const Layer& y, int table_offset_)
        : table(y.codes.size() + table_offset_), scales(y.scales.size()), lut(y.lut.size() * 8),
          table_offset(table_offset_) {
        upload(table, y.codes, table_offset);
        upload(scales, y.scales);
        upload(lut, y.lut);
    }
    const uint8_t* codes() const { return table.as<uint8_t>(table_offset); }
};

std::string dtype_name(int dtype) { return dtype == ENGRAM_DTYPE_FLOAT32 ? "f32" : "bf16"; }

// ---------------------------------------------------------------- 1. every code x the scale bytes

void every_code() {
    // One row per scale byte, holding the 256 codes in order; head h's modulus is 1 and its offset h, so one
    // token gathers every row.
    const uint8_t kScales[] = {0, 1, 126, 127, 128, 254, 255};
    const int heads = 7, head_dim = 256;
    Layer y;
    y.max_ngram = 2, y.heads_per_ngram = heads, y.heads = heads, y.head_dim = head_dim;
    y.mult = {3, 5};
    for (int h = 0; h < heads; ++h) y.moduli.push_back(1), y.offsets.push_back(h);
    y.table_rows = heads;
    for (int r = 0; r < heads; ++r) {
        for (int q = 0; q < 256; ++q) y.codes.push_back(static_cast<uint8_t>(q));
    }
    struct Path {
        const char* name;
        int block, table_offset, out_offset_elems;
    };
    const Path paths[] = {{"16-code units, block 256", 256, 0, 0},
                          {"16-code units, block 16", 16, 0, 0},
                          {"code by code: block 8", 8, 0, 0},
                          {"code by code: table 1 byte off alignment", 256, 1, 0},
                          {"code by code: out 1 element off alignment", 32, 0, 1}};
    const int64_t raw = 0;
    Dev d_raw(8), d_hash(heads * 8);
    d_raw.put(&raw, 8);
    for (const Path& path : paths) {
        y.block = path.block;
        y.scales.clear();
        for (int r = 0; r < heads; ++r) y.scales.insert(y.scales.end(), head_dim / path.block, kScales[r]);
        DeviceLayer d(y, path.table_offset);
        for (int dtype : {ENGRAM_DTYPE_FLOAT32, ENGRAM_DTYPE_BFLOAT16}) {
            const int elem = dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
            const size_t bytes = static_cast<size_t>(heads) * head_dim * elem, off = path.out_offset_elems * elem;
            Dev out(bytes + off);
            out.poison();
            const engram_status_t st = engram_hashed_gather_fp8(
                d_raw.as<int64_t>(), 1, 1, nullptr, 0, y.pad, y.mult.data(), 2, y.moduli.data(), y.offsets.data(),
                heads, d.codes(), d.scales.as<uint8_t>(), y.table_rows, head_dim, path.block, dtype,
                out.as<void>(off), d_hash.as<int64_t>(), nullptr);
            if (st != ENGRAM_STATUS_SUCCESS) {
                fail(std::string("every code, ") + path.name + ": status " + std::to_string(st) + ": " +
                     engram_last_error());
                continue;
            }
            CHECK_CUDA(cudaDeviceSynchronize());
            const std::vector<uint8_t> got = out.get();
            int bad = 0;
            for (int h = 0; h < heads; ++h) {
                for (int q = 0; q < 256; ++q) {
                    uint32_t g = 0, want;
                    std::memcpy(&g, got.data() + off + (h * head_dim + q) * elem, elem);
                    want = elem == 4 ? ref_f32(static_cast<uint8_t>(q), kScales[h])
                                     : ref_bf16(static_cast<uint8_t>(q), kScales[h]);
                    if (g != want && bad++ < 3) {
                        char buf[200];
                        std::snprintf(buf, sizeof buf, "every code, %s, %s: code 0x%02x scale %u: got 0x%08x, want 0x%08x",
                                      path.name, dtype_name(dtype).c_str(), q, kScales[h], g, want);
                        fail(buf);
                    }
                }
            }
            std::printf("%s  every code x scales {0,1,126,127,128,254,255}, %s, %s\n", bad ? "(fail)" : "ok    ",
                        dtype_name(dtype).c_str(), path.name);
        }
    }
}

// ---------------------------------------------------------------- 2. random tables, rectangular

struct Shape {
    int head_dim, block;
};

void random_rectangular(int config, const Shape& s, int dtype, bool with_lut, bool misaligned_out, uint32_t seed) {
    std::mt19937_64 rng(seed);
    const int max_ngram = 2 + config % 3, heads_per_ngram = 1 + config % 2;
    const Layer y = make_layer(max_ngram, heads_per_ngram, s.head_dim, s.block, rng);
    const int64_t batch = 1 + static_cast<int64_t>(rng() % 3), seq_len = 1 + static_cast<int64_t>(rng() % 40);
    std::vector<int64_t> raw(batch * seq_len);
    for (auto& r : raw) {
        r = static_cast<int64_t>(rng() % (with_lut ? y.lut_size : 40));
        if (rng() % 12 == 0) r = -1 - static_cast<int64_t>(rng() % 4);  // negative ids pass the lut
        if (with_lut && rng() % 25 == 0) r = y.lut_size + static_cast<int64_t>(rng() % 9);  // outside: NaN rows
    }
    const int elem = dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
    const size_t row_bytes = static_cast<size_t>(y.heads) * s.head_dim * elem, off = misaligned_out ? elem : 0;
    const int table_offset = config % 5 == 4 ? 1 : 0;
    DeviceLayer d(y, table_offset);
    Dev d_raw(raw.size() * 8), out(batch * seq_len * row_bytes + off), d_hash(batch * seq_len * y.heads * 8);
    upload(d_raw, raw);
    out.poison(), d_hash.poison();
    const engram_status_t st = engram_hashed_gather_fp8(
        d_raw.as<int64_t>(), batch, seq_len, with_lut ? d.lut.as<int64_t>() : nullptr, y.lut_size, y.pad,
        y.mult.data(), max_ngram, y.moduli.data(), y.offsets.data(), heads_per_ngram, d.codes(),
        d.scales.as<uint8_t>(), y.table_rows, s.head_dim, s.block, dtype, out.as<void>(off), d_hash.as<int64_t>(),
        nullptr);
    char what[200];
    std::snprintf(what, sizeof what, "rectangular %s head_dim=%d block=%d ngram=%d heads=%d lut=%d B=%lld T=%lld%s%s",
                  dtype_name(dtype).c_str(), s.head_dim, s.block, max_ngram, y.heads, with_lut,
                  static_cast<long long>(batch), static_cast<long long>(seq_len), misaligned_out ? " out+1" : "",
                  table_offset ? " table+1B" : "");
    if (st != ENGRAM_STATUS_SUCCESS) {
        fail(std::string(what) + ": status " + std::to_string(st) + ": " + engram_last_error());
        return;
    }
    CHECK_CUDA(cudaDeviceSynchronize());
    const std::vector<uint8_t> got = out.get(), got_hash = d_hash.get();
    const int before = failures;
    int nan_rows = 0;
    for (int64_t b = 0; b < batch; ++b) {
        std::vector<int64_t> seq(raw.begin() + b * seq_len, raw.begin() + (b + 1) * seq_len), hash;
        std::vector<uint8_t> rows;
        reference_sequence(y, with_lut, seq, dtype, hash, rows);
        for (int64_t id : hash) nan_rows += id < 0;
        if (std::memcmp(got_hash.data() + b * seq_len * y.heads * 8, hash.data(), hash.size() * 8) != 0) {
            fail(std::string(what) + ": hash ids differ from the host hash (sequence " + std::to_string(b) + ")");
        }
        if (std::memcmp(got.data() + off + b * seq_len * row_bytes, rows.data(), rows.size()) != 0) {
            fail(std::string(what) + ": rows differ from the reference dequantization (sequence " + std::to_string(b) + ")");
        }
    }
    std::printf("%s  %s (%d NaN rows)\n", failures > before ? "(fail)" : "ok    ", what, nan_rows);
}

// ---------------------------------------------------------------- 3. packed, chunked, history carried

void random_packed(int config, const Shape& s, int dtype, uint32_t seed) {
    std::mt19937_64 rng(seed);
    const int max_ngram = 2 + config % 3, heads_per_ngram = 1 + config % 2, M = max_ngram - 1;
    const bool with_lut = config % 4 != 1;
    const Layer y = make_layer(max_ngram, heads_per_ngram, s.head_dim, s.block, rng);
    DeviceLayer d(y, 0);
    const int elem = dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
    const size_t row_bytes = static_cast<size_t>(y.heads) * s.head_dim * elem;
    // Sequences (one empty), their whole-sequence reference, distinct shuffled slots, garbage history.
    const int S = 3 + static_cast<int>(rng() % 2), num_slots = S + 1;
    std::vector<std::vector<int64_t>> seqs(S), hashes(S);
    std::vector<std::vector<uint8_t>> rows(S);
    for (int q = 0; q < S; ++q) {
        seqs[q].resize(q == 0 ? 0 : 1 + rng() % 25);
        for (auto& r : seqs[q]) r = static_cast<int64_t>(rng() % (with_lut ? y.lut_size : 40));
        reference_sequence(y, with_lut, seqs[q], dtype, hashes[q], rows[q]);
    }
    std::vector<int32_t> slot_of(num_slots);
    for (int i = 0; i < num_slots; ++i) slot_of[i] = i;
    std::shuffle(slot_of.begin(), slot_of.end(), rng);
    std::vector<int64_t> garbage(num_slots * M);
    for (auto& g : garbage) g = static_cast<int64_t>(rng());
    Dev d_hist(garbage.size() * 8);
    upload(d_hist, garbage);
    const int64_t* lut = with_lut ? d.lut.as<int64_t>() : nullptr;

    std::vector<size_t> pos(S, 0);
    std::vector<bool> started(S, false);
    int steps = 0;
    const int before = failures;
    char what[160];
    std::snprintf(what, sizeof what, "packed %s head_dim=%d block=%d ngram=%d heads=%d lut=%d seqs=%d",
                  dtype_name(dtype).c_str(), s.head_dim, s.block, max_ngram, y.heads, with_lut, S);
    for (;;) {
        struct Part {
            int seq;
            size_t pos, len;
        };
        std::vector<Part> parts;
        for (int q = 0; q < S; ++q) {
            if (started[q] && pos[q] == seqs[q].size()) continue;
            if (rng() % 4 == 0) continue;  // not in this call
            const size_t left = seqs[q].size() - pos[q];
            const size_t len = std::min<size_t>(left, rng() % 3 == 0 ? 1 : rng() % 9);  // 0, decode, longer
            parts.push_back({q, pos[q], len});
        }
        bool open = false;
        for (int q = 0; q < S; ++q) open |= !started[q] || pos[q] < seqs[q].size();
        if (!open) break;
        if (parts.empty()) continue;
        std::shuffle(parts.begin(), parts.end(), rng);
        std::vector<int32_t> cu{0}, slots;
        std::vector<uint8_t> starts;
        std::vector<int64_t> raw;
        bool all_start = true;
        for (const Part& p : parts) {
            cu.push_back(cu.back() + static_cast<int32_t>(p.len));
            slots.push_back(slot_of[p.seq]);
            starts.push_back(started[p.seq] ? 0 : 1);
            all_start &= !started[p.seq];
            raw.insert(raw.end(), seqs[p.seq].begin() + p.pos, seqs[p.seq].begin() + p.pos + p.len);
        }
        const int64_t N = cu.back();
        const int n = static_cast<int>(parts.size());
        Dev d_cu(cu.size() * 4), d_slots(n * 4), d_starts(n), d_raw(N * 8), out(N * row_bytes), d_hash(N * y.heads * 8);
        upload(d_cu, cu), upload(d_slots, slots), upload(d_starts, starts), upload(d_raw, raw);
        out.poison(), d_hash.poison();
        // Without a continuing sequence the history may be left out (engram.h).
        const int64_t* hist = all_start && rng() % 2 ? nullptr : d_hist.as<int64_t>();
        engram_status_t st = engram_hashed_gather_fp8_packed(
            d_raw.as<int64_t>(), N, d_cu.as<int32_t>(), d_slots.as<int32_t>(), d_starts.as<uint8_t>(), n, hist,
            num_slots, lut, y.lut_size, y.pad, y.mult.data(), max_ngram, y.moduli.data(), y.offsets.data(),
            heads_per_ngram, d.codes(), d.scales.as<uint8_t>(), y.table_rows, s.head_dim, s.block, dtype, out.p,
            d_hash.as<int64_t>(), nullptr);
        if (st == ENGRAM_STATUS_SUCCESS) {
            st = engram_state_commit(d_raw.as<int64_t>(), N, d_cu.as<int32_t>(), d_slots.as<int32_t>(),
                                     d_starts.as<uint8_t>(), n, num_slots, lut, y.lut_size, y.pad, max_ngram,
                                     d_hist.as<int64_t>(), nullptr, 1, 1, 1, 1, dtype, nullptr, nullptr);
        }
        if (st != ENGRAM_STATUS_SUCCESS) {
            fail(std::string(what) + " step " + std::to_string(steps) + ": status " + std::to_string(st) + ": " +
                 engram_last_error());
            return;
        }
        CHECK_CUDA(cudaDeviceSynchronize());
        const std::vector<uint8_t> got = out.get(), got_hash = d_hash.get();
        for (int i = 0; i < n; ++i) {
            const Part& p = parts[i];
            const size_t hb = static_cast<size_t>(y.heads) * 8;
            started[p.seq] = true;
            if (p.len == 0) continue;
            if (std::memcmp(got_hash.data() + cu[i] * hb, hashes[p.seq].data() + p.pos * y.heads, p.len * hb) != 0) {
                fail(std::string(what) + " step " + std::to_string(steps) + ": hash ids differ from the whole sequence's");
            }
            if (std::memcmp(got.data() + cu[i] * row_bytes, rows[p.seq].data() + p.pos * row_bytes, p.len * row_bytes)) {
                fail(std::string(what) + " step " + std::to_string(steps) + ": rows differ from the whole sequence's");
            }
            pos[p.seq] += p.len;
        }
        ++steps;
    }
    std::printf("%s  %s: %d packed steps\n", failures > before ? "(fail)" : "ok    ", what, steps);
}

// ---------------------------------------------------------------- 4. edge cases and bad arguments

void expect_invalid(engram_status_t got, const char* prefix, const std::string& what) {
    if (got != ENGRAM_STATUS_INVALID_ARGUMENT) {
        fail(what + ": status " + std::to_string(got) + ", want INVALID_ARGUMENT (" + engram_last_error() + ")");
    } else if (std::strncmp(engram_last_error(), prefix, std::strlen(prefix)) != 0) {
        fail(what + ": the error text does not name " + prefix + ": " + engram_last_error());
    }
}

void edge_cases() {
    const int before = failures;
    std::mt19937_64 rng(7);
    const int head_dim = 32, block = 16, heads = 2, f32 = ENGRAM_DTYPE_FLOAT32;
    const Layer y = make_layer(2, 2, head_dim, block, rng);
    DeviceLayer d(y, 0);
    const int64_t N = 4;
    Dev d_raw(N * 8), out(N * heads * head_dim * 4 + 4), d_hash(N * heads * 8), d_cu(12), d_slots(8), d_starts(2),
        d_hist(3 * 8);
    upload(d_raw, std::vector<int64_t>{1, 2, 3, 4});
    upload(d_cu, std::vector<int32_t>{0, 1, 4}), upload(d_slots, std::vector<int32_t>{0, 1});
    upload(d_starts, std::vector<uint8_t>{1, 0});
    auto rect = [&](int64_t batch, const uint8_t* table, const uint8_t* scales, int hd, int blk, int out_dtype,
                    void* o, int64_t rows) {
        return engram_hashed_gather_fp8(d_raw.as<int64_t>(), batch, 2, d.lut.as<int64_t>(), y.lut_size, y.pad,
                                        y.mult.data(), 2, y.moduli.data(), y.offsets.data(), 2, table, scales, rows,
                                        hd, blk, out_dtype, o, d_hash.as<int64_t>(), nullptr);
    };
    auto packed = [&](int64_t tokens, const int32_t* cu, const int64_t* hist, const uint8_t* scales, int blk,
                      int out_dtype) {
        return engram_hashed_gather_fp8_packed(d_raw.as<int64_t>(), tokens, cu, d_slots.as<int32_t>(),
                                               d_starts.as<uint8_t>(), 2, hist, 3, d.lut.as<int64_t>(), y.lut_size,
                                               y.pad, y.mult.data(), 2, y.moduli.data(), y.offsets.data(), 2, d.codes(),
                                               scales, y.table_rows, head_dim, blk, out_dtype, out.p,
                                               d_hash.as<int64_t>(), nullptr);
    };
    const uint8_t* codes = d.codes();
    const uint8_t* sc = d.scales.as<uint8_t>();
    const int64_t rows = y.table_rows;

    // Nothing to do: success without a launch, so an error left pending stays pending.
    int a = 0, b = 0;
    (void)cudaMemcpy(&a, &b, 4, static_cast<cudaMemcpyKind>(77));
    const engram_status_t empty_rect = rect(0, codes, sc, head_dim, block, f32, out.p, rows);
    const engram_status_t empty_packed = packed(0, d_cu.as<int32_t>(), d_hist.as<int64_t>(), sc, block, f32);
    if (cudaGetLastError() == cudaSuccess) fail("a call with no tokens launched (it consumed a pending CUDA error)");
    if (empty_rect != ENGRAM_STATUS_SUCCESS || empty_packed != ENGRAM_STATUS_SUCCESS) fail("calls with no tokens failed");

    out.poison(), d_hash.poison();
    const char* r = "engram_hashed_gather_fp8: ";
    const char* p = "engram_hashed_gather_fp8_packed: ";
    expect_invalid(rect(2, codes, nullptr, head_dim, block, f32, out.p, rows), r, "null d_scales");
    expect_invalid(rect(2, nullptr, sc, head_dim, block, f32, out.p, rows), r, "null d_table");
    expect_invalid(rect(2, codes, sc, head_dim, 0, f32, out.p, rows), r, "scale_block 0");
    expect_invalid(rect(2, codes, sc, head_dim, -16, f32, out.p, rows), r, "scale_block -16");
    expect_invalid(rect(2, codes, sc, head_dim, 12, f32, out.p, rows), r, "scale_block 12 not dividing 32");
    expect_invalid(rect(2, codes, sc, head_dim, 64, f32, out.p, rows), r, "scale_block 64 > head_dim 32");
    expect_invalid(rect(2, codes, sc, head_dim, block, ENGRAM_DTYPE_FP8_E4M3, out.p, rows), r, "out_dtype fp8");
    expect_invalid(rect(2, codes, sc, head_dim, block, 7, out.p, rows), r, "out_dtype 7");
    expect_invalid(rect(2, codes, sc, head_dim, block, f32, out.as<void>(2), rows), r, "out misaligned for f32");
    expect_invalid(rect(2, codes, sc, 0, block, f32, out.p, rows), r, "head_dim 0");
    expect_invalid(rect(2, codes, sc, head_dim, block, f32, out.p, rows - 1), r, "a head leaving the table");
    expect_invalid(rect(-1, codes, sc, head_dim, block, f32, out.p, rows), r, "batch -1");
    expect_invalid(packed(-1, d_cu.as<int32_t>(), d_hist.as<int64_t>(), sc, block, f32), p, "packed tokens -1");
    expect_invalid(packed(N, nullptr, d_hist.as<int64_t>(), sc, block, f32), p, "packed null cu_seqlens");
    expect_invalid(packed(N, d_cu.as<int32_t>(), d_hist.as<int64_t>(4), sc, block, f32), p, "packed misaligned history");
    expect_invalid(packed(N, d_cu.as<int32_t>(), d_hist.as<int64_t>(), nullptr, block, f32), p, "packed null d_scales");
    expect_invalid(packed(N, d_cu.as<int32_t>(), d_hist.as<int64_t>(), sc, 5, f32), p, "packed scale_block 5");
    expect_invalid(packed(N, d_cu.as<int32_t>(), d_hist.as<int64_t>(), sc, block, 3), p, "packed out_dtype 3");
    // The float tables' gather refuses the fp8 table dtype, naming the entry point that takes it.
    expect_invalid(engram_hashed_gather(d_raw.as<int64_t>(), 2, 2, nullptr, 0, 0, y.mult.data(), 2, y.moduli.data(),
                                        y.offsets.data(), 2, codes, rows, head_dim, ENGRAM_DTYPE_FP8_E4M3, out.p,
                                        nullptr, nullptr),
                   "engram_hashed_gather: dtype 2 (ENGRAM_DTYPE_FP8_E4M3) is for fp8 tables", "float gather, dtype fp8");
    CHECK_CUDA(cudaDeviceSynchronize());
    for (const Dev* dv : {&out, &d_hash}) {
        for (uint8_t v : dv->get()) {
            if (v != 0xee) {
                fail("a rejected call wrote an output");
                break;
            }
        }
    }
    std::printf("%s  edge cases: no tokens launch nothing; bad arguments rejected, nothing written\n",
                failures > before ? "(fail)" : "ok    ");
}

}  // namespace

int main() {
    reference_sanity();
    every_code();
    // head_dim / block: the 16-code path (head_dim and block multiples of 16) and the code-by-code one.
    const Shape shapes[] = {{16, 16}, {32, 32}, {48, 16}, {256, 128}, {64, 8}, {24, 8}, {5, 5}, {3, 1}, {256, 256}};
    uint32_t seed = 1;
    for (int i = 0; i < 12; ++i) {
        const int dtype = i % 2 ? ENGRAM_DTYPE_BFLOAT16 : ENGRAM_DTYPE_FLOAT32;
        random_rectangular(i, shapes[i % 9], dtype, i % 4 != 3, i % 6 == 5, seed++);
    }
    for (int i = 0; i < 6; ++i) {
        random_packed(i, shapes[(2 * i + 1) % 9], i % 2 ? ENGRAM_DTYPE_FLOAT32 : ENGRAM_DTYPE_BFLOAT16, seed++);
    }
    edge_cases();
    std::printf("%s\n", failures ? "FAILED" : "ALL OK");
    return failures ? 1 : 0;
}
