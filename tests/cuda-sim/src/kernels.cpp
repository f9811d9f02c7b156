// CPU bodies of the simulated libengram kernels (kernels.h says what they are and are not).
// Per output they replay the CUDA kernels' fp32 arithmetic in the kernels' order:
//   gate (kernels/gate.cu): thread t of 128 sums units t, t+128, .. (VEC elements each) with fmaf, each
//     warp's 32 partials are added by the xor butterfly, the 4 warp sums in order; gate_from_sums;
//     value = round_dtype(gate * (v + b)).
//   short conv (kernels/short_conv.cu): a row's sum of squares in 32 lane partials over units, butterfly,
//     inverse RMS; per channel acc = fmaf(w[c,k] * inv[row], x, acc) over taps k in order; out =
//     x + SiLU(norm_w * acc), rounded to the dtype.
//   fused (kernels/gate_short_conv.cu): the gate as above, u = round_dtype(gate * (v + b)) recomputed
//     wherever it is read, then the conv on u.
//   gather (kernels/hashed_gather.cu): kernels/ngram_hash.cuh's hash, rows copied, NaN rows and hash
//     id -1 for ids outside the compression table.
//   fp8 gather (kernels/hashed_gather_fp8.cu): the gather's hash ids and NaN rows; a row's values are
//     e4m3(q) * 2^(b - 127) from the code's fields (std::ldexp in float32: exact), NaN codes and scales the
//     canonical 0x7fc00000 / 0x7fc0, bf16 rounded to nearest even.
//   fp8 dequantize (kernels/fp8_dequantize.cu): each value as the fp8 gather dequantizes a table value.
//   packed (engram.h, "Packed batches"): the same per output, a token's sequence found by binary search
//     over cu_seqlens; the gather's shifts before the chunk start read the slot's history, the conv's rows
//     t < 0 the slot's window of pre-norm u rows (their inverse RMS computed like a chunk row's); the
//     commit builds each slot's new state before writing it.
// The tiles and shared-memory slots of the kernels do not change any output's arithmetic, so each
// output is computed directly; work is split over sim_parallel_for by independent outputs.
#include "kernels.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ngram_hash.cuh"
#include "sim.h"

namespace sim {
namespace {

constexpr int kGateThreads = 128;  // engram::kGateThreads
constexpr int kLanes = 32;

struct F32 {
    using type = float;
    static float load(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
    static void store(void* p, int64_t i, float v) { static_cast<float*>(p)[i] = v; }
    static float round(float v) { return v; }
};

struct Bf16 {
    static float widen(uint16_t b) {
        uint32_t u = static_cast<uint32_t>(b) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
    static uint16_t narrow(float f) {  // __float2bfloat16_rn: round to nearest even, NaN stays NaN
        uint32_t u;
        std::memcpy(&u, &f, 4);
        if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu)) return static_cast<uint16_t>((u >> 16) | 0x40);
        u += 0x7FFFu + ((u >> 16) & 1u);
        return static_cast<uint16_t>(u >> 16);
    }
    static float load(const void* p, int64_t i) { return widen(static_cast<const uint16_t*>(p)[i]); }
    static void store(void* p, int64_t i, float v) { static_cast<uint16_t*>(p)[i] = narrow(v); }
    static float round(float v) { return widen(narrow(v)); }
};

// __shfl_xor_sync butterfly over one warp's 32 values (x[l] += x[l ^ o] for o = 16 .. 1); lane 0's sum.
float warp_sum(float* x) {
    for (int o = 16; o > 0; o >>= 1) {
        float y[kLanes];
        for (int l = 0; l < kLanes; ++l) y[l] = x[l] + x[l ^ o];
        std::memcpy(x, y, sizeof y);
    }
    return x[0];
}

// engram::gate_from_sums
float gate_from_sums(float skk, float sqq, float skq, float inv_h, float sqrt_h, float eps) {
    const float rk = 1.0f / std::sqrt(skk * inv_h + eps);
    const float rq = 1.0f / std::sqrt(sqq * inv_h + eps);
    const float dot = skq * rk * rq / sqrt_h;
    const float sign = static_cast<float>((dot > 0.f) - (dot < 0.f));
    const float s = sign * std::sqrt(std::fmax(std::fabs(dot), 1e-6f));
    return 1.0f / (1.0f + std::exp(-s));
}

// The gate of one (token, branch): pk = its key projection, hq = its hidden row, bk/wk/wq = branch g's
// key bias and norm weights; H = units * vec elements.
template <class T>
float gate_of(const void* pk, const void* bk, const void* hq, const void* wk, const void* wq, int units, int vec,
              float inv_h, float sqrt_h, float eps) {
    float pkk[kGateThreads], pqq[kGateThreads], pkq[kGateThreads];
    for (int t = 0; t < kGateThreads; ++t) {
        float skk = 0.f, sqq = 0.f, skq = 0.f;
        for (int u = t; u < units; u += kGateThreads) {
            for (int i = u * vec; i < (u + 1) * vec; ++i) {
                const float kk = T::load(pk, i) + T::load(bk, i);
                const float q = T::load(hq, i);
                skk = std::fma(kk, kk, skk);
                sqq = std::fma(q, q, sqq);
                skq = std::fma(kk * T::load(wk, i), q * T::load(wq, i), skq);
            }
        }
        pkk[t] = skk;
        pqq[t] = sqq;
        pkq[t] = skq;
    }
    float skk = 0.f, sqq = 0.f, skq = 0.f;
    for (int w = 0; w < kGateThreads / kLanes; ++w) {
        skk += warp_sum(pkk + w * kLanes);
        sqq += warp_sum(pqq + w * kLanes);
        skq += warp_sum(pkq + w * kLanes);
    }
    return gate_from_sums(skk, sqq, skq, inv_h, sqrt_h, eps);
}

// Inverse RMS of one row of H = units * vec values x(i), as a warp of 32 lanes sums it.
template <class Load>
float row_inv_rms(Load x, int units, int vec, float inv_h, float eps) {
    float part[kLanes];
    for (int l = 0; l < kLanes; ++l) {
        float ss = 0.f;
        for (int u = l; u < units; u += kLanes)
            for (int i = u * vec; i < (u + 1) * vec; ++i) {
                const float v = x(i);
                ss = std::fma(v, v, ss);
            }
        part[l] = ss;
    }
    return 1.0f / std::sqrt(warp_sum(part) * inv_h + eps);
}

// One output row (b, t, g) of the conv: x(row, i) is the conv input of time step row of this sequence
// and branch, inv(row) its inverse RMS; rows before `first` are the zero padding (first = 0, or -W for a
// packed sequence that continues the window its slot holds); c0 = g * H.
template <class T, class Load, class Inv>
void conv_row(Load x, Inv inv, const void* norm_w, const void* conv_w, int64_t c0, int H, int K, int64_t dil,
              int64_t t, void* out, int64_t out_off, int64_t first) {
    for (int i = 0; i < H; ++i) {
        const int64_t c = c0 + i;
        float acc = 0.f;
        for (int k = 0; k < K; ++k) {
            const int64_t row = t - (K - 1 - k) * dil;
            if (row < first) continue;
            acc = std::fma(T::load(conv_w, c * K + k) * inv(row), x(row, i), acc);
        }
        const float y = T::load(norm_w, c) * acc;
        const float xt = x(t, i);
        T::store(out, out_off + i, xt + y / (1.0f + std::exp(-y)));
    }
}

// ---------------------------------------------------------------- gate

template <class T>
void gate_items(void* ctx, int64_t begin, int64_t end) {
    const GateArgs& a = *static_cast<const GateArgs*>(ctx);
    const int G = a.p.hc_mult, H = a.p.hidden, es = a.p.elem_bytes;
    const float inv_h = 1.0f / static_cast<float>(H), sqrt_h = std::sqrt(static_cast<float>(H));
    const char* proj = static_cast<const char*>(a.proj);
    for (int64_t item = begin; item < end; ++item) {
        const int64_t tok = item / G;
        const int g = static_cast<int>(item - tok * G);
        const char* pk = proj + (tok * (G + 1) + g) * static_cast<int64_t>(H) * es;
        const char* pv = proj + (tok * (G + 1) + G) * static_cast<int64_t>(H) * es;
        const int64_t goff = static_cast<int64_t>(g) * H * es;
        const float gate = gate_of<T>(pk, static_cast<const char*>(a.key_bias) + goff,
                                      static_cast<const char*>(a.hidden) + item * H * es,
                                      static_cast<const char*>(a.key_w) + goff, static_cast<const char*>(a.query_w) + goff,
                                      H / a.vec, a.vec, inv_h, sqrt_h, a.p.eps);
        if (a.gate_out) a.gate_out[item] = gate;
        for (int i = 0; i < H; ++i) T::store(a.value_out, item * H + i, gate * (T::load(pv, i) + T::load(a.value_bias, i)));
    }
}

// ---------------------------------------------------------------- short conv

struct ConvJob {
    const ConvArgs* a;
    std::vector<float> inv;  // [B, T, G]
};

template <class T>
void conv_inv(void* ctx, int64_t begin, int64_t end) {
    ConvJob& j = *static_cast<ConvJob*>(ctx);
    const ConvArgs& a = *j.a;
    const int H = a.p.hidden;
    for (int64_t r = begin; r < end; ++r) {  // r = (b * T + t) * G + g: rows are contiguous in value
        const int64_t base = r * H;
        j.inv[r] = row_inv_rms([&](int i) { return T::load(a.value, base + i); }, H / a.vec, a.vec,
                               1.0f / static_cast<float>(H), a.p.eps);
    }
}

template <class T>
void conv_rows(void* ctx, int64_t begin, int64_t end) {
    ConvJob& j = *static_cast<ConvJob*>(ctx);
    const ConvArgs& a = *j.a;
    const int G = a.p.hc_mult, H = a.p.hidden, K = a.p.kernel_size;
    const int64_t T_len = a.p.seq_len;
    std::vector<float> inv(T_len);
    for (int64_t bg = begin; bg < end; ++bg) {  // one (b, g): its whole sequence
        const int64_t b = bg / G;
        const int g = static_cast<int>(bg % G);
        for (int64_t t = 0; t < T_len; ++t) inv[t] = j.inv[(b * T_len + t) * G + g];
        auto x = [&](int64_t row, int i) { return T::load(a.value, ((b * T_len + row) * G + g) * H + i); };
        auto inv_of = [&](int64_t row) { return inv[row]; };
        for (int64_t t = 0; t < T_len; ++t)
            conv_row<T>(x, inv_of, a.norm_w, a.conv_w, static_cast<int64_t>(g) * H, H, K, a.p.dilation, t, a.out,
                        ((b * T_len + t) * G + g) * H, 0);
    }
}

// ---------------------------------------------------------------- fused gate + short conv

struct GateConvJob {
    const GateConvArgs* a;
    std::vector<float> gate, inv;  // [B * T * G]: per row (token, branch)
};

template <class T>
void fused_rows_prepare(void* ctx, int64_t begin, int64_t end) {
    GateConvJob& j = *static_cast<GateConvJob*>(ctx);
    const GateConvArgs& a = *j.a;
    const int G = a.p.gate.hc_mult, H = a.p.gate.hidden, es = a.p.gate.elem_bytes;
    const float inv_h = 1.0f / static_cast<float>(H), sqrt_h = std::sqrt(static_cast<float>(H));
    const char* proj = static_cast<const char*>(a.proj);
    for (int64_t item = begin; item < end; ++item) {  // item = token * G + g
        const int64_t tok = item / G;
        const int g = static_cast<int>(item - tok * G);
        const int64_t goff = static_cast<int64_t>(g) * H * es;
        const float gate = gate_of<T>(proj + (tok * (G + 1) + g) * static_cast<int64_t>(H) * es,
                                      static_cast<const char*>(a.key_bias) + goff,
                                      static_cast<const char*>(a.hidden) + item * H * es,
                                      static_cast<const char*>(a.key_w) + goff, static_cast<const char*>(a.query_w) + goff,
                                      H / a.vec, a.vec, inv_h, sqrt_h, a.p.gate.eps);
        const char* pv = proj + (tok * (G + 1) + G) * static_cast<int64_t>(H) * es;
        j.gate[item] = gate;
        j.inv[item] = row_inv_rms([&](int i) { return T::round(gate * (T::load(pv, i) + T::load(a.value_bias, i))); },
                                  H / a.vec, a.vec, inv_h, a.p.conv.eps);
    }
}

template <class T>
void fused_rows(void* ctx, int64_t begin, int64_t end) {
    GateConvJob& j = *static_cast<GateConvJob*>(ctx);
    const GateConvArgs& a = *j.a;
    const int G = a.p.conv.hc_mult, H = a.p.conv.hidden, K = a.p.conv.kernel_size, es = a.p.conv.elem_bytes;
    const int64_t T_len = a.p.conv.seq_len;
    const char* proj = static_cast<const char*>(a.proj);
    std::vector<float> inv(T_len), gates(T_len);
    for (int64_t bg = begin; bg < end; ++bg) {
        const int64_t b = bg / G;
        const int g = static_cast<int>(bg % G);
        for (int64_t t = 0; t < T_len; ++t) {
            inv[t] = j.inv[(b * T_len + t) * G + g];
            gates[t] = j.gate[(b * T_len + t) * G + g];
        }
        auto u = [&](int64_t row, int i) {
            const char* pv = proj + ((b * T_len + row) * (G + 1) + G) * static_cast<int64_t>(H) * es;
            return T::round(gates[row] * (T::load(pv, i) + T::load(a.value_bias, i)));
        };
        auto inv_of = [&](int64_t row) { return inv[row]; };
        for (int64_t t = 0; t < T_len; ++t)
            conv_row<T>(u, inv_of, a.conv_norm_w, a.conv_w, static_cast<int64_t>(g) * H, H, K, a.p.conv.dilation,
                        t, a.out, ((b * T_len + t) * G + g) * H, 0);
    }
}

// ---------------------------------------------------------------- hashed gather

void emit_token(const void* table, const Fp8Table* fp8, void* out, int64_t* hash_ids,
                const engram::HashedGatherParams& p, int64_t i, const int64_t* tok, const bool* bad);

// Tokens [begin, end) of a rectangular gather; fp8: the table's scales when it holds E4M3 codes, else NULL.
void gather_token_range(const GatherArgs& a, const Fp8Table* fp8, int64_t begin, int64_t end) {
    const engram::HashedGatherParams& p = a.p;
    for (int64_t i = begin; i < end; ++i) {
        const int64_t t = i % p.seq_len;
        int64_t tok[engram::kGatherMaxNgram];
        bool bad[engram::kGatherMaxNgram];
        for (int k = 0; k < p.max_ngram; ++k) {
            int64_t v = p.pad_id;
            bad[k] = false;
            if (t - k >= 0) {
                v = a.raw_ids[i - k];
                if (a.lut != nullptr && v >= 0) {
                    if (v < p.lut_size) {
                        v = a.lut[v];
                    } else {
                        bad[k] = true;  // id outside the table: NaN rows, hash id -1
                        v = 0;
                    }
                }
            }
            tok[k] = v;
        }
        emit_token(a.table, fp8, a.out, a.hash_ids, p, i, tok, bad);
    }
}

void gather_tokens(void* ctx, int64_t begin, int64_t end) {
    gather_token_range(*static_cast<const GatherArgs*>(ctx), nullptr, begin, end);
}

void gather_fp8_tokens(void* ctx, int64_t begin, int64_t end) {
    const Fp8GatherArgs& a = *static_cast<const Fp8GatherArgs*>(ctx);
    gather_token_range(a.g, &a.fp8, begin, end);
}

// The value of every E4M3 code from its fields (exact in float32; NaN codes unused), built once.
struct E4m3Values {
    float v[256];
    E4m3Values() {
        for (int q = 0; q < 256; ++q) {
            const int e = (q >> 3) & 15, m = q & 7;
            const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(static_cast<float>(8 + m), e - 10);
            v[q] = (q & 0x80) ? -mag : mag;
        }
    }
};
const E4m3Values kE4m3;

// The E4M3 code q times 2^(b - 127) for the E8M0 byte b, as float32 bits (SEMANTICS.md 9): the code's value times
// the power of two, one float32 product, which is exact (4 significant bits, no result below 2^-136, float32's
// subnormals reach 2^-149; +-inf past FLT_MAX, as rounding the exact value gives). NaN codes (S.1111.111) and NaN
// scales (b = 255) give the canonical quiet NaN. (std::ldexp per value gave the same bits, 10x slower.)
uint32_t dequantized_bits(uint8_t q, uint8_t b) {
    if ((q & 0x7f) == 0x7f || b == 255) return 0x7fc00000u;
    const uint32_t scale_bits = b != 0 ? static_cast<uint32_t>(b) << 23 : 0x00400000u;  // 2^(b-127); b = 0: 2^-127
    float scale;
    std::memcpy(&scale, &scale_bits, 4);
    const float x = kE4m3.v[q] * scale;
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
}

// Table row `row` of an fp8 table dequantized into dst (p.head_dim values of the output dtype).
void dequantize_row(const uint8_t* codes, const Fp8Table& fp8, int64_t row, const engram::HashedGatherParams& p,
                    char* dst) {
    for (int c = 0; c < p.head_dim; ++c) {
        const uint32_t bits = dequantized_bits(codes[row * p.head_dim + c], fp8.scales[row * fp8.f.per_row + c / fp8.f.block]);
        if (p.elem_bytes == 4) {
            std::memcpy(dst + 4 * c, &bits, 4);
        } else {
            float x;
            std::memcpy(&x, &bits, 4);
            const uint16_t h = bits == 0x7fc00000u ? uint16_t{0x7fc0} : Bf16::narrow(x);
            std::memcpy(dst + 2 * c, &h, 2);
        }
    }
}

// Rows [begin, end) of engram_fp8_dequantize_rows, value by value as dequantize_row does a table row's.
void dequantize_rows(void* ctx, int64_t begin, int64_t end) {
    const Fp8DequantizeArgs& a = *static_cast<const Fp8DequantizeArgs*>(ctx);
    const int64_t d = a.p.head_dim;
    char* out = static_cast<char*>(a.out);
    for (int64_t i = begin * d; i < end * d; ++i) {
        const uint32_t bits = dequantized_bits(a.codes[i], a.scales[i / a.p.f.block]);  // block divides head_dim
        if (a.p.elem_bytes == 4) {
            std::memcpy(out + 4 * i, &bits, 4);
        } else {
            float x;
            std::memcpy(&x, &bits, 4);
            const uint16_t h = bits == 0x7fc00000u ? uint16_t{0x7fc0} : Bf16::narrow(x);
            std::memcpy(out + 2 * i, &h, 2);
        }
    }
}

// The hash ids and gathered rows of token i from its n-gram's compressed ids tok[k] (k = 0: the token
// itself) and whether each id was outside the compression table.
void emit_token(const void* table, const Fp8Table* fp8, void* out, int64_t* hash_ids,
                const engram::HashedGatherParams& p, int64_t i, const int64_t* tok, const bool* bad) {
    const int64_t row_bytes = static_cast<int64_t>(p.head_dim) * p.elem_bytes;
    for (int h = 0; h < p.heads; ++h) {
        const int n = h / p.heads_per_ngram + 2;
        int64_t mix = 0;
        bool is_bad = false;
        for (int k = 0; k < n; ++k) {
            mix ^= engram::wrapping_mul(tok[k], p.multipliers[k]);
            is_bad |= bad[k];
        }
        const int64_t hash = is_bad ? -1 : engram::floor_mod(mix, p.moduli[h]);
        if (hash_ids) hash_ids[i * p.heads + h] = hash;
        char* dst = static_cast<char*>(out) + (i * p.heads + h) * row_bytes;
        if (is_bad) {
            for (int c = 0; c < p.head_dim; ++c) {
                if (p.elem_bytes == 4) F32::store(dst, c, NAN);
                else static_cast<uint16_t*>(static_cast<void*>(dst))[c] = 0x7fc0;
            }
        } else if (fp8 != nullptr) {
            dequantize_row(static_cast<const uint8_t*>(table), *fp8, p.row_offsets[h] + hash, p, dst);
        } else {
            std::memcpy(dst, static_cast<const char*>(table) + (p.row_offsets[h] + hash) * row_bytes,
                        static_cast<size_t>(row_bytes));
        }
    }
}

// ---------------------------------------------------------------- packed batches (engram.h, "Packed batches")

// Where packed token i stands: its sequence (the last s in [0, num_seqs) with cu[s] <= i, by binary search;
// -1 when there is none), that sequence's first token, its position t in the chunk, its slot, and whether
// it continues the state its slot holds (not a start, slot in [0, num_slots)). Any descriptor values give
// 0 <= start <= i, so everything read through a Place stays inside the call's buffers.
struct Place {
    int32_t seq;
    int64_t start;
    int64_t t;
    int32_t slot;
    bool continues;
};

Place place_of(const PackedDescriptors& d, int32_t num_seqs, int32_t num_slots, int64_t i) {
    int32_t lo = 0, hi = num_seqs;
    while (lo < hi) {
        const int32_t mid = lo + (hi - lo) / 2;
        if (d.cu_seqlens[mid] <= i) lo = mid + 1;
        else hi = mid;
    }
    const int32_t s = lo - 1;
    if (s < 0) return {-1, 0, i, -1, false};
    const int64_t cu = d.cu_seqlens[s];
    const int64_t start = cu < 0 ? 0 : cu > i ? i : cu;
    const int32_t slot = d.seq_slots[s];
    return {s, start, i - start, slot, d.seq_starts[s] == 0 && slot >= 0 && slot < num_slots};
}

// Tokens [begin, end) of a packed gather; fp8 as in gather_token_range.
void gather_packed_token_range(const PackedGatherArgs& a, const Fp8Table* fp8, int64_t begin, int64_t end) {
    const engram::HashedGatherParams& p = a.p.gather;
    const int64_t M = p.max_ngram - 1;  // history entries per slot
    for (int64_t i = begin; i < end; ++i) {
        const Place pl = place_of(a.d, a.p.num_seqs, a.p.num_slots, i);
        const bool from_history = pl.continues;  // shifts past the chunk start read the slot's history
        int64_t tok[engram::kGatherMaxNgram];
        bool bad[engram::kGatherMaxNgram];
        for (int k = 0; k < p.max_ngram; ++k) {
            int64_t v = p.pad_id;
            bad[k] = false;
            if (pl.t - k >= 0) {
                v = a.raw_ids[i - k];
                if (a.lut != nullptr && v >= 0) {
                    if (v < p.lut_size) {
                        v = a.lut[v];
                    } else {
                        bad[k] = true;  // id outside the table: NaN rows, hash id -1
                        v = 0;
                    }
                }
            } else if (from_history) {
                v = a.history[pl.slot * M + (M + (pl.t - k))];  // already compressed
            }
            tok[k] = v;
        }
        emit_token(a.table, fp8, a.out, a.hash_ids, p, i, tok, bad);
    }
}

void gather_packed_tokens(void* ctx, int64_t begin, int64_t end) {
    gather_packed_token_range(*static_cast<const PackedGatherArgs*>(ctx), nullptr, begin, end);
}

void gather_packed_fp8_tokens(void* ctx, int64_t begin, int64_t end) {
    const PackedFp8GatherArgs& a = *static_cast<const PackedFp8GatherArgs*>(ctx);
    gather_packed_token_range(a.g, &a.fp8, begin, end);
}

struct PackedConvJob {
    const PackedConvArgs* a;
    std::vector<float> inv;        // [tokens * G]: the chunk's rows
    std::vector<float> state_inv;  // [num_seqs * W * G]: the window rows of continuing sequences
};

template <class T>
void packed_conv_inv(void* ctx, int64_t begin, int64_t end) {
    PackedConvJob& j = *static_cast<PackedConvJob*>(ctx);
    const PackedConvArgs& a = *j.a;
    const int H = a.p.conv.hidden;
    for (int64_t r = begin; r < end; ++r) {  // r = token * G + g
        const int64_t base = r * H;
        j.inv[r] = row_inv_rms([&](int i) { return T::load(a.value, base + i); }, H / a.vec, a.vec,
                               1.0f / static_cast<float>(H), a.p.conv.eps);
    }
}

// The inverse RMS of window row w of a continuing sequence, computed exactly like a row of the chunk.
template <class T>
void packed_state_inv(void* ctx, int64_t begin, int64_t end) {
    PackedConvJob& j = *static_cast<PackedConvJob*>(ctx);
    const PackedConvArgs& a = *j.a;
    const int G = a.p.conv.hc_mult, H = a.p.conv.hidden;
    const int64_t W = a.p.window;
    for (int64_t item = begin; item < end; ++item) {  // item = (s * W + w) * G + g
        const int64_t s = item / (W * G);
        const int32_t slot = a.d.seq_slots[s];
        if (a.d.seq_starts[s] != 0 || slot < 0 || slot >= a.p.num_slots) continue;  // never read
        const int64_t base = (static_cast<int64_t>(slot) * W * G + item % (W * G)) * H;
        j.state_inv[item] = row_inv_rms([&](int i) { return T::load(a.state, base + i); }, H / a.vec, a.vec,
                                        1.0f / static_cast<float>(H), a.p.conv.eps);
    }
}

template <class T>
void packed_conv_rows(void* ctx, int64_t begin, int64_t end) {
    PackedConvJob& j = *static_cast<PackedConvJob*>(ctx);
    const PackedConvArgs& a = *j.a;
    const int G = a.p.conv.hc_mult, H = a.p.conv.hidden, K = a.p.conv.kernel_size;
    const int64_t W = a.p.window;
    for (int64_t item = begin; item < end; ++item) {  // item = token * G + g: one output row
        const int64_t i = item / G;
        const int g = static_cast<int>(item % G);
        const Place pl = place_of(a.d, a.p.num_seqs, a.p.num_slots, i);
        const bool from_window = pl.continues;  // rows t < 0 are the slot's window rows W + t
        auto x = [&](int64_t row, int c) {
            return row >= 0 ? T::load(a.value, ((pl.start + row) * G + g) * H + c)
                            : T::load(a.state, ((static_cast<int64_t>(pl.slot) * W + W + row) * G + g) * H + c);
        };
        auto inv = [&](int64_t row) {
            return row >= 0 ? j.inv[(pl.start + row) * G + g] : j.state_inv[(pl.seq * W + W + row) * G + g];
        };
        conv_row<T>(x, inv, a.norm_w, a.conv_w, static_cast<int64_t>(g) * H, H, K, a.p.conv.dilation, pl.t, a.out,
                    item * H, from_window ? -W : 0);
    }
}

template <class T>
void run_packed_conv_typed(PackedConvArgs* a) {
    const int64_t G = a->p.conv.hc_mult, W = a->p.window;
    PackedConvJob j{a, std::vector<float>(static_cast<size_t>(a->p.conv.seq_len * G)),
                    std::vector<float>(static_cast<size_t>(a->p.num_seqs * W * G))};
    sim_parallel_for(static_cast<int64_t>(j.inv.size()), 64, packed_conv_inv<T>, &j);
    if (a->state != nullptr) sim_parallel_for(static_cast<int64_t>(j.state_inv.size()), 64, packed_state_inv<T>, &j);
    sim_parallel_for(a->p.conv.seq_len * G, 16, packed_conv_rows<T>, &j);
}

// engram_state_commit, one sequence after the other. Each slot's new history and window are first built
// in `next` (newest entry first), reading the old state where the chunk is shorter than the state, and
// only then written over the old state, as engram.h requires.
void commit_sequences(const StateCommitArgs& a) {
    const engram::StateCommitParams& p = a.p;
    const int64_t M = p.history, W = p.window;
    const int64_t row_bytes = static_cast<int64_t>(p.channels) * p.elem_bytes;
    std::vector<int64_t> hist(static_cast<size_t>(M));
    std::vector<char> win(static_cast<size_t>(W * row_bytes));
    for (int32_t s = 0; s < p.num_seqs; ++s) {
        const int32_t slot = a.d.seq_slots[s];
        if (slot < 0 || slot >= p.num_slots) continue;  // not committed
        const int64_t cu0 = a.d.cu_seqlens[s], cu1 = a.d.cu_seqlens[s + 1];
        const int64_t start = cu0 < 0 ? 0 : cu0 > p.tokens ? p.tokens : cu0;
        const int64_t len = (cu1 < start ? start : cu1 > p.tokens ? p.tokens : cu1) - start;
        const bool starts = a.d.seq_starts[s] != 0;
        if (M > 0) {
            int64_t* old = a.history + static_cast<int64_t>(slot) * M;
            int64_t* next = hist.data();
            for (int64_t e = M - 1; e >= 0; --e) {
                const int64_t q = len - M + e;  // position in the sequence's chunk
                int64_t v = p.pad_id;
                if (q >= 0) {
                    v = a.raw_ids[start + q];
                    if (a.lut != nullptr && v >= 0) v = v < p.lut_size ? a.lut[v] : p.pad_id;
                } else if (!starts) {
                    v = old[M + q];
                }
                next[e] = v;
            }
            std::memmove(old, next, static_cast<size_t>(M) * sizeof(int64_t));
        }
        if (W > 0) {
            char* old = static_cast<char*>(a.state) + static_cast<int64_t>(slot) * W * row_bytes;
            char* next = win.data();
            for (int64_t w = W - 1; w >= 0; --w) {
                const int64_t q = len - W + w;
                char* dst = next + w * row_bytes;
                if (q >= 0) std::memcpy(dst, static_cast<const char*>(a.value) + (start + q) * row_bytes, row_bytes);
                else if (!starts) std::memcpy(dst, old + (w + len) * row_bytes, row_bytes);
                else std::memset(dst, 0, static_cast<size_t>(row_bytes));
            }
            std::memmove(old, next, static_cast<size_t>(W * row_bytes));
        }
    }
}

template <class T>
void run_conv_typed(ConvArgs* a) {
    ConvJob j{a, std::vector<float>(static_cast<size_t>(a->p.batch * a->p.seq_len * a->p.hc_mult))};
    sim_parallel_for(static_cast<int64_t>(j.inv.size()), 64, conv_inv<T>, &j);
    sim_parallel_for(a->p.batch * a->p.hc_mult, 1, conv_rows<T>, &j);
}

template <class T>
void run_fused_typed(GateConvArgs* a) {
    const size_t rows = static_cast<size_t>(a->p.conv.batch * a->p.conv.seq_len * a->p.conv.hc_mult);
    GateConvJob j{a, std::vector<float>(rows), std::vector<float>(rows)};
    sim_parallel_for(static_cast<int64_t>(rows), 16, fused_rows_prepare<T>, &j);
    if (a->gate_out) std::memcpy(a->gate_out, j.gate.data(), rows * sizeof(float));
    sim_parallel_for(a->p.conv.batch * a->p.conv.hc_mult, 1, fused_rows<T>, &j);
}

}  // namespace

void run_hashed_gather(void* arg) {
    GatherArgs* a = static_cast<GatherArgs*>(arg);
    sim_parallel_for(a->p.tokens, 256, gather_tokens, a);
}

void run_gate(void* arg) {
    GateArgs* a = static_cast<GateArgs*>(arg);
    const int64_t items = a->p.tokens * a->p.hc_mult;
    if (a->p.dtype == ENGRAM_DTYPE_FLOAT32) sim_parallel_for(items, 16, gate_items<F32>, a);
    else sim_parallel_for(items, 16, gate_items<Bf16>, a);
}

void run_short_conv(void* arg) {
    ConvArgs* a = static_cast<ConvArgs*>(arg);
    if (a->p.dtype == ENGRAM_DTYPE_FLOAT32) run_conv_typed<F32>(a);
    else run_conv_typed<Bf16>(a);
}

void run_gate_short_conv(void* arg) {
    GateConvArgs* a = static_cast<GateConvArgs*>(arg);
    if (a->p.conv.dtype == ENGRAM_DTYPE_FLOAT32) run_fused_typed<F32>(a);
    else run_fused_typed<Bf16>(a);
}

void run_hashed_gather_packed(void* arg) {
    PackedGatherArgs* a = static_cast<PackedGatherArgs*>(arg);
    sim_parallel_for(a->p.gather.tokens, 256, gather_packed_tokens, a);
}

void run_short_conv_packed(void* arg) {
    PackedConvArgs* a = static_cast<PackedConvArgs*>(arg);
    if (a->p.conv.dtype == ENGRAM_DTYPE_FLOAT32) run_packed_conv_typed<F32>(a);
    else run_packed_conv_typed<Bf16>(a);
}

void run_state_commit(void* arg) { commit_sequences(*static_cast<StateCommitArgs*>(arg)); }

void run_hashed_gather_fp8(void* arg) {
    Fp8GatherArgs* a = static_cast<Fp8GatherArgs*>(arg);
    sim_parallel_for(a->g.p.tokens, 256, gather_fp8_tokens, a);
}

void run_hashed_gather_fp8_packed(void* arg) {
    PackedFp8GatherArgs* a = static_cast<PackedFp8GatherArgs*>(arg);
    sim_parallel_for(a->g.p.gather.tokens, 256, gather_packed_fp8_tokens, a);
}

void run_fp8_dequantize_rows(void* arg) {
    Fp8DequantizeArgs* a = static_cast<Fp8DequantizeArgs*>(arg);
    sim_parallel_for(a->p.rows, 64, dequantize_rows, a);
}

}  // namespace sim
