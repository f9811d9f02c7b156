// Self-test of engram_gate and engram_short_conv on a GPU against CPU double-precision references:
//   cmake --build BUILD --target engram_gate_conv_selftest && BUILD/engram_gate_conv_selftest
// Random inputs, fp32 and bf16 storage (the reference reads the same bf16-rounded inputs), G = 1 and
// 4, H = 64, 1024, 48 (16-byte path) and 50 (element-by-element path), B = 2, T = 1, 5 (<
// receptive field) and 37, dilation 3 (window path) and 40 (per-tap path). Then: the per-tap path
// reaching back over all taps (T = 150, K = 4, dilation 40), the 512-slot maximum of both paths
// (K = 16 with dilation 32, the largest window, and 33, the smallest per-tap), K = 16 and K = 1, and
// gates with all-zero query rows (dot 0: the gate must be exactly 0.5). engram_gate_short_conv
// over the same kinds of shapes plus G = 4, H = 1024 and 1000, against the chained reference (gate, u
// rounded to the storage dtype, conv) and against engram_gate + engram_short_conv on the device. Outputs are poisoned with
// NaN before each launch. Error: max |gpu - ref| / max(|ref|, 1); limits 1e-5 (fp32), 1e-2 (bf16).
// Exit status 0 when everything passes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "engram.h"

#include "check_cuda.h"

static int failures = 0;

static uint16_t f32_to_bf16(float f) {  // round to nearest even (inputs are finite)
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}
static float bf16_to_f32(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// A tensor in storage dtype on the device, with the values the reference sees (after rounding).
struct Tensor {
    std::vector<double> host;
    void* dev = nullptr;
    int dtype;
    size_t n;
    Tensor(size_t n_, int dtype_) : host(n_), dtype(dtype_), n(n_) {}
    size_t bytes() const { return n * (dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2); }
    void upload() {  // rounds host to the storage dtype, then copies
        CHECK_CUDA(cudaMalloc(&dev, bytes() + 16));
        if (dtype == ENGRAM_DTYPE_FLOAT32) {
            std::vector<float> f(n);
            for (size_t i = 0; i < n; ++i) host[i] = f[i] = static_cast<float>(host[i]);
            CHECK_CUDA(cudaMemcpy(dev, f.data(), bytes(), cudaMemcpyHostToDevice));
        } else {
            std::vector<uint16_t> b(n);
            for (size_t i = 0; i < n; ++i) host[i] = bf16_to_f32(b[i] = f32_to_bf16(static_cast<float>(host[i])));
            CHECK_CUDA(cudaMemcpy(dev, b.data(), bytes(), cudaMemcpyHostToDevice));
        }
    }
    void alloc_poisoned() {
        CHECK_CUDA(cudaMalloc(&dev, bytes() + 16));
        CHECK_CUDA(cudaMemset(dev, 0xff, bytes()));  // 0xffff... is a NaN in fp32 and bf16
    }
    std::vector<double> download() const {
        std::vector<double> r(n);
        if (dtype == ENGRAM_DTYPE_FLOAT32) {
            std::vector<float> f(n);
            CHECK_CUDA(cudaMemcpy(f.data(), dev, bytes(), cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < n; ++i) r[i] = f[i];
        } else {
            std::vector<uint16_t> b(n);
            CHECK_CUDA(cudaMemcpy(b.data(), dev, bytes(), cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < n; ++i) r[i] = bf16_to_f32(b[i]);
        }
        return r;
    }
    ~Tensor() { cudaFree(dev); }
};

static double max_rel_err(const std::vector<double>& got, const std::vector<double>& ref) {
    double e = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double d = std::fabs(got[i] - ref[i]) / std::max(std::fabs(ref[i]), 1.0);
        if (!(d <= e)) e = std::isnan(d) ? INFINITY : d;
    }
    return e;
}

static void report(const char* what, int dtype, int G, int H, int64_t T, int K, int dil, double err) {
    const double tol = dtype == ENGRAM_DTYPE_FLOAT32 ? 1e-5 : 1e-2;
    const bool ok = err <= tol;
    std::printf("%s %-12s %-4s G=%d H=%-4d T=%-3lld K=%-2d dil=%-2d max_rel_err=%.3g\n", ok ? "ok  " : "FAIL", what,
                dtype == ENGRAM_DTYPE_FLOAT32 ? "f32" : "bf16", G, H, static_cast<long long>(T), K, dil, err);
    failures += !ok;
}

static void fill(Tensor& t, std::mt19937_64& rng, double mean, double sd) {
    std::normal_distribution<double> nd(mean, sd);
    for (auto& x : t.host) x = nd(rng);
}

// engram_gate's result in double: ref_v = gate * v [N, G, H], ref_g = gate [N, G].
static void gate_reference(const Tensor& proj, const Tensor& kb, const Tensor& vb, const Tensor& hid, const Tensor& kw,
                           const Tensor& qw, double eps, int64_t N, int G, int H, std::vector<double>& ref_v,
                           std::vector<double>& ref_g) {
    ref_v.assign(N * G * H, 0.0);
    ref_g.assign(N * G, 0.0);
    for (int64_t i = 0; i < N; ++i) {
        for (int g = 0; g < G; ++g) {
            double skk = 0, sqq = 0;
            std::vector<double> k(H), q(H);
            for (int h = 0; h < H; ++h) {
                k[h] = proj.host[(i * (G + 1) + g) * H + h] + kb.host[g * H + h];
                q[h] = hid.host[(i * G + g) * H + h];
                skk += k[h] * k[h], sqq += q[h] * q[h];
            }
            const double rk = 1 / std::sqrt(skk / H + eps), rq = 1 / std::sqrt(sqq / H + eps);
            double dot = 0;
            for (int h = 0; h < H; ++h) dot += k[h] * rk * kw.host[g * H + h] * q[h] * rq * qw.host[g * H + h];
            dot /= std::sqrt(static_cast<double>(H));
            const double sgn = (dot > 0) - (dot < 0);
            const double gate = 1 / (1 + std::exp(-sgn * std::sqrt(std::max(std::fabs(dot), 1e-6))));
            ref_g[i * G + g] = gate;
            for (int h = 0; h < H; ++h)
                ref_v[(i * G + g) * H + h] = gate * (proj.host[(i * (G + 1) + G) * H + h] + vb.host[h]);
        }
    }
}

// engram_short_conv's result in double for the value `val` [B, T, G, H].
static std::vector<double> conv_reference(const std::vector<double>& val, const Tensor& nw, const Tensor& cw,
                                          double eps, int G, int H, int64_t B, int64_t T, int K, int dil) {
    const int64_t C = static_cast<int64_t>(G) * H;
    std::vector<double> xn(B * T * C), ref(B * T * C);
    for (int64_t r = 0; r < B * T * G; ++r) {
        const int g = static_cast<int>(r % G);
        double ss = 0;
        for (int h = 0; h < H; ++h) ss += val[r * H + h] * val[r * H + h];
        const double inv = 1 / std::sqrt(ss / H + eps);
        for (int h = 0; h < H; ++h) xn[r * H + h] = val[r * H + h] * inv * nw.host[g * H + h];
    }
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t c = 0; c < C; ++c) {
                double y = 0;
                for (int k = 0; k < K; ++k) {
                    const int64_t src = t - static_cast<int64_t>(K - 1 - k) * dil;
                    if (src >= 0) y += cw.host[c * K + k] * xn[(b * T + src) * C + c];
                }
                const int64_t i = (b * T + t) * C + c;
                ref[i] = val[i] + y / (1 + std::exp(-y));
            }
    return ref;
}

// zero_query: the hidden rows of (token 0, branch 0) and (token N-1, branch G-1) are all zero.
static void gate_case(int dtype, int G, int H, int64_t N, uint32_t seed, bool zero_query = false) {
    std::mt19937_64 rng(seed);
    const float eps = 1.1920928955078125e-07f;
    Tensor proj(N * (G + 1) * H, dtype), kb(G * H, dtype), vb(H, dtype), hid(N * G * H, dtype), kw(G * H, dtype),
        qw(G * H, dtype), vout(N * G * H, dtype);
    fill(proj, rng, 0, 1), fill(kb, rng, 0, 0.1), fill(vb, rng, 0, 0.1), fill(hid, rng, 0, 1);
    fill(kw, rng, 1, 0.2), fill(qw, rng, 1, 0.2);
    const int64_t zero_items[2] = {0, N * G - 1};
    if (zero_query) {
        for (int64_t item : zero_items) std::fill_n(hid.host.begin() + item * H, H, 0.0);
    }
    for (Tensor* t : {&proj, &kb, &vb, &hid, &kw, &qw}) t->upload();
    vout.alloc_poisoned();
    float* d_gate;
    CHECK_CUDA(cudaMalloc(&d_gate, N * G * 4));
    CHECK_CUDA(cudaMemset(d_gate, 0xff, N * G * 4));
    cudaStream_t s;
    CHECK_CUDA(cudaStreamCreate(&s));
    engram_status_t st = engram_gate(proj.dev, kb.dev, vb.dev, hid.dev, kw.dev, qw.dev, eps, N, G, H, dtype, vout.dev,
                                     d_gate, s);
    if (st != ENGRAM_STATUS_SUCCESS) std::printf("engram_gate: %s\n", engram_last_error());
    CHECK_CUDA(cudaStreamSynchronize(s));
    std::vector<double> ref_v, ref_g;
    gate_reference(proj, kb, vb, hid, kw, qw, eps, N, G, H, ref_v, ref_g);
    std::vector<float> gf(N * G);
    CHECK_CUDA(cudaMemcpy(gf.data(), d_gate, N * G * 4, cudaMemcpyDeviceToHost));
    std::vector<double> gd(gf.begin(), gf.end());
    report(zero_query ? "gate q=0" : "gate", dtype, G, H, N, 0, 0,
           st == ENGRAM_STATUS_SUCCESS ? max_rel_err(vout.download(), ref_v) : INFINITY);
    // The gate itself is fp32 in both dtypes.
    report(zero_query ? "gate_out q=0" : "gate_out", ENGRAM_DTYPE_FLOAT32, G, H, N, 0, 0, max_rel_err(gd, ref_g));
    if (zero_query) {  // sign(0) = 0: sigmoid(0), exactly
        for (int64_t item : zero_items) {
            if (gf[item] != 0.5f || ref_g[item] != 0.5) {
                std::printf("FAIL gate_out[%lld] = %.9g with an all-zero query row (reference %.17g), want 0.5\n",
                            static_cast<long long>(item), gf[item], ref_g[item]);
                ++failures;
            }
        }
    }
    cudaFree(d_gate);
    cudaStreamDestroy(s);
}

static void conv_case(int dtype, int G, int H, int64_t B, int64_t T, int K, int dil, uint32_t seed) {
    std::mt19937_64 rng(seed);
    const float eps = 1e-5f;
    const int64_t C = static_cast<int64_t>(G) * H;
    Tensor val(B * T * C, dtype), nw(C, dtype), cw(C * K, dtype), out(B * T * C, dtype);
    fill(val, rng, 0, 1), fill(nw, rng, 1, 0.2);
    std::uniform_real_distribution<double> ud(-1 / std::sqrt(K), 1 / std::sqrt(K));
    for (auto& x : cw.host) x = ud(rng);
    val.upload(), nw.upload(), cw.upload();
    out.alloc_poisoned();
    cudaStream_t s;
    CHECK_CUDA(cudaStreamCreate(&s));
    engram_status_t st = engram_short_conv(val.dev, nw.dev, cw.dev, eps, B, T, G, H, K, dil, dtype, out.dev, s);
    if (st != ENGRAM_STATUS_SUCCESS) std::printf("engram_short_conv: %s\n", engram_last_error());
    CHECK_CUDA(cudaStreamSynchronize(s));
    const std::vector<double> ref = conv_reference(val.host, nw, cw, eps, G, H, B, T, K, dil);
    report("short_conv", dtype, G, H, T, K, dil,
           st == ENGRAM_STATUS_SUCCESS ? max_rel_err(out.download(), ref) : INFINITY);
    cudaStreamDestroy(s);
}

// engram_gate_short_conv against the chained reference (gate, u rounded to the storage dtype as
// engram_gate's d_value_out stores it, then the conv), and against engram_gate + engram_short_conv run
// on the device; also its gates. With zero_query, the hidden rows of (token 0, branch 0) and (token N-1,
// branch G-1) are all zero (gate exactly 0.5).
static void fused_case(int dtype, int G, int H, int64_t B, int64_t T, int K, int dil, uint32_t seed,
                       bool zero_query = false) {
    std::mt19937_64 rng(seed);
    const float gate_eps = 1.1920928955078125e-07f, conv_eps = 1e-5f;
    const int64_t N = B * T;
    const int64_t C = static_cast<int64_t>(G) * H;
    Tensor proj(N * (G + 1) * H, dtype), kb(C, dtype), vb(H, dtype), hid(N * C, dtype), kw(C, dtype), qw(C, dtype),
        nw(C, dtype), cw(C * K, dtype), out(N * C, dtype), vchain(N * C, dtype), ochain(N * C, dtype);
    fill(proj, rng, 0, 1), fill(kb, rng, 0, 0.1), fill(vb, rng, 0, 0.1), fill(hid, rng, 0, 1);
    fill(kw, rng, 1, 0.2), fill(qw, rng, 1, 0.2), fill(nw, rng, 1, 0.2);
    std::uniform_real_distribution<double> ud(-1 / std::sqrt(K), 1 / std::sqrt(K));
    for (auto& x : cw.host) x = ud(rng);
    if (zero_query) {
        for (int64_t item : {int64_t{0}, N * G - 1}) std::fill_n(hid.host.begin() + item * H, H, 0.0);
    }
    for (Tensor* t : {&proj, &kb, &vb, &hid, &kw, &qw, &nw, &cw}) t->upload();
    out.alloc_poisoned(), vchain.alloc_poisoned(), ochain.alloc_poisoned();
    float* d_gate;
    CHECK_CUDA(cudaMalloc(&d_gate, N * G * 4));
    CHECK_CUDA(cudaMemset(d_gate, 0xff, N * G * 4));
    cudaStream_t s;
    CHECK_CUDA(cudaStreamCreate(&s));
    engram_status_t st = engram_gate_short_conv(proj.dev, kb.dev, vb.dev, hid.dev, kw.dev, qw.dev, gate_eps, nw.dev,
                                                cw.dev, conv_eps, B, T, G, H, K, dil, dtype, out.dev, d_gate, s);
    if (st != ENGRAM_STATUS_SUCCESS) std::printf("engram_gate_short_conv: %s\n", engram_last_error());
    // The unfused path on the device.
    engram_status_t st2 = engram_gate(proj.dev, kb.dev, vb.dev, hid.dev, kw.dev, qw.dev, gate_eps, N, G, H, dtype,
                                      vchain.dev, nullptr, s);
    if (st2 == ENGRAM_STATUS_SUCCESS) {
        st2 = engram_short_conv(vchain.dev, nw.dev, cw.dev, conv_eps, B, T, G, H, K, dil, dtype, ochain.dev, s);
    }
    if (st2 != ENGRAM_STATUS_SUCCESS) std::printf("gate + short_conv: %s\n", engram_last_error());
    CHECK_CUDA(cudaStreamSynchronize(s));

    std::vector<double> u, ref_g;
    gate_reference(proj, kb, vb, hid, kw, qw, gate_eps, N, G, H, u, ref_g);
    for (double& x : u) {  // what engram_gate stores
        const float f = static_cast<float>(x);
        x = dtype == ENGRAM_DTYPE_FLOAT32 ? f : bf16_to_f32(f32_to_bf16(f));
    }
    const std::vector<double> ref = conv_reference(u, nw, cw, conv_eps, G, H, B, T, K, dil);
    const std::vector<double> got = out.download();
    report(zero_query ? "fused q=0" : "fused", dtype, G, H, T, K, dil,
           st == ENGRAM_STATUS_SUCCESS ? max_rel_err(got, ref) : INFINITY);
    report("fused~chain", dtype, G, H, T, K, dil,
           st == ENGRAM_STATUS_SUCCESS && st2 == ENGRAM_STATUS_SUCCESS ? max_rel_err(got, ochain.download()) : INFINITY);
    std::vector<float> gf(N * G);
    CHECK_CUDA(cudaMemcpy(gf.data(), d_gate, N * G * 4, cudaMemcpyDeviceToHost));
    report("fused gates", ENGRAM_DTYPE_FLOAT32, G, H, T, K, dil,
           st == ENGRAM_STATUS_SUCCESS ? max_rel_err(std::vector<double>(gf.begin(), gf.end()), ref_g) : INFINITY);
    if (zero_query && st == ENGRAM_STATUS_SUCCESS) {
        for (int64_t item : {int64_t{0}, N * G - 1}) {
            if (gf[item] != 0.5f) {
                std::printf("FAIL fused gate_out[%lld] = %.9g with an all-zero query row, want 0.5\n",
                            static_cast<long long>(item), gf[item]);
                ++failures;
            }
        }
    }
    // Without d_gate_out: the same output.
    CHECK_CUDA(cudaMemset(out.dev, 0xff, out.bytes()));
    st = engram_gate_short_conv(proj.dev, kb.dev, vb.dev, hid.dev, kw.dev, qw.dev, gate_eps, nw.dev, cw.dev,
                                conv_eps, B, T, G, H, K, dil, dtype, out.dev, nullptr, s);
    CHECK_CUDA(cudaStreamSynchronize(s));
    if (st != ENGRAM_STATUS_SUCCESS || out.download() != got) {
        std::printf("FAIL fused without d_gate_out: status %d or a different output\n", static_cast<int>(st));
        ++failures;
    }
    cudaFree(d_gate);
    cudaStreamDestroy(s);
}

int main() {
    uint32_t seed = 1;
    for (int dtype : {ENGRAM_DTYPE_FLOAT32, ENGRAM_DTYPE_BFLOAT16})
        for (int G : {1, 4})
            for (int H : {64, 1024, 48, 50})
                for (int64_t T : {1, 5, 37}) {
                    gate_case(dtype, G, H, 2 * T, seed++);
                    conv_case(dtype, G, H, 2, T, 4, 3, seed++);
                    conv_case(dtype, G, H, 2, T, 4, 40, seed++);
                }
    conv_case(ENGRAM_DTYPE_FLOAT32, 2, 64, 2, 100, 16, 1, seed++);  // K = 16
    conv_case(ENGRAM_DTYPE_FLOAT32, 2, 64, 2, 100, 1, 1, seed++);   // K = 1
    for (int dtype : {ENGRAM_DTYPE_FLOAT32, ENGRAM_DTYPE_BFLOAT16}) {
        for (int H : {64, 50}) {
            // Per-tap path (dilation 40 > 32-step tile) with every tap inside the sequence for t >= 120.
            conv_case(dtype, 2, H, 2, 150, 4, 40, seed++);
            gate_case(dtype, 4, H, 6, seed++, true);  // all-zero query rows
        }
    }
    // K = 16: 512 slots, the maximum of the window path (dilation 32 = tile: 32 + 15 * 32 rows) and of
    // the per-tap path (dilation 33: 16 taps * 32 rows); T long enough that a full tile reaches back
    // over all 16 taps (t0 = 480 >= 15 * 32, t0 = 512 >= 15 * 33). B = 1 keeps the emulated run short.
    conv_case(ENGRAM_DTYPE_FLOAT32, 2, 64, 1, 512, 16, 32, seed++);
    conv_case(ENGRAM_DTYPE_BFLOAT16, 2, 50, 1, 512, 16, 32, seed++);
    conv_case(ENGRAM_DTYPE_FLOAT32, 2, 64, 1, 544, 16, 33, seed++);
    // Fused gate + conv, the same grid of shapes (window and per-tap paths, T = 1 and T < receptive field),
    // then the default-like shape (G = 4, H = 1024, short T), the per-tap path over all taps, the 512-slot
    // maxima of both paths and all-zero query rows.
    for (int dtype : {ENGRAM_DTYPE_FLOAT32, ENGRAM_DTYPE_BFLOAT16})
        for (int G : {1, 4})
            for (int H : {64, 48, 50})
                for (int64_t T : {1, 5, 37}) {
                    fused_case(dtype, G, H, 2, T, 4, 3, seed++);
                    fused_case(dtype, G, H, 2, T, 4, 40, seed++);
                }
    for (int dtype : {ENGRAM_DTYPE_FLOAT32, ENGRAM_DTYPE_BFLOAT16}) {
        fused_case(dtype, 4, 1024, 1, 40, 4, 3, seed++);     // default-like
        fused_case(dtype, 4, 1000, 2, 9, 4, 3, seed++);      // H * 2 bytes not a multiple of 16 in bf16
        fused_case(dtype, 2, 64, 2, 150, 4, 40, seed++);     // per-tap path, every tap inside for t >= 120
        fused_case(dtype, 2, 50, 1, 150, 4, 40, seed++);
        fused_case(dtype, 4, 64, 2, 7, 4, 3, seed++, true);  // all-zero query rows
    }
    fused_case(ENGRAM_DTYPE_FLOAT32, 2, 64, 1, 512, 16, 32, seed++);  // window path, 512 slots
    fused_case(ENGRAM_DTYPE_BFLOAT16, 2, 50, 1, 512, 16, 32, seed++);
    fused_case(ENGRAM_DTYPE_FLOAT32, 2, 64, 1, 544, 16, 33, seed++);  // per-tap path, 512 slots
    fused_case(ENGRAM_DTYPE_BFLOAT16, 2, 64, 1, 544, 16, 33, seed++);
    std::printf("%s\n", failures ? "FAILED" : "ALL OK");
    return failures ? 1 : 0;
}
