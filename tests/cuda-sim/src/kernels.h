// CPU re-implementations of libengram's kernels (kernels/*.cu), run by the simulated launches in
// engram_entry.cpp. NOT the kernels themselves (kernels/emu runs those): the same fp32 operations in
// the same order per output (fmaf where the kernels call fmaf, the gate's 128-thread partial sums and
// warp butterflies, the conv's 32-lane row sums, rounding to the storage dtype where the kernels store),
// so results are self-consistent (the fused kernel's bits equal gate then conv when both take the
// same vector width) but not bit-identical to a GPU: expf/sqrtf differ and nvcc may contract a*b+c.
#pragma once

#include <cstdint>

#include "gate_conv.h"
#include "hashed_gather.h"
#include "fp8_dequantize.h"
#include "hashed_gather_fp8.h"
#include "packed.h"

namespace sim {

struct GatherArgs {
    const int64_t* raw_ids;
    const int64_t* lut;
    const void* table;
    void* out;
    int64_t* hash_ids;
    engram::HashedGatherParams p;
};

struct GateArgs {
    const void *proj, *key_bias, *value_bias, *hidden, *key_w, *query_w;
    void* value_out;
    float* gate_out;
    int vec;  // elements per unit: 4 (fp32) or 8 (bf16) on the kernels' 16-byte path, else 1
    engram::GateParams p;
};

struct ConvArgs {
    const void *value, *norm_w, *conv_w;
    void* out;
    int vec;
    engram::ShortConvParams p;
};

struct GateConvArgs {
    const void *proj, *key_bias, *value_bias, *hidden, *key_w, *query_w, *conv_norm_w, *conv_w;
    void* out;
    float* gate_out;
    int vec;
    engram::GateShortConvParams p;
};

// The device descriptors of a packed call (engram.h, "Packed batches"), read by the bodies, never trusted.
struct PackedDescriptors {
    const int32_t* cu_seqlens;  // [num_seqs + 1]
    const int32_t* seq_slots;   // [num_seqs]
    const uint8_t* seq_starts;  // [num_seqs]
};

struct PackedGatherArgs {
    const int64_t* raw_ids;
    PackedDescriptors d;
    const int64_t* history;  // NULL: p.num_slots == 0
    const int64_t* lut;
    const void* table;
    void* out;
    int64_t* hash_ids;
    engram::PackedGatherParams p;
};

struct PackedConvArgs {
    const void *value, *norm_w, *conv_w;
    PackedDescriptors d;
    const void* state;  // NULL: p.num_slots == 0
    void* out;
    int vec;
    engram::PackedShortConvParams p;
};

// The scales of an fp8 table (engram.h, "fp8 tables"); the E4M3 codes are the gather args' `table`.
struct Fp8Table {
    const uint8_t* scales;  // [table_rows, f.per_row]
    engram::Fp8Scales f;
};

struct Fp8GatherArgs {
    GatherArgs g;  // g.p describes the output rows (dtype, elem_bytes)
    Fp8Table fp8;
};

struct PackedFp8GatherArgs {
    PackedGatherArgs g;
    Fp8Table fp8;
};

// engram_fp8_dequantize_rows (ABI 6): rows of E4M3 codes and their E8M0 scales, contiguous.
struct Fp8DequantizeArgs {
    const uint8_t* codes;   // [p.rows, p.head_dim]
    const uint8_t* scales;  // [p.rows, p.f.per_row]
    void* out;              // [p.rows, p.head_dim] of p.dtype
    engram::Fp8DequantizeParams p;
};

struct StateCommitArgs {
    const int64_t* raw_ids;
    PackedDescriptors d;
    const int64_t* lut;
    int64_t* history;  // written when p.history > 0
    const void* value;
    void* state;       // written when p.window > 0
    engram::StateCommitParams p;
};

// sim_fn bodies: arg points to the struct above.
void run_hashed_gather(void* arg);
void run_gate(void* arg);
void run_short_conv(void* arg);
void run_gate_short_conv(void* arg);
void run_hashed_gather_packed(void* arg);
void run_short_conv_packed(void* arg);
void run_state_commit(void* arg);
void run_hashed_gather_fp8(void* arg);
void run_hashed_gather_fp8_packed(void* arg);
void run_fp8_dequantize_rows(void* arg);

}  // namespace sim
