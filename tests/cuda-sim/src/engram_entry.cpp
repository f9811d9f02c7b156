// The kernel entry points of the simulator's libengram.so, in place of kernels/*.cu's launch wrappers.
// The library also links libengram's real host code (build.sh): the version/status/last-error code,
// the host hash and row gather, kernels/cuda_runtime_info.cu's CUDA probes, and the host-side argument
// checks (check_*_args), which these wrappers call exactly as the real ones do, so a simulated entry
// point rejects exactly what the real one rejects, with the same message. What follows the check is
// the real wrappers' flow: no tokens -> success without a launch; the 16-byte path chosen by the same
// test; the launch (here: the CPU body queued on the stream by sim_enqueue); then cudaGetLastError(),
// so an error pending from an earlier call is reported as this launch's failure, as engram.h says.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engram_error.h"
#include "gate_conv.h"
#include "hashed_gather.h"
#include "kernels.h"
#include "packed.h"
#include "sim.h"
#include <cuda_runtime.h>  // the toolkit's, or include/cuda_runtime.h where none is installed

namespace {

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Bytes of n elements of es bytes (the argument checks have ruled out overflow).
size_t bytes(int64_t n, int64_t es) { return static_cast<size_t>(n * es); }

// A nominal cost for the simulated clock: 3 us + 1 byte per ps (1 TB/s). Not a measurement.
double cost_ns(size_t touched) { return 3000.0 + static_cast<double>(touched) / 1000.0; }

template <class Args>
Args* copy_args(const Args& a) {
    Args* p = static_cast<Args*>(std::malloc(sizeof(Args)));
    if (p) *p = a;
    return p;
}

engram_status_t launched(const char* name, int enqueue_status) {
    (void)enqueue_status;  // also this thread's last error, read next, as after a real launch
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) {
        return engram::fail_cuda(std::string(name) + ": kernel launch failed", err, cudaGetErrorName(err),
                                 cudaGetErrorString(err));
    }
    return engram::ok();
}

engram_status_t out_of_memory(const char* name) {
    return engram::fail(ENGRAM_STATUS_INTERNAL_ERROR, std::string(name) + ": simulator out of host memory");
}

}  // namespace

ENGRAM_API engram_status_t engram_hashed_gather(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                                const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                const int64_t* multipliers, int32_t max_ngram_size,
                                                const int64_t* moduli, const int64_t* row_offsets,
                                                int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                                int32_t head_dim, int32_t dtype, void* d_out,
                                                int64_t* d_hash_ids_out, void* stream) {
    engram::HashedGatherParams p;
    engram_status_t st = engram::check_hashed_gather_args(
        d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers, max_ngram_size, moduli,
        row_offsets, heads_per_ngram, d_table, table_rows, head_dim, dtype, d_out, d_hash_ids_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.tokens == 0) return engram::ok();

    sim::GatherArgs* a = copy_args(sim::GatherArgs{d_raw_ids, d_lut, d_table, d_out, d_hash_ids_out, p});
    if (!a) return out_of_memory("engram_hashed_gather");
    const size_t row_bytes = bytes(head_dim, p.elem_bytes);
    const sim_range r[] = {
        {d_raw_ids, bytes(p.tokens, 8), 0},
        {d_lut, d_lut ? bytes(p.lut_size, 8) : 0, 0},
        {d_table, static_cast<size_t>(table_rows) * row_bytes, 0},
        {d_out, static_cast<size_t>(p.tokens) * p.heads * row_bytes, 1},
        {d_hash_ids_out, d_hash_ids_out ? bytes(p.tokens * p.heads, 8) : 0, 1},
    };
    const double cost = cost_ns(2 * static_cast<size_t>(p.tokens) * p.heads * row_bytes);
    return launched("engram_hashed_gather",
                    sim_enqueue(stream, "engram_hashed_gather", sim::run_hashed_gather, a, r, 5, cost));
}

ENGRAM_API engram_status_t engram_gate(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                       const void* d_hidden, const void* d_key_norm_w, const void* d_query_norm_w,
                                       float gate_eps, int64_t tokens, int32_t hc_mult, int32_t hidden,
                                       int32_t dtype, void* d_value_out, float* d_gate_out, void* stream) {
    engram::GateParams p;
    engram_status_t st = engram::check_gate_args(d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                                 d_query_norm_w, gate_eps, tokens, hc_mult, hidden, dtype,
                                                 d_value_out, d_gate_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.tokens == 0) return engram::ok();

    const bool vec16 = (static_cast<int64_t>(hidden) * p.elem_bytes) % 16 == 0 && aligned16(d_proj) &&
                       aligned16(d_key_bias) && aligned16(d_value_bias) && aligned16(d_hidden) &&
                       aligned16(d_key_norm_w) && aligned16(d_query_norm_w) && aligned16(d_value_out);
    sim::GateArgs* a = copy_args(sim::GateArgs{d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                               d_query_norm_w, d_value_out, d_gate_out, vec16 ? 16 / p.elem_bytes : 1, p});
    if (!a) return out_of_memory("engram_gate");
    const int64_t G = hc_mult, H = hidden, N = p.tokens, es = p.elem_bytes;
    const sim_range r[] = {
        {d_proj, bytes(N * (G + 1) * H, es), 0},   {d_key_bias, bytes(G * H, es), 0},
        {d_value_bias, bytes(H, es), 0},           {d_hidden, bytes(N * G * H, es), 0},
        {d_key_norm_w, bytes(G * H, es), 0},       {d_query_norm_w, bytes(G * H, es), 0},
        {d_value_out, bytes(N * G * H, es), 1},    {d_gate_out, d_gate_out ? bytes(N * G, 4) : 0, 1},
    };
    return launched("engram_gate", sim_enqueue(stream, "engram_gate", sim::run_gate, a, r, 8,
                                               cost_ns(bytes(N * (3 * G + 1) * H, es))));
}

ENGRAM_API engram_status_t engram_short_conv(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                             float eps, int64_t batch, int64_t seq_len, int32_t hc_mult,
                                             int32_t hidden, int32_t kernel_size, int32_t dilation, int32_t dtype,
                                             void* d_out, void* stream) {
    engram::ShortConvParams p;
    engram_status_t st = engram::check_short_conv_args(d_value, d_norm_w, d_conv_w, eps, batch, seq_len, hc_mult,
                                                       hidden, kernel_size, dilation, dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.batch * p.seq_len == 0) return engram::ok();

    // conv_w is read per channel (scalar), so only value, norm_w and out need 16-byte alignment.
    const bool vec16 = (static_cast<int64_t>(hidden) * p.elem_bytes) % 16 == 0 && aligned16(d_value) &&
                       aligned16(d_norm_w) && aligned16(d_out);
    sim::ConvArgs* a = copy_args(sim::ConvArgs{d_value, d_norm_w, d_conv_w, d_out, vec16 ? 16 / p.elem_bytes : 1, p});
    if (!a) return out_of_memory("engram_short_conv");
    const int64_t G = hc_mult, H = hidden, N = batch * seq_len, es = p.elem_bytes;
    const sim_range r[] = {
        {d_value, bytes(N * G * H, es), 0},
        {d_norm_w, bytes(G * H, es), 0},
        {d_conv_w, bytes(G * H * kernel_size, es), 0},
        {d_out, bytes(N * G * H, es), 1},
    };
    return launched("engram_short_conv", sim_enqueue(stream, "engram_short_conv", sim::run_short_conv, a, r, 4,
                                                     cost_ns(bytes(2 * N * G * H, es))));
}

ENGRAM_API engram_status_t engram_gate_short_conv(const void* d_proj, const void* d_key_bias,
                                                  const void* d_value_bias, const void* d_hidden,
                                                  const void* d_key_norm_w, const void* d_query_norm_w,
                                                  float gate_eps, const void* d_conv_norm_w, const void* d_conv_w,
                                                  float conv_eps, int64_t batch, int64_t seq_len, int32_t hc_mult,
                                                  int32_t hidden, int32_t kernel_size, int32_t dilation,
                                                  int32_t dtype, void* d_out, float* d_gate_out, void* stream) {
    engram::GateShortConvParams p;
    engram_status_t st = engram::check_gate_short_conv_args(
        d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w, d_query_norm_w, gate_eps, d_conv_norm_w, d_conv_w,
        conv_eps, batch, seq_len, hc_mult, hidden, kernel_size, dilation, dtype, d_out, d_gate_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.gate.tokens == 0) return engram::ok();

    const bool vec16 = (static_cast<int64_t>(hidden) * p.conv.elem_bytes) % 16 == 0 && aligned16(d_proj) &&
                       aligned16(d_key_bias) && aligned16(d_value_bias) && aligned16(d_hidden) &&
                       aligned16(d_key_norm_w) && aligned16(d_query_norm_w) && aligned16(d_conv_norm_w) &&
                       aligned16(d_out);
    sim::GateConvArgs* a = copy_args(sim::GateConvArgs{d_proj, d_key_bias, d_value_bias, d_hidden, d_key_norm_w,
                                                       d_query_norm_w, d_conv_norm_w, d_conv_w, d_out, d_gate_out,
                                                       vec16 ? 16 / p.conv.elem_bytes : 1, p});
    if (!a) return out_of_memory("engram_gate_short_conv");
    const int64_t G = hc_mult, H = hidden, N = p.gate.tokens, es = p.conv.elem_bytes;
    const sim_range r[] = {
        {d_proj, bytes(N * (G + 1) * H, es), 0},   {d_key_bias, bytes(G * H, es), 0},
        {d_value_bias, bytes(H, es), 0},           {d_hidden, bytes(N * G * H, es), 0},
        {d_key_norm_w, bytes(G * H, es), 0},       {d_query_norm_w, bytes(G * H, es), 0},
        {d_conv_norm_w, bytes(G * H, es), 0},      {d_conv_w, bytes(G * H * kernel_size, es), 0},
        {d_out, bytes(N * G * H, es), 1},          {d_gate_out, d_gate_out ? bytes(N * G, 4) : 0, 1},
    };
    return launched("engram_gate_short_conv",
                    sim_enqueue(stream, "engram_gate_short_conv", sim::run_gate_short_conv, a, r, 10,
                                cost_ns(bytes(N * (3 * G + 2) * H, es))));
}

// ---- packed batches with carried state (engram.h, "Packed batches", ABI 4) ----
// The descriptors and the state are declared whole to the race detector: which slots a call touches is
// in device memory (not readable at launch), so a kernel may touch any slot as far as ordering goes, and
// two unordered calls on one state are reported even when their slots differ.

namespace {

sim::PackedDescriptors descriptors(const int32_t* cu, const int32_t* slots, const uint8_t* starts) {
    return sim::PackedDescriptors{cu, slots, starts};
}

}  // namespace

ENGRAM_API engram_status_t engram_hashed_gather_packed(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const void* d_table,
    int64_t table_rows, int32_t head_dim, int32_t dtype, void* d_out, int64_t* d_hash_ids_out, void* stream) {
    engram::PackedGatherParams p;
    engram_status_t st = engram::check_hashed_gather_packed_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_history, num_slots, d_lut, lut_size,
        pad_id_compressed, multipliers, max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, table_rows,
        head_dim, dtype, d_out, d_hash_ids_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.gather.tokens == 0) return engram::ok();

    sim::PackedGatherArgs* a = copy_args(sim::PackedGatherArgs{
        d_raw_ids, descriptors(d_cu_seqlens, d_seq_slots, d_seq_starts), p.num_slots > 0 ? d_history : nullptr, d_lut,
        d_table, d_out, d_hash_ids_out, p});
    if (!a) return out_of_memory("engram_hashed_gather_packed");
    const size_t row_bytes = bytes(head_dim, p.gather.elem_bytes);
    const int64_t heads = p.gather.heads, S = num_seqs;
    const sim_range r[] = {
        {d_raw_ids, bytes(tokens, 8), 0},
        {d_cu_seqlens, bytes(S + 1, 4), 0},
        {d_seq_slots, bytes(S, 4), 0},
        {d_seq_starts, bytes(S, 1), 0},
        {d_history, bytes(static_cast<int64_t>(p.num_slots) * (max_ngram_size - 1), 8), 0},
        {d_lut, d_lut ? bytes(p.gather.lut_size, 8) : 0, 0},
        {d_table, static_cast<size_t>(table_rows) * row_bytes, 0},
        {d_out, static_cast<size_t>(tokens) * heads * row_bytes, 1},
        {d_hash_ids_out, d_hash_ids_out ? bytes(tokens * heads, 8) : 0, 1},
    };
    const double cost = cost_ns(2 * static_cast<size_t>(tokens) * heads * row_bytes);
    return launched("engram_hashed_gather_packed", sim_enqueue(stream, "engram_hashed_gather_packed",
                                                               sim::run_hashed_gather_packed, a, r, 9, cost));
}

ENGRAM_API engram_status_t engram_short_conv_packed(const void* d_value, const void* d_norm_w, const void* d_conv_w,
                                                    float eps, int64_t tokens, const int32_t* d_cu_seqlens,
                                                    const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                                    int32_t num_seqs, const void* d_conv_state, int32_t num_slots,
                                                    int32_t hc_mult, int32_t hidden, int32_t kernel_size,
                                                    int32_t dilation, int32_t dtype, void* d_out, void* stream) {
    engram::PackedShortConvParams p;
    engram_status_t st = engram::check_short_conv_packed_args(
        d_value, d_norm_w, d_conv_w, eps, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_conv_state,
        num_slots, hc_mult, hidden, kernel_size, dilation, dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.conv.seq_len == 0) return engram::ok();

    // As engram_short_conv's test, plus the window (its rows are read like the chunk's).
    const void* state = p.num_slots > 0 && p.window > 0 ? d_conv_state : nullptr;
    const bool vec16 = (static_cast<int64_t>(hidden) * p.conv.elem_bytes) % 16 == 0 && aligned16(d_value) &&
                       aligned16(d_norm_w) && aligned16(d_out) && (state == nullptr || aligned16(state));
    if (!state) p.num_slots = 0;  // nothing to read: every sequence pads with zeros
    sim::PackedConvArgs* a = copy_args(sim::PackedConvArgs{d_value, d_norm_w, d_conv_w,
                                                           descriptors(d_cu_seqlens, d_seq_slots, d_seq_starts), state,
                                                           d_out, vec16 ? 16 / p.conv.elem_bytes : 1, p});
    if (!a) return out_of_memory("engram_short_conv_packed");
    const int64_t G = hc_mult, H = hidden, N = tokens, es = p.conv.elem_bytes, S = num_seqs;
    const sim_range r[] = {
        {d_value, bytes(N * G * H, es), 0},
        {d_norm_w, bytes(G * H, es), 0},
        {d_conv_w, bytes(G * H * kernel_size, es), 0},
        {d_cu_seqlens, bytes(S + 1, 4), 0},
        {d_seq_slots, bytes(S, 4), 0},
        {d_seq_starts, bytes(S, 1), 0},
        {state, bytes(static_cast<int64_t>(p.num_slots) * p.window * G * H, es), 0},
        {d_out, bytes(N * G * H, es), 1},
    };
    return launched("engram_short_conv_packed",
                    sim_enqueue(stream, "engram_short_conv_packed", sim::run_short_conv_packed, a, r, 8,
                                cost_ns(bytes(2 * N * G * H, es))));
}

ENGRAM_API engram_status_t engram_state_commit(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                               const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                               int32_t num_seqs, int32_t num_slots, const int64_t* d_lut,
                                               int64_t lut_size, int64_t pad_id_compressed, int32_t max_ngram_size,
                                               int64_t* d_history, const void* d_value, int32_t hc_mult,
                                               int32_t hidden, int32_t kernel_size, int32_t dilation, int32_t dtype,
                                               void* d_conv_state, void* stream) {
    engram::StateCommitParams p;
    engram_status_t st = engram::check_state_commit_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, num_slots, d_lut, lut_size,
        pad_id_compressed, max_ngram_size, d_history, d_value, hc_mult, hidden, kernel_size, dilation, dtype,
        d_conv_state, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.num_seqs == 0) return engram::ok();

    int64_t* history = p.history > 0 ? d_history : nullptr;
    void* state = p.window > 0 ? d_conv_state : nullptr;
    sim::StateCommitArgs* a = copy_args(sim::StateCommitArgs{
        d_raw_ids, descriptors(d_cu_seqlens, d_seq_slots, d_seq_starts), d_lut, history, d_value, state, p});
    if (!a) return out_of_memory("engram_state_commit");
    const int64_t S = num_seqs, slots = num_slots;
    const size_t row_bytes = static_cast<size_t>(p.channels) * p.elem_bytes;
    const size_t state_bytes = state ? static_cast<size_t>(slots) * p.window * row_bytes : 0;
    const sim_range r[] = {
        {d_raw_ids, history ? bytes(tokens, 8) : 0, 0},
        {d_cu_seqlens, bytes(S + 1, 4), 0},
        {d_seq_slots, bytes(S, 4), 0},
        {d_seq_starts, bytes(S, 1), 0},
        {d_lut, history && d_lut ? bytes(p.lut_size, 8) : 0, 0},
        {d_value, state ? static_cast<size_t>(tokens) * row_bytes : 0, 0},
        {history, history ? bytes(slots * p.history, 8) : 0, 1},  // also read: a write covers both for races
        {state, state_bytes, 1},
    };
    return launched("engram_state_commit", sim_enqueue(stream, "engram_state_commit", sim::run_state_commit, a, r, 8,
                                                       cost_ns(2 * state_bytes + (history ? bytes(slots * p.history, 8) : 0))));
}

// ---- fp8 tables with block scales (engram.h, "fp8 tables", ABI 5) ----
// The real wrappers' flow with their checks (check_hashed_gather_fp8*_args); the table is declared as its
// table_rows * head_dim code bytes, the scales as table_rows * head_dim / scale_block bytes.

ENGRAM_API engram_status_t engram_hashed_gather_fp8(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                                    const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                                    const int64_t* multipliers, int32_t max_ngram_size,
                                                    const int64_t* moduli, const int64_t* row_offsets,
                                                    int32_t heads_per_ngram, const uint8_t* d_table,
                                                    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim,
                                                    int32_t scale_block, int32_t out_dtype, void* d_out,
                                                    int64_t* d_hash_ids_out, void* stream) {
    engram::HashedGatherParams p;
    engram::Fp8Scales f;
    engram_status_t st = engram::check_hashed_gather_fp8_args(
        d_raw_ids, batch, seq_len, d_lut, lut_size, pad_id_compressed, multipliers, max_ngram_size, moduli,
        row_offsets, heads_per_ngram, d_table, d_scales, table_rows, head_dim, scale_block, out_dtype, d_out,
        d_hash_ids_out, &p, &f);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.tokens == 0) return engram::ok();

    sim::Fp8GatherArgs* a = copy_args(
        sim::Fp8GatherArgs{sim::GatherArgs{d_raw_ids, d_lut, d_table, d_out, d_hash_ids_out, p}, sim::Fp8Table{d_scales, f}});
    if (!a) return out_of_memory("engram_hashed_gather_fp8");
    const size_t out_row_bytes = bytes(head_dim, p.elem_bytes);
    const sim_range r[] = {
        {d_raw_ids, bytes(p.tokens, 8), 0},
        {d_lut, d_lut ? bytes(p.lut_size, 8) : 0, 0},
        {d_table, bytes(table_rows, head_dim), 0},
        {d_scales, bytes(table_rows, f.per_row), 0},
        {d_out, static_cast<size_t>(p.tokens) * p.heads * out_row_bytes, 1},
        {d_hash_ids_out, d_hash_ids_out ? bytes(p.tokens * p.heads, 8) : 0, 1},
    };
    const double cost = cost_ns(static_cast<size_t>(p.tokens) * p.heads * (head_dim + out_row_bytes));
    return launched("engram_hashed_gather_fp8",
                    sim_enqueue(stream, "engram_hashed_gather_fp8", sim::run_hashed_gather_fp8, a, r, 6, cost));
}

ENGRAM_API engram_status_t engram_hashed_gather_fp8_packed(
    const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
    const uint8_t* d_seq_starts, int32_t num_seqs, const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
    int64_t lut_size, int64_t pad_id_compressed, const int64_t* multipliers, int32_t max_ngram_size,
    const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram, const uint8_t* d_table,
    const uint8_t* d_scales, int64_t table_rows, int32_t head_dim, int32_t scale_block, int32_t out_dtype, void* d_out,
    int64_t* d_hash_ids_out, void* stream) {
    engram::PackedGatherParams p;
    engram::Fp8Scales f;
    engram_status_t st = engram::check_hashed_gather_fp8_packed_args(
        d_raw_ids, tokens, d_cu_seqlens, d_seq_slots, d_seq_starts, num_seqs, d_history, num_slots, d_lut, lut_size,
        pad_id_compressed, multipliers, max_ngram_size, moduli, row_offsets, heads_per_ngram, d_table, d_scales,
        table_rows, head_dim, scale_block, out_dtype, d_out, d_hash_ids_out, &p, &f);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.gather.tokens == 0) return engram::ok();

    sim::PackedFp8GatherArgs* a = copy_args(sim::PackedFp8GatherArgs{
        sim::PackedGatherArgs{d_raw_ids, descriptors(d_cu_seqlens, d_seq_slots, d_seq_starts),
                              p.num_slots > 0 ? d_history : nullptr, d_lut, d_table, d_out, d_hash_ids_out, p},
        sim::Fp8Table{d_scales, f}});
    if (!a) return out_of_memory("engram_hashed_gather_fp8_packed");
    const size_t out_row_bytes = bytes(head_dim, p.gather.elem_bytes);
    const int64_t heads = p.gather.heads, S = num_seqs;
    const sim_range r[] = {
        {d_raw_ids, bytes(tokens, 8), 0},
        {d_cu_seqlens, bytes(S + 1, 4), 0},
        {d_seq_slots, bytes(S, 4), 0},
        {d_seq_starts, bytes(S, 1), 0},
        {d_history, bytes(static_cast<int64_t>(p.num_slots) * (max_ngram_size - 1), 8), 0},
        {d_lut, d_lut ? bytes(p.gather.lut_size, 8) : 0, 0},
        {d_table, bytes(table_rows, head_dim), 0},
        {d_scales, bytes(table_rows, f.per_row), 0},
        {d_out, static_cast<size_t>(tokens) * heads * out_row_bytes, 1},
        {d_hash_ids_out, d_hash_ids_out ? bytes(tokens * heads, 8) : 0, 1},
    };
    const double cost = cost_ns(static_cast<size_t>(tokens) * heads * (head_dim + out_row_bytes));
    return launched("engram_hashed_gather_fp8_packed", sim_enqueue(stream, "engram_hashed_gather_fp8_packed",
                                                                   sim::run_hashed_gather_fp8_packed, a, r, 10, cost));
}

// ---- Dequantizing gathered fp8 rows (engram.h, ABI 6) ----
// The real wrapper's flow with its check (check_fp8_dequantize_args); codes, scales and out declared whole.

ENGRAM_API engram_status_t engram_fp8_dequantize_rows(const uint8_t* d_codes, const uint8_t* d_scales, int64_t rows,
                                                      int32_t head_dim, int32_t scale_block, int32_t out_dtype,
                                                      void* d_out, void* stream) {
    engram::Fp8DequantizeParams p;
    engram_status_t st =
        engram::check_fp8_dequantize_args(d_codes, d_scales, rows, head_dim, scale_block, out_dtype, d_out, &p);
    if (st != ENGRAM_STATUS_SUCCESS) return st;
    if (p.rows == 0) return engram::ok();

    sim::Fp8DequantizeArgs* a = copy_args(sim::Fp8DequantizeArgs{d_codes, d_scales, d_out, p});
    if (!a) return out_of_memory("engram_fp8_dequantize_rows");
    const size_t out_bytes = static_cast<size_t>(rows) * head_dim * p.elem_bytes;
    const sim_range r[] = {
        {d_codes, bytes(rows, head_dim), 0},
        {d_scales, bytes(rows, p.f.per_row), 0},
        {d_out, out_bytes, 1},
    };
    return launched("engram_fp8_dequantize_rows", sim_enqueue(stream, "engram_fp8_dequantize_rows",
                                                              sim::run_fp8_dequantize_rows, a, r, 3,
                                                              cost_ns(bytes(rows, head_dim) + out_bytes)));
}
