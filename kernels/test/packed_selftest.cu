// Self-test of the packed entry points (engram_hashed_gather_packed, engram_short_conv_packed,
// engram_state_commit) on a GPU or under kernels/emu, in C++:
//   cmake --build BUILD --target engram_packed_selftest && BUILD/engram_packed_selftest
// The rule it checks (SEMANTICS.md 8): a sequence run in consecutive chunks, with engram_state_commit
// after each packed call, gives the hash ids, gathered rows and conv outputs of the rectangular kernels
// (engram_hashed_gather / engram_short_conv, batch 1) on the whole sequence, BIT FOR BIT.
// On random configs (fp32 and bf16, G 1..3, H on the 16-byte and the element path, kernel sizes 1..5,
// dilations 1, 2, 3 and 33 (> the 32-token tile), max_ngram 2..4, with and without the lut), several
// sequences (some empty) in shuffled slots are cut into random chunks (0, 1, shorter and longer than the
// window and the history; some steps pure decode, 1 token per sequence; starts of length 0) and packed
// together in random order, so tiles span sequence boundaries. Slots start with garbage. After every
// commit the whole state (every slot) must equal the expected last rows / compressed ids, the slots of
// other sequences untouched. A "rogue" sequence with a slot outside [0, num_slots) (starting or not)
// must read nothing (its outputs are those of its chunk alone) and commit nothing. Then: tokens == 0 /
// num_seqs == 0 launch nothing (a pending CUDA error is still pending afterwards), and bad arguments give
// INVALID_ARGUMENT without touching the outputs. Outputs are poisoned before every launch.
// Exit status 0 when everything matches.
#include <cuda_runtime.h>

#include <algorithm>
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
constexpr int kConfigs = 40;  // about 1 s each under kernels/emu on 2 cores

void fail(const std::string& what) {
    if (failures++ < 30) std::printf("  FAIL %s\n", what.c_str());
}

// A device allocation of exactly `bytes` (16 when 0, so the pointer is never NULL), freed at scope end.
struct Dev {
    void* p = nullptr;
    size_t n;
    explicit Dev(size_t bytes) : n(bytes) { CHECK_CUDA(cudaMalloc(&p, bytes ? bytes : 16)); }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
    ~Dev() { cudaFree(p); }
    template <class T>
    T* as() const {
        return static_cast<T*>(p);
    }
    void put(const void* src) { CHECK_CUDA(cudaMemcpy(p, src, n, cudaMemcpyHostToDevice)); }
    void poison() { CHECK_CUDA(cudaMemset(p, 0xff, n)); }  // NaN in fp32/bf16, hash id -1
    std::vector<uint8_t> get() const {
        std::vector<uint8_t> r(n);
        CHECK_CUDA(cudaMemcpy(r.data(), p, n, cudaMemcpyDeviceToHost));
        return r;
    }
};

template <class T>
void upload(Dev& d, const std::vector<T>& v) {
    if (!v.empty()) d.put(v.data());
}

uint16_t f32_to_bf16(float f) {  // round to nearest even (finite inputs)
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

// n random values in the storage dtype, as bytes.
std::vector<uint8_t> random_values(size_t n, int elem, std::mt19937_64& rng, float lo, float hi) {
    std::uniform_real_distribution<float> ud(lo, hi);
    std::vector<uint8_t> b(n * elem);
    for (size_t i = 0; i < n; ++i) {
        const float f = ud(rng);
        if (elem == 4) {
            std::memcpy(&b[4 * i], &f, 4);
        } else {
            const uint16_t h = f32_to_bf16(f);
            std::memcpy(&b[2 * i], &h, 2);
        }
    }
    return b;
}

struct Config {
    int dtype;
    int G, H, K, dil;
    int max_ngram, heads_per_ngram, head_dim;
    bool lut;
    int num_seqs;
};

std::string describe(const Config& c) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s G=%d H=%d K=%d dil=%d ngram=%d heads/ngram=%d head_dim=%d lut=%d seqs=%d",
                  c.dtype == ENGRAM_DTYPE_FLOAT32 ? "f32 " : "bf16", c.G, c.H, c.K, c.dil, c.max_ngram,
                  c.heads_per_ngram, c.head_dim, c.lut, c.num_seqs);
    return buf;
}

// Everything one layer's packed calls need besides the batch: parameters, tables, the state.
struct Layer {
    Config c;
    int elem, M, W, heads;
    int64_t C, lut_size = 60, pad, table_rows = 0;
    std::vector<int64_t> lut, mult, moduli, offsets;
    Dev *d_lut = nullptr, *d_table = nullptr, *d_nw = nullptr, *d_cw = nullptr;
    float eps = 1e-5f;
    cudaStream_t stream;

    int64_t compress(int64_t raw) const { return c.lut && raw >= 0 ? lut[raw] : raw; }
};

// Rectangular results (batch 1) of one sequence: the reference the chunks must match.
struct Whole {
    std::vector<int64_t> raw, comp;
    std::vector<uint8_t> value;  // [L, C] in dtype
    std::vector<int64_t> hash;   // [L, heads]
    std::vector<uint8_t> rows;   // [L, heads * head_dim] in dtype
    std::vector<uint8_t> conv;   // [L, C] in dtype
    int64_t len() const { return static_cast<int64_t>(raw.size()); }
};

void rectangular(const Layer& y, Whole& w) {
    const int64_t L = w.len();
    if (L == 0) return;
    const int64_t row_bytes = static_cast<int64_t>(y.heads) * y.c.head_dim * y.elem;
    Dev raw(L * 8), val(L * y.C * y.elem), rows(L * row_bytes), hash(L * y.heads * 8), conv(L * y.C * y.elem);
    upload(raw, w.raw), upload(val, w.value);
    rows.poison(), hash.poison(), conv.poison();
    engram_status_t st = engram_hashed_gather(raw.as<int64_t>(), 1, L, y.c.lut ? y.d_lut->as<int64_t>() : nullptr,
                                              y.lut_size, y.pad, y.mult.data(), y.c.max_ngram, y.moduli.data(),
                                              y.offsets.data(), y.c.heads_per_ngram, y.d_table->p, y.table_rows,
                                              y.c.head_dim, y.c.dtype, rows.p, hash.as<int64_t>(), y.stream);
    if (st == ENGRAM_STATUS_SUCCESS) {
        st = engram_short_conv(val.p, y.d_nw->p, y.d_cw->p, y.eps, 1, L, y.c.G, y.c.H, y.c.K, y.c.dil, y.c.dtype,
                               conv.p, y.stream);
    }
    if (st != ENGRAM_STATUS_SUCCESS) {
        std::printf("rectangular reference: status %d: %s\n", st, engram_last_error());
        std::exit(2);
    }
    CHECK_CUDA(cudaStreamSynchronize(y.stream));
    const std::vector<uint8_t> h = hash.get();
    w.hash.resize(L * y.heads);
    std::memcpy(w.hash.data(), h.data(), h.size());
    w.rows = rows.get();
    w.conv = conv.get();
}

Whole make_sequence(const Layer& y, int64_t L, std::mt19937_64& rng) {
    Whole w;
    w.raw.resize(L);
    for (auto& r : w.raw) {
        r = static_cast<int64_t>(rng() % y.lut_size);
        if (rng() % 16 == 0) r = -1 - static_cast<int64_t>(rng() % 5);  // negative ids pass the lut
    }
    for (int64_t r : w.raw) w.comp.push_back(y.compress(r));
    w.value = random_values(L * y.C, y.elem, rng, -2.f, 2.f);
    rectangular(y, w);
    return w;
}

// One sequence's part of a packed call: its chunk [pos, pos + len) of `seq`.
struct Part {
    const Whole* seq;
    int64_t pos, len;
    int32_t slot;
    bool starts;
};

// One packed call (gather, conv, commit), its outputs checked against the whole sequences.
void packed_step(Layer& y, const std::vector<Part>& parts, bool state_for_reads, Dev* d_hist, Dev* d_win,
                 const std::string& where) {
    const int S = static_cast<int>(parts.size());
    std::vector<int32_t> cu{0}, slots;
    std::vector<uint8_t> starts;
    std::vector<int64_t> raw;
    std::vector<uint8_t> value;
    const size_t vrow = static_cast<size_t>(y.C) * y.elem;
    for (const Part& p : parts) {
        cu.push_back(cu.back() + static_cast<int32_t>(p.len));
        slots.push_back(p.slot);
        starts.push_back(p.starts ? 1 : 0);
        raw.insert(raw.end(), p.seq->raw.begin() + p.pos, p.seq->raw.begin() + p.pos + p.len);
        value.insert(value.end(), p.seq->value.begin() + p.pos * vrow, p.seq->value.begin() + (p.pos + p.len) * vrow);
    }
    const int64_t N = cu.back();
    const size_t row_bytes = static_cast<size_t>(y.heads) * y.c.head_dim * y.elem;
    Dev d_cu(cu.size() * 4), d_slots(S * 4), d_starts(S), d_raw(N * 8), d_val(N * vrow), d_rows(N * row_bytes),
        d_hash(N * y.heads * 8), d_conv(N * vrow);
    upload(d_cu, cu), upload(d_slots, slots), upload(d_starts, starts), upload(d_raw, raw), upload(d_val, value);
    d_rows.poison(), d_hash.poison(), d_conv.poison();
    const int32_t num_slots = static_cast<int32_t>(d_hist->n / 8 / y.M);
    const int64_t* lut = y.c.lut ? y.d_lut->as<int64_t>() : nullptr;
    // Reads may go without state when every sequence starts (engram.h allows NULL then).
    int64_t* hist_read = state_for_reads ? d_hist->as<int64_t>() : nullptr;
    void* win_read = state_for_reads && y.W > 0 ? d_win->p : nullptr;
    void* win = y.W > 0 ? d_win->p : nullptr;
    engram_status_t st = engram_hashed_gather_packed(
        d_raw.as<int64_t>(), N, d_cu.as<int32_t>(), d_slots.as<int32_t>(), d_starts.as<uint8_t>(), S, hist_read,
        num_slots, lut, y.lut_size, y.pad, y.mult.data(), y.c.max_ngram, y.moduli.data(), y.offsets.data(),
        y.c.heads_per_ngram, y.d_table->p, y.table_rows, y.c.head_dim, y.c.dtype, d_rows.p, d_hash.as<int64_t>(),
        y.stream);
    if (st == ENGRAM_STATUS_SUCCESS) {
        st = engram_short_conv_packed(d_val.p, y.d_nw->p, y.d_cw->p, y.eps, N, d_cu.as<int32_t>(),
                                      d_slots.as<int32_t>(), d_starts.as<uint8_t>(), S, win_read, num_slots, y.c.G,
                                      y.c.H, y.c.K, y.c.dil, y.c.dtype, d_conv.p, y.stream);
    }
    if (st == ENGRAM_STATUS_SUCCESS) {
        st = engram_state_commit(d_raw.as<int64_t>(), N, d_cu.as<int32_t>(), d_slots.as<int32_t>(),
                                 d_starts.as<uint8_t>(), S, num_slots, lut, y.lut_size, y.pad, y.c.max_ngram,
                                 d_hist->as<int64_t>(), d_val.p, y.c.G, y.c.H, y.c.K, y.c.dil, y.c.dtype, win,
                                 y.stream);
    }
    if (st != ENGRAM_STATUS_SUCCESS) {
        fail(where + ": status " + std::to_string(st) + ": " + engram_last_error());
        return;
    }
    CHECK_CUDA(cudaStreamSynchronize(y.stream));
    const std::vector<uint8_t> hash = d_hash.get(), rows = d_rows.get(), conv = d_conv.get();
    for (int s = 0; s < S; ++s) {
        const Part& p = parts[s];
        const int64_t i0 = cu[s];
        const size_t hb = static_cast<size_t>(y.heads) * 8;
        const std::string at = where + " seq " + std::to_string(s) + " chunk [" + std::to_string(p.pos) + ", " +
                               std::to_string(p.pos + p.len) + ")";
        if (p.len == 0) continue;
        if (std::memcmp(hash.data() + i0 * hb, p.seq->hash.data() + p.pos * y.heads, p.len * hb) != 0) {
            fail(at + ": hash ids differ from the whole sequence's");
        }
        if (std::memcmp(rows.data() + i0 * row_bytes, p.seq->rows.data() + p.pos * row_bytes, p.len * row_bytes)) {
            fail(at + ": gathered rows differ from the whole sequence's");
        }
        if (std::memcmp(conv.data() + i0 * vrow, p.seq->conv.data() + p.pos * vrow, p.len * vrow) != 0) {
            fail(at + ": conv outputs differ from the whole sequence's");
        }
    }
}

// The state a slot must hold after `seq`'s first `end` tokens: the last M compressed ids (pad before the
// start) and the last W value rows (zeros before the start).
void expected_state(const Layer& y, const Whole& seq, int64_t end, int64_t* hist, uint8_t* win) {
    for (int j = 0; j < y.M; ++j) {
        const int64_t p = end - y.M + j;
        hist[j] = p >= 0 ? seq.comp[p] : y.pad;
    }
    const size_t vrow = static_cast<size_t>(y.C) * y.elem;
    for (int j = 0; j < y.W; ++j) {
        const int64_t p = end - y.W + j;
        if (p >= 0) {
            std::memcpy(win + j * vrow, seq.value.data() + p * vrow, vrow);
        } else {
            std::memset(win + j * vrow, 0, vrow);
        }
    }
}

void run_config(const Config& c, uint32_t seed) {
    std::mt19937_64 rng(seed);
    Layer y;
    y.c = c;
    y.elem = c.dtype == ENGRAM_DTYPE_FLOAT32 ? 4 : 2;
    y.M = c.max_ngram - 1;
    y.W = (c.K - 1) * c.dil;
    y.heads = y.M * c.heads_per_ngram;
    y.C = static_cast<int64_t>(c.G) * c.H;
    CHECK_CUDA(cudaStreamCreate(&y.stream));
    y.lut.resize(y.lut_size);
    for (auto& x : y.lut) x = static_cast<int64_t>(rng() % 40);
    y.pad = c.lut ? y.lut[3] : -5;
    for (int k = 0; k < c.max_ngram; ++k) y.mult.push_back(static_cast<int64_t>(rng() | 1));
    for (int h = 0; h < y.heads; ++h) {
        y.moduli.push_back(7 + 4 * h);
        y.offsets.push_back(y.table_rows);
        y.table_rows += y.moduli.back();
    }
    Dev d_lut(y.lut_size * 8), d_table(y.table_rows * c.head_dim * y.elem), d_nw(y.C * y.elem),
        d_cw(y.C * c.K * y.elem);
    std::vector<uint8_t> table(d_table.n);
    for (auto& b : table) b = static_cast<uint8_t>(rng());
    upload(d_lut, y.lut), upload(d_table, table);
    upload(d_nw, random_values(y.C, y.elem, rng, 0.5f, 1.5f));
    upload(d_cw, random_values(y.C * c.K, y.elem, rng, -0.7f, 0.7f));
    y.d_lut = &d_lut, y.d_table = &d_table, y.d_nw = &d_nw, y.d_cw = &d_cw;

    // Sequences: lengths 0 .. beyond the window and the history.
    const int64_t reach = std::max<int64_t>(y.W, y.M);
    std::vector<Whole> seqs;
    for (int s = 0; s < c.num_seqs; ++s) {
        const int64_t L = s == 0 ? 0 : static_cast<int64_t>(rng() % (reach + 40));
        seqs.push_back(make_sequence(y, s == 1 ? reach + 7 : L, rng));  // one surely longer than the window
    }
    // Distinct slots, shuffled; a few more slots than sequences. Garbage state everywhere.
    const int32_t num_slots = c.num_seqs + 2;
    std::vector<int32_t> slot_of(num_slots);
    for (int32_t i = 0; i < num_slots; ++i) slot_of[i] = i;
    std::shuffle(slot_of.begin(), slot_of.end(), rng);
    const size_t win_slot_bytes = static_cast<size_t>(y.W) * y.C * y.elem;
    Dev d_hist(static_cast<size_t>(num_slots) * y.M * 8), d_win(num_slots * win_slot_bytes);
    std::vector<int64_t> hist_mirror(num_slots * y.M);
    std::vector<uint8_t> win_mirror(num_slots * win_slot_bytes);
    for (auto& h : hist_mirror) h = static_cast<int64_t>(rng());
    for (auto& b : win_mirror) b = static_cast<uint8_t>(rng());
    upload(d_hist, hist_mirror), upload(d_win, win_mirror);

    std::vector<int64_t> pos(c.num_seqs, 0);
    std::vector<bool> started(c.num_seqs, false);
    int steps = 0, decode_steps = 0, rogues = 0, window_path = 0;
    std::vector<Whole> rogue_seqs;  // kept alive for the step
    for (;;) {
        std::vector<int> open;
        for (int s = 0; s < c.num_seqs; ++s) {
            if (!started[s] || pos[s] < seqs[s].len()) open.push_back(s);
        }
        if (open.empty()) break;
        const bool decode = rng() % 3 == 0;  // every open sequence gets one token
        std::vector<Part> parts;
        for (int s : open) {
            if (!decode && rng() % 4 == 0) continue;  // not in this call
            const int64_t left = seqs[s].len() - pos[s];
            int64_t len;
            const int r = static_cast<int>(rng() % 10);
            if (decode) {
                len = 1;
            } else if (r == 0) {
                len = 0;
            } else if (r <= 4) {
                len = 1;
            } else if (r <= 7) {
                len = 2 + static_cast<int64_t>(rng() % (reach + 1));  // around the window
            } else {
                len = reach + 1 + static_cast<int64_t>(rng() % 40);  // longer than the window
            }
            len = std::min(len, left);
            parts.push_back({&seqs[s], pos[s], len, slot_of[s], !started[s]});
        }
        const bool rogue = rng() % 3 == 0;
        if (rogue) {  // a slot outside [0, num_slots): reads nothing, commits nothing
            rogue_seqs.push_back(make_sequence(y, static_cast<int64_t>(rng() % 9), rng));
            const int32_t bad_slot = rng() % 2 ? -1 - static_cast<int32_t>(rng() % 3) : num_slots;
            parts.push_back({&rogue_seqs.back(), 0, rogue_seqs.back().len(), bad_slot, rng() % 2 == 0});
            ++rogues;
        }
        if (parts.empty()) continue;
        std::shuffle(parts.begin(), parts.end(), rng);
        bool all_start = true;
        for (const Part& p : parts) all_start &= p.starts || p.slot < 0 || p.slot >= num_slots;
        packed_step(y, parts, !all_start || rng() % 2 == 0, &d_hist, &d_win,
                    describe(c) + " step " + std::to_string(steps));
        int64_t tokens = 0;  // coverage: engram_short_conv_packed's tile rule (short_conv_packed.cu)
        for (const Part& p : parts) tokens += p.len;
        const int64_t n_parts = static_cast<int64_t>(parts.size());
        int tile = 1;
        while (tile < (tokens + n_parts - 1) / n_parts && tile < 32) tile *= 2;
        window_path += tokens > 0 && c.dil < tile;
        // The expected state: in-range slots of this call hold their sequence's last rows; the rest as before.
        for (const Part& p : parts) {
            if (p.slot < 0 || p.slot >= num_slots) continue;
            expected_state(y, *p.seq, p.pos + p.len, hist_mirror.data() + p.slot * y.M,
                           win_mirror.data() + p.slot * win_slot_bytes);
        }
        for (int s : open) {
            for (const Part& p : parts) {
                if (p.seq == &seqs[s]) pos[s] += p.len, started[s] = true;
            }
        }
        std::vector<uint8_t> hist = d_hist.get(), win = d_win.get();
        if (!hist.empty() && std::memcmp(hist.data(), hist_mirror.data(), hist.size()) != 0) {
            fail(describe(c) + " step " + std::to_string(steps) + ": committed history differs");
        }
        if (!win.empty() && std::memcmp(win.data(), win_mirror.data(), win.size()) != 0) {
            fail(describe(c) + " step " + std::to_string(steps) + ": committed conv window differs");
        }
        ++steps;
        decode_steps += decode;
        rogue_seqs.clear();
    }
    std::printf("%s  %s: %d steps (%d decode, %d with a rogue slot, %d conv calls on the window path)\n",
                failures ? "(fail)" : "ok    ", describe(c).c_str(), steps, decode_steps, rogues, window_path);
    CHECK_CUDA(cudaStreamDestroy(y.stream));
}

void expect_status(engram_status_t got, engram_status_t want, const char* prefix, const std::string& what) {
    if (got != want) {
        fail(what + ": status " + std::to_string(got) + ", want " + std::to_string(want) + " (" +
             engram_last_error() + ")");
    } else if (want == ENGRAM_STATUS_INVALID_ARGUMENT && std::strncmp(engram_last_error(), prefix, strlen(prefix))) {
        fail(what + ": the error text does not name " + prefix + ": " + engram_last_error());
    }
}

// tokens == 0 / num_seqs == 0 launch nothing; bad arguments are rejected before any launch.
void edge_cases() {
    const int G = 1, H = 8, K = 3, dil = 2, W = (K - 1) * dil, M = 2, heads = 2, head_dim = 4, S = 2, slots = 3;
    const int64_t C = G * H, N = 5;
    const int f32 = ENGRAM_DTYPE_FLOAT32;
    Dev cu(12), sl(8), st(2), raw(N * 8), val(N * C * 4), out(N * C * 4), rows(N * heads * head_dim * 4),
        hash(N * heads * 8), hist(slots * M * 8), win(slots * W * C * 4), nw(C * 4), cw(C * K * 4),
        table(64 * head_dim * 4);
    const std::vector<int32_t> cu_h{0, 2, 5}, slots_h{2, 0};
    const std::vector<uint8_t> starts_h{1, 0};
    upload(cu, cu_h), upload(sl, slots_h), upload(st, starts_h);
    std::vector<int64_t> raw_h{1, 2, 3, 4, 5};
    upload(raw, raw_h);
    std::vector<float> ones(C * K, 0.5f);
    upload(nw, std::vector<float>(C, 1.f)), upload(cw, ones), upload(val, std::vector<float>(N * C, 1.f));
    const int64_t mult[3] = {3, 5, 7}, moduli[2] = {11, 13}, offsets[2] = {0, 11};
    const int32_t* d_cu = cu.as<int32_t>();
    const int32_t* d_sl = sl.as<int32_t>();
    const uint8_t* d_st = st.as<uint8_t>();
    cudaStream_t s;
    CHECK_CUDA(cudaStreamCreate(&s));
    auto gather = [&](int64_t tokens, const int32_t* cu_p, int32_t num_seqs, const int64_t* hist_p, int32_t n_slots,
                      int32_t max_ngram) {
        return engram_hashed_gather_packed(raw.as<int64_t>(), tokens, cu_p, d_sl, d_st, num_seqs, hist_p, n_slots,
                                           nullptr, 0, 0, mult, max_ngram, moduli, offsets, 1, table.p, 64, head_dim,
                                           f32, rows.p, hash.as<int64_t>(), s);
    };
    auto conv = [&](int64_t tokens, int32_t num_seqs, const void* win_p, int32_t kernel, int32_t dilation,
                    void* out_p) {
        return engram_short_conv_packed(val.p, nw.p, cw.p, 1e-5f, tokens, d_cu, d_sl, d_st, num_seqs, win_p, slots, G,
                                        H, kernel, dilation, f32, out_p, s);
    };
    auto commit = [&](int32_t num_seqs, const int32_t* slots_p, int64_t* hist_p, int32_t max_ngram, void* win_p,
                      int32_t kernel) {
        return engram_state_commit(raw.as<int64_t>(), num_seqs ? N : 0, d_cu, slots_p, d_st, num_seqs, slots, nullptr,
                                   0, 0, max_ngram, hist_p, val.p, G, H, kernel, dil, f32, win_p, s);
    };

    // Nothing to do: success without a launch. A pending (non-sticky) CUDA error would be reported by a
    // launch (engram.h), so it must still be pending afterwards.
    const std::vector<int32_t> empty_cu{0, 0, 0};
    Dev cu0(12);
    upload(cu0, empty_cu);
    auto pend = [] {  // an invalid copy direction: cudaErrorInvalidMemcpyDirection (emulated: InvalidValue)
        int a = 0, b = 0;
        (void)cudaMemcpy(&a, &b, 4, static_cast<cudaMemcpyKind>(77));
    };
    std::vector<std::pair<std::string, engram_status_t>> nothing;
    pend();
    nothing.push_back({"gather tokens=0 num_seqs=0", gather(0, d_cu, 0, hist.as<int64_t>(), slots, 3)});
    nothing.push_back({"gather tokens=0 num_seqs=2 (empty)", gather(0, cu0.as<int32_t>(), 2, hist.as<int64_t>(), slots, 3)});
    nothing.push_back({"conv tokens=0 num_seqs=0", conv(0, 0, win.p, K, dil, out.p)});
    nothing.push_back({"commit num_seqs=0", commit(0, d_sl, hist.as<int64_t>(), 3, win.p, K)});
    const cudaError_t pending = cudaGetLastError();
    for (auto& [what, status] : nothing) expect_status(status, ENGRAM_STATUS_SUCCESS, "", what);
    if (pending == cudaSuccess) fail("a call that must not launch consumed the pending CUDA error (it launched)");

    // A commit of empty chunks launches: the starting slot (2) is reset, the continuing one (0) kept.
    std::vector<int64_t> hist_h(slots * M);
    std::vector<float> win_h(slots * W * C);
    for (size_t i = 0; i < hist_h.size(); ++i) hist_h[i] = 100 + static_cast<int64_t>(i);
    for (size_t i = 0; i < win_h.size(); ++i) win_h[i] = 1.f + static_cast<float>(i);
    upload(hist, hist_h), upload(win, win_h);
    const int64_t pad = -9;
    expect_status(engram_state_commit(raw.as<int64_t>(), 0, cu0.as<int32_t>(), d_sl, d_st, S, slots, nullptr, 0, pad,
                                      M + 1, hist.as<int64_t>(), val.p, G, H, K, dil, f32, win.p, s),
                  ENGRAM_STATUS_SUCCESS, "", "commit of empty chunks");
    CHECK_CUDA(cudaStreamSynchronize(s));
    for (int j = 0; j < M; ++j) hist_h[2 * M + j] = pad;
    std::fill(win_h.begin() + 2 * W * C, win_h.end(), 0.f);
    const std::vector<uint8_t> hist_got = hist.get(), win_got = win.get();
    if (std::memcmp(hist_got.data(), hist_h.data(), hist_got.size()) != 0 ||
        std::memcmp(win_got.data(), win_h.data(), win_got.size()) != 0) {
        fail("a commit of empty chunks must reset the starting slot and keep the continuing one");
    }

    // Bad arguments: INVALID_ARGUMENT, nothing written.
    rows.poison(), hash.poison(), out.poison();
    const int64_t* bad_hist = reinterpret_cast<const int64_t*>(hist.as<uint8_t>() + 4);
    const char* g = "engram_hashed_gather_packed";
    const engram_status_t inv = ENGRAM_STATUS_INVALID_ARGUMENT;
    expect_status(gather(-1, d_cu, S, hist.as<int64_t>(), slots, 3), inv, g, "gather tokens=-1");
    expect_status(gather(N, nullptr, S, hist.as<int64_t>(), slots, 3), inv, g, "gather null cu_seqlens");
    expect_status(gather(N, d_cu, 0, hist.as<int64_t>(), slots, 3), inv, g, "gather tokens without sequences");
    expect_status(gather(N, d_cu, -1, hist.as<int64_t>(), slots, 3), inv, g, "gather num_seqs=-1");
    expect_status(gather(N, d_cu, S, hist.as<int64_t>(), -1, 3), inv, g, "gather num_slots=-1");
    expect_status(gather(N, d_cu, S, bad_hist, slots, 3), inv, g, "gather misaligned history");
    expect_status(gather(N, d_cu, S, hist.as<int64_t>(), slots, 1), inv, g, "gather max_ngram_size=1");
    const char* cv = "engram_short_conv_packed";
    expect_status(conv(N, S, win.p, 0, dil, out.p), inv, cv, "conv kernel_size=0");
    expect_status(conv(N, S, win.p, K, 0, out.p), inv, cv, "conv dilation=0");
    expect_status(conv(N, S, win.p, K, dil, val.p), inv, cv, "conv d_out == d_value");
    expect_status(conv(N, S, win.as<uint8_t>() + 2, K, dil, out.p), inv, cv, "conv misaligned window");
    expect_status(conv(N, -2, win.p, K, dil, out.p), inv, cv, "conv num_seqs=-2");
    const char* cm = "engram_state_commit";
    expect_status(commit(S, d_sl, nullptr, 3, nullptr, K), inv, cm, "commit without any state");
    expect_status(commit(S, d_sl, hist.as<int64_t>(), 17, win.p, K), inv, cm, "commit max_ngram_size=17");
    expect_status(commit(S, d_sl, const_cast<int64_t*>(bad_hist), 3, win.p, K), inv, cm, "commit misaligned history");
    expect_status(commit(S, nullptr, hist.as<int64_t>(), 3, win.p, K), inv, cm, "commit null seq_slots");
    expect_status(commit(S, d_sl, hist.as<int64_t>(), 3, win.p, 17), inv, cm, "commit kernel_size=17");
    CHECK_CUDA(cudaStreamSynchronize(s));
    for (const Dev* d : {&rows, &hash, &out}) {
        for (uint8_t b : d->get()) {
            if (b != 0xff) {
                fail("a rejected call wrote an output");
                break;
            }
        }
    }
    CHECK_CUDA(cudaStreamDestroy(s));
    std::printf("%s  edge cases: empty calls launch nothing, empty chunks reset / keep, bad arguments rejected\n",
                failures ? "(fail)" : "ok    ");
}

// The descriptors are not validated on the device (engram.h): with garbage in them (cu_seqlens out of
// order, negative, beyond the tokens; slots out of range; any start bytes) the three kernels must stay
// inside their tensors. Under kernels/emu, ASan checks every access (all allocations exactly sized);
// the outputs are not checked (any values are allowed).
void garbage_descriptors() {
    const int G = 2, H = 8, K = 3, dil = 2, W = (K - 1) * dil, M = 3, heads = 3, head_dim = 8, slots = 3;
    const int64_t C = G * H, N = 21;
    const int f32 = ENGRAM_DTYPE_FLOAT32;
    std::mt19937_64 rng(99);
    Dev raw(N * 8), val(N * C * 4), out(N * C * 4), rows(N * heads * head_dim * 4), hash(N * heads * 8),
        hist(slots * M * 8), win(slots * W * C * 4), nw(C * 4), cw(C * K * 4), table(64 * head_dim * 4), lut(10 * 8);
    std::vector<int64_t> raw_h(N), lut_h(10, 4);
    for (auto& r : raw_h) r = static_cast<int64_t>(rng() % 14) - 2;  // some outside the lut
    upload(raw, raw_h), upload(lut, lut_h);
    upload(nw, std::vector<float>(C, 1.f)), upload(cw, std::vector<float>(C * K, 0.5f));
    upload(val, std::vector<float>(N * C, 1.f));
    const int64_t mult[4] = {3, 5, 7, 9}, moduli[3] = {11, 13, 17}, offsets[3] = {0, 11, 24};
    cudaStream_t s;
    CHECK_CUDA(cudaStreamCreate(&s));
    for (int trial = 0; trial < 6; ++trial) {
        const int S = 1 + static_cast<int>(rng() % 6);
        std::vector<int32_t> cu(S + 1), sl(S);
        std::vector<uint8_t> st(S);
        for (auto& x : cu) x = static_cast<int32_t>(rng() % 50) - 15;
        if (trial % 2) cu[0] = 0, cu[S] = static_cast<int32_t>(N);  // plausible ends, garbage inside
        for (auto& x : sl) x = static_cast<int32_t>(rng() % 7) - 2;
        for (auto& x : st) x = static_cast<uint8_t>(rng() % 3 ? 0 : rng());
        Dev d_cu(cu.size() * 4), d_sl(sl.size() * 4), d_st(st.size());
        upload(d_cu, cu), upload(d_sl, sl), upload(d_st, st);
        const int32_t* c_ = d_cu.as<int32_t>();
        const int32_t* l_ = d_sl.as<int32_t>();
        const uint8_t* t_ = d_st.as<uint8_t>();
        engram_status_t r = engram_hashed_gather_packed(raw.as<int64_t>(), N, c_, l_, t_, S, hist.as<int64_t>(), slots,
                                                        lut.as<int64_t>(), 10, 4, mult, M + 1, moduli, offsets, 1,
                                                        table.p, 64, head_dim, f32, rows.p, hash.as<int64_t>(), s);
        if (r == ENGRAM_STATUS_SUCCESS) {
            r = engram_short_conv_packed(val.p, nw.p, cw.p, 1e-5f, N, c_, l_, t_, S, win.p, slots, G, H, K, dil, f32,
                                         out.p, s);
        }
        if (r == ENGRAM_STATUS_SUCCESS) {
            r = engram_state_commit(raw.as<int64_t>(), N, c_, l_, t_, S, slots, lut.as<int64_t>(), 10, 4, M + 1,
                                    hist.as<int64_t>(), val.p, G, H, K, dil, f32, win.p, s);
        }
        CHECK_CUDA(cudaStreamSynchronize(s));
        if (r != ENGRAM_STATUS_SUCCESS) fail("garbage descriptors: status " + std::to_string(r));
    }
    CHECK_CUDA(cudaStreamDestroy(s));
    std::printf("%s  garbage descriptors: the three kernels ran (accesses checked by ASan under kernels/emu)\n",
                failures ? "(fail)" : "ok    ");
}

}  // namespace

int main() {
    const int f32 = ENGRAM_DTYPE_FLOAT32, bf16 = ENGRAM_DTYPE_BFLOAT16;
    const int dils[4] = {1, 2, 3, 33};
    // H: 8 is the 16-byte path in both dtypes, 12 in fp32 only, 5 the element path.
    const int Hs[3] = {8, 12, 5};
    uint32_t seed = 1;
    std::mt19937_64 pick(12345);
    for (int i = 0; i < kConfigs; ++i) {
        Config c;
        c.dtype = i % 2 ? bf16 : f32;
        c.K = 1 + i % 5;
        c.dil = dils[(i / 2) % 4];
        if (c.dil > 32) c.K = std::min(c.K, 4) + (c.K == 1);  // K 2..4 with the large dilation (W <= 99)
        c.max_ngram = 2 + i % 3;
        c.G = 1 + static_cast<int>(pick() % 3);
        c.H = Hs[pick() % 3];
        c.heads_per_ngram = 1 + static_cast<int>(pick() % 2);
        c.head_dim = i % 3 == 0 ? 3 : 8;
        c.lut = i % 4 != 1;
        c.num_seqs = 3 + static_cast<int>(pick() % 4);
        run_config(c, seed++);
    }
    edge_cases();
    garbage_descriptors();
    std::printf("%s\n", failures ? "FAILED" : "ALL OK");
    return failures ? 1 : 0;
}
