/*
 * engram.h: the C ABI of libengram, the one header the Java bindings are made from.
 *
 * Conventions (as in cuVS's C API):
 *  - every entry point returns an engram_status_t (int32_t); 0 is success;
 *  - on failure a thread-local text says what went wrong: engram_last_error();
 *  - fixed-width types only; f(void) for empty parameter lists (jextract reads f() as variadic);
 *  - nothing allocates behind the caller's back; GPU entry points take the cudaStream_t last;
 *  - a launch reports cudaGetLastError() after the launch, so a CUDA error that an earlier runtime
 *    call of the same thread left pending (and nobody cleared) is reported as this launch's failure.
 */
#ifndef ENGRAM_H
#define ENGRAM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change; the Java side compares it at load time. */
#define ENGRAM_ABI_VERSION 6

typedef int32_t engram_status_t;

#define ENGRAM_STATUS_SUCCESS 0
#define ENGRAM_STATUS_INVALID_ARGUMENT 1
#define ENGRAM_STATUS_CUDA_ERROR 2
#define ENGRAM_STATUS_NOT_BUILT_WITH_CUDA 3
#define ENGRAM_STATUS_INTERNAL_ERROR 4

/* Library version as "major.minor.patch"; a static string, never freed. */
const char* engram_version(void);

/* ENGRAM_ABI_VERSION as compiled into the library. */
int32_t engram_abi_version(void);

/* Short, static name of a status code, e.g. "ENGRAM_STATUS_INVALID_ARGUMENT". */
const char* engram_status_string(engram_status_t status);

/* Text of the last failure on the calling thread ("" if none); valid until the next call on it. */
const char* engram_last_error(void);

/*
 * The cudaError_t of the last failure on the calling thread when it was ENGRAM_STATUS_CUDA_ERROR
 * (e.g. 9, cudaErrorInvalidConfiguration, for a kernel launch), else 0; reset like engram_last_error().
 */
int32_t engram_last_cuda_error(void);

/* 1 when the library was compiled with CUDA (nvcc found at build time), else 0. */
int32_t engram_built_with_cuda(void);

/*
 * CUDA runtime version the library runs against (e.g. 13000), from cudaRuntimeGetVersion.
 * Needs no GPU. ENGRAM_STATUS_NOT_BUILT_WITH_CUDA without CUDA.
 */
engram_status_t engram_cuda_runtime_version(int32_t* out_version);

/*
 * Number of visible CUDA devices (cudaGetDeviceCount). On a machine without a GPU or driver this
 * returns ENGRAM_STATUS_CUDA_ERROR and engram_last_error() names the CUDA error.
 */
engram_status_t engram_cuda_device_count(int32_t* out_count);

/*
 * The Engram n-gram hash on the host, with the exact arithmetic the CUDA kernels use
 * (kernels/ngram_hash.cuh): for every (b, t), shifted tokens s_k = ids[b, t-k] (pad_id when t-k < 0),
 * for n = 2..max_ngram_size: mix_n = XOR_{k<n} (s_k * multipliers[k]) in int64 with wrap-around,
 * and for head j: out[b, t, (n-2)*heads_per_ngram + j] = floor_mod(mix_n, moduli[(n-2)*heads_per_ngram + j]).
 *
 *   compressed_ids  [batch * seq_len]             int64, already compressed (negative ids allowed)
 *   multipliers     [max_ngram_size]              int64
 *   moduli          [(max_ngram_size-1) * heads_per_ngram]  int64, each > 0
 *   out_hash_ids    [batch * seq_len * (max_ngram_size-1) * heads_per_ngram]  int64
 *
 * INVALID_ARGUMENT for null pointers, batch/seq_len < 0, max_ngram_size < 2, heads_per_ngram < 1
 * or a modulus <= 0; nothing is written then.
 */
engram_status_t engram_ngram_hash_host(const int64_t* compressed_ids, int64_t batch, int64_t seq_len,
                                       int64_t pad_id, const int64_t* multipliers, int32_t max_ngram_size,
                                       const int64_t* moduli, int32_t heads_per_ngram,
                                       int64_t* out_hash_ids);

/*
 * CPU gather of hashed rows from a host-memory table (the CPU path for tables in host memory):
 * for every token i < tokens and head h < heads,
 *   out[(i*heads + h)*row_bytes .. +row_bytes) = table[(row_offsets[h] + hash_ids[i*heads + h])*row_bytes ..]
 * i.e. the layer's e[tokens, heads * row elements] in the table's dtype, byte for byte.
 *
 *   table        [table_rows, row_bytes] host memory (plain, pinned or memory-mapped)
 *   hash_ids     [tokens * heads] int64, hash_ids[i*heads + h] in [0, moduli[h])
 *   moduli       [heads] int64, each > 0;  row_offsets [heads] int64, row_offsets[h] + moduli[h] <= table_rows
 *   out          [tokens * heads * row_bytes] host memory
 *   out_first_bad  receives the flat index of the first bad hash id, else -1; may be NULL
 *
 * Every id is checked before the first byte is copied: INVALID_ARGUMENT and nothing written for a
 * bad id, a null pointer (other than out_first_bad), negative sizes, row_bytes < 1, heads < 1, a
 * head whose rows leave the table, or sizes in bytes that overflow int64. Rows are prefetched
 * ahead of the copy (random rows are latency bound). Where out is 16-byte aligned and row_bytes a
 * multiple of 16 (x86-64), out is written with streaming stores, fenced before the return: it is
 * meant for a DMA to the GPU, not for this CPU's cache. Single-threaded and reentrant: callers
 * split tokens across their own threads, one call per range. Needs no CUDA.
 */
engram_status_t engram_host_gather_rows(const void* table, int64_t table_rows, int64_t row_bytes,
                                        const int64_t* hash_ids, int64_t tokens, int32_t heads,
                                        const int64_t* moduli, const int64_t* row_offsets, void* out,
                                        int64_t* out_first_bad);

/* Storage dtype of embedding tables and gathered rows. */
#define ENGRAM_DTYPE_FLOAT32 0
#define ENGRAM_DTYPE_BFLOAT16 1
/*
 * A TABLE storage dtype only (engram_hashed_gather_fp8*, SEMANTICS.md 9): 1-byte OCP FP8 E4M3 ("e4m3fn")
 * codes with E8M0 block scales. No other entry point takes it; they answer INVALID_ARGUMENT.
 */
#define ENGRAM_DTYPE_FP8_E4M3 2

/*
 * Fused hashed gather (kernels/hashed_gather.cu), one kernel launch on `stream`:
 * raw token ids -> compression table -> n-gram hash ids for all heads (exactly the arithmetic of
 * engram_ngram_hash_host, so hash ids are bit-identical to it) -> table rows -> out.
 * With H = (max_ngram_size-1) * heads_per_ngram heads, for every token i = b*seq_len + t and head h:
 *   out[i, h*head_dim .. (h+1)*head_dim) = d_table[row_offsets[h] + hash[i, h], 0 .. head_dim)
 *   d_hash_ids_out[i*H + h]              = hash[i, h]         (only when d_hash_ids_out != NULL)
 *
 *   d_raw_ids       [batch * seq_len] int64, device. With d_lut: ids >= 0 are mapped through
 *                   d_lut[0 .. lut_size), ids < 0 pass through unchanged (SEMANTICS.md 2.2).
 *                   d_lut == NULL: the ids are already compressed and used as they are.
 *   pad_id_compressed  the pad token at sequence starts, already mapped through the table.
 *   multipliers     [max_ngram_size] int64, HOST memory (copied into the launch parameters).
 *   moduli          [H] int64, HOST, each > 0.
 *   row_offsets     [H] int64, HOST; row_offsets[h] + moduli[h] <= table_rows is checked, so every
 *                   row the kernel can read lies in the table.
 *   d_table         [table_rows, head_dim] of dtype, device, row-major.
 *   d_out           [batch * seq_len, H * head_dim] of dtype, device.
 *   d_hash_ids_out  [batch * seq_len, H] int64, device, or NULL.
 *   stream          a cudaStream_t (void* here so this header needs no cuda_runtime.h); NULL is the
 *                   legacy default stream.
 *
 * Limits: 2 <= max_ngram_size <= 16, H <= 64, 1 <= head_dim <= 65536, dtype ENGRAM_DTYPE_*.
 * Rows are copied with 16-byte loads/stores when head_dim * element size is a multiple of 16 and
 * d_table and d_out are 16-byte aligned, else element by element (same result, slower).
 * Out-of-range ids (id >= lut_size with a d_lut) are not reported from the device: the caller
 * validates ids before the launch. The kernel stays memory-safe: every head whose n-gram window
 * holds such an id gets hash id -1 and a row of NaNs in d_out.
 *
 * All arguments are checked on the host before any CUDA call: INVALID_ARGUMENT (nothing launched)
 * for a NULL pointer other than d_lut / d_hash_ids_out, batch/seq_len/lut_size/table_rows < 0,
 * d_raw_ids/d_lut/d_hash_ids_out not 8-byte aligned or d_table/d_out not aligned to their element size,
 * limits exceeded, an unknown dtype, a modulus <= 0, or a head whose rows leave the table.
 * batch * seq_len == 0: success without a launch. A failed launch: CUDA_ERROR. Never allocates,
 * never synchronizes; kernel faults surface on the next synchronizing call.
 * NOT_BUILT_WITH_CUDA (after the same argument check) in a library built without CUDA.
 */
engram_status_t engram_hashed_gather(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                     const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                     const int64_t* multipliers, int32_t max_ngram_size,
                                     const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram,
                                     const void* d_table, int64_t table_rows, int32_t head_dim, int32_t dtype,
                                     void* d_out, int64_t* d_hash_ids_out, void* stream);

/*
 * Gate of the Engram forward (kernels/gate.cu, SEMANTICS.md 5), one kernel launch on `stream`.
 * G = hc_mult branches, H = hidden, N = tokens (= batch * seq_len). For each token i and branch g:
 *   k    = d_proj[i, g*H .. (g+1)*H) + d_key_bias[g*H ..]                    (key projection g)
 *   v    = d_proj[i, G*H .. (G+1)*H) + d_value_bias                          (value projection)
 *   nk   = RMSNorm(k, gate_eps) * d_key_norm_w[g*H ..]
 *   nq   = RMSNorm(d_hidden[i, g, :], gate_eps) * d_query_norm_w[g*H ..]
 *   dot  = sum(nk * nq) / sqrt(H);  s = sign(dot) * sqrt(max(|dot|, 1e-6));  gate = sigmoid(s)
 *   d_value_out[i, g, :] = gate * v;   d_gate_out[i*G + g] = gate   (only when d_gate_out != NULL)
 * RMSNorm(x, eps) = x / sqrt(mean(x^2) + eps), mean over the H elements of the row.
 *
 *   d_proj          [N, (G+1)*H] of dtype, row-major: per token the G key projections, then the value
 *                   projection, WITHOUT bias. It is one GEMM: e[N, E] times W^T, where
 *                   W = concat(Wk[0], .., Wk[G-1], Wv) is [(G+1)*H, E] (torch Linear weights stacked
 *                   along the output dimension), i.e. proj = e @ W^T. With cuBLAS (column-major) that is
 *                   C[(G+1)H, N] = W[E, (G+1)H]^T-as-stored * e: cublasGemmEx(OP_T, OP_N,
 *                   m=(G+1)H, n=N, k=E, A=W (lda=E), B=e (ldb=E), C=proj (ldc=(G+1)H)).
 *   d_key_bias      [G*H] of dtype (the G key biases, concatenated).
 *   d_value_bias    [H] of dtype.
 *   d_hidden        [N, G, H] of dtype.
 *   d_key_norm_w    [G*H] of dtype (norm1[g] weights), d_query_norm_w [G*H] of dtype (norm2[g]).
 *   gate_eps        RMSNorm eps of the key/query norms (torch's fp32 default 2^-23), finite, > 0.
 *   d_value_out     [N, G, H] of dtype; must not overlap d_proj (other blocks still read the value part
 *                   of d_proj while this one writes). Overlap is not checked here (the Java wrapper checks it).
 *   d_gate_out      [N, G] float32, or NULL.
 * Arithmetic is fp32 throughout (inputs widened from bf16, only the output is rounded to bf16), so
 * a bf16 run differs from torch's bf16 forward by torch's intermediate bf16 roundings.
 * One block of 128 threads per (token, branch); one pass over H accumulates sum(k^2), sum(q^2) and
 * sum(k*w1*q*w2) (dot = the last * both inverse RMS), a second pass writes the value.
 * 16-byte loads/stores when H * element size is a multiple of 16 and every tensor pointer is 16-byte
 * aligned, else element by element (same result).
 *
 * INVALID_ARGUMENT (nothing launched) for a NULL pointer other than d_gate_out, tokens < 0,
 * hc_mult outside [1, 64], hidden outside [1, 65536], an unknown dtype, gate_eps not finite or <= 0,
 * a tensor pointer not aligned to its element size (d_gate_out: 4 bytes), or a size in bytes that
 * overflows int64. tokens == 0: success without a launch. A failed launch: CUDA_ERROR. Never
 * allocates, never synchronizes. NOT_BUILT_WITH_CUDA (after the same check) without CUDA.
 */
engram_status_t engram_gate(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                            const void* d_hidden, const void* d_key_norm_w, const void* d_query_norm_w,
                            float gate_eps, int64_t tokens, int32_t hc_mult, int32_t hidden, int32_t dtype,
                            void* d_value_out, float* d_gate_out, void* stream);

/*
 * ShortConv of the Engram forward (kernels/short_conv.cu, SEMANTICS.md 5), one kernel launch on
 * `stream`. With channel c = g*H + h of C = G*H channels:
 *   xn[b, t, g, :]  = RMSNorm(d_value[b, t, g, :], eps) * d_norm_w[g*H ..]          (mean over H)
 *   y[b, t, c]      = sum_{k<K} d_conv_w[c, k] * xn[b, t - (K-1-k)*dilation, c]   (0 for t - .. < 0)
 *   d_out[b, t, c]  = d_value[b, t, c] + SiLU(y[b, t, c])
 * i.e. torch's depthwise Conv1d(C, C, K, groups=C, padding=(K-1)*dilation, dilation) with the first
 * T outputs kept: causal, zero before each sequence start, nothing crosses batch rows; T may be
 * shorter than the receptive field (K-1)*dilation + 1.
 *
 *   d_value   [batch, seq_len, G, H] of dtype.   d_norm_w [G*H] of dtype.
 *   d_conv_w  [G*H, K] of dtype (torch's weight [G*H, 1, K]).
 *   eps       RMSNorm eps (1e-5 in Engram), finite, > 0.
 *   d_out     [batch, seq_len, G, H] of dtype; must not be d_value (no in-place: the conv reads
 *             neighbouring time steps that other blocks overwrite). Partial overlap is not checked.
 * fp32 arithmetic, output rounded to dtype. One block of 128 threads per (b, g, tile of 32 time
 * steps): it first computes the inverse RMS of every row its tile reads into shared memory (the
 * window t0-(K-1)*dil .. t0+31 when dilation <= 32, else the K*32 tapped rows), then each thread
 * convolves 8 time steps of one 16-byte group of channels (one channel without the 16-byte path).
 * Nothing is precomputed in a separate pass, so nothing needs scratch memory.
 *
 * INVALID_ARGUMENT (nothing launched) for a NULL pointer, d_out == d_value, batch/seq_len < 0,
 * hc_mult outside [1, 64], hidden outside [1, 65536], kernel_size outside [1, 16], dilation < 1,
 * an unknown dtype, eps not finite or <= 0, a pointer not aligned to its element size, or sizes in
 * bytes that overflow int64. batch * seq_len == 0: success without a launch. A failed launch:
 * CUDA_ERROR. Never allocates, never synchronizes. NOT_BUILT_WITH_CUDA (after the same check)
 * without CUDA.
 */
engram_status_t engram_short_conv(const void* d_value, const void* d_norm_w, const void* d_conv_w, float eps,
                                  int64_t batch, int64_t seq_len, int32_t hc_mult, int32_t hidden,
                                  int32_t kernel_size, int32_t dilation, int32_t dtype, void* d_out,
                                  void* stream);

/*
 * engram_gate followed by engram_short_conv on its output, fused into one kernel launch on `stream`
 * (kernels/gate_short_conv.cu, SEMANTICS.md 5) that never stores the gated value u. With N = batch *
 * seq_len tokens (token i = b * seq_len + t), G = hc_mult, H = hidden, K = kernel_size:
 *   u[b, t, g, :]   = round_dtype(gate[i, g] * (v[i] + d_value_bias))     (gate, v as in engram_gate)
 *   d_out           = engram_short_conv(u, d_conv_norm_w, d_conv_w, conv_eps, ..)
 *   d_gate_out[i*G + g] = gate[i, g]                                      (only when d_gate_out != NULL)
 * round_dtype is the rounding to the storage dtype that engram_gate's d_value_out applies (identity for
 * FLOAT32, round-to-nearest-even for BFLOAT16), so the result is that of the two calls in sequence (the
 * gate sums are added in engram_gate's order, the conv's in engram_short_conv's): u
 * is rounded before the conv's RMSNorm, its taps and its residual read it. The arguments are those of
 * engram_gate (d_proj .. gate_eps, d_gate_out) and of engram_short_conv (d_conv_norm_w = its d_norm_w,
 * d_conv_w, conv_eps = its eps, batch, seq_len, kernel_size, dilation), with the same layouts.
 *   d_out  [batch, seq_len, G, H] of dtype; must not be d_proj or d_hidden (other blocks still read
 *          neighbouring time steps). Partial overlap is not checked (the Java wrapper checks it).
 * fp32 arithmetic. One block of 128 threads per (b, g, tile of 32 time steps), the tiling of
 * engram_short_conv: it first computes, one warp per row, the gate and the inverse RMS of u of every
 * row its tile reads (the window t0-(K-1)*dil .. t0+31 when dilation <= 32, else the K*32 tapped rows)
 * into shared memory, then each thread convolves 8 time steps of one 16-byte group of channels,
 * recomputing u of the tapped rows from the value projection (in L2) and the row's gate. The gate of a
 * row is recomputed by every tile that reads it (up to 1 + (K-1)*dil/32 times with dilation <= 32).
 * 16-byte loads/stores when H * element size is a multiple of 16 and every tensor pointer except
 * d_conv_w and d_gate_out is 16-byte aligned, else element by element (same result).
 *
 * INVALID_ARGUMENT (nothing launched) for a NULL pointer other than d_gate_out, d_out == d_proj or
 * d_hidden, batch/seq_len < 0, hc_mult outside [1, 64], hidden outside [1, 65536], kernel_size
 * outside [1, 16], dilation < 1, an unknown dtype, gate_eps or conv_eps not finite or <= 0, a tensor
 * pointer not aligned to its element size (d_gate_out: 4 bytes), or sizes in bytes that overflow
 * int64. batch * seq_len == 0: success without a launch. A failed launch: CUDA_ERROR. Never
 * allocates, never synchronizes. NOT_BUILT_WITH_CUDA (after the same check) without CUDA.
 */
engram_status_t engram_gate_short_conv(const void* d_proj, const void* d_key_bias, const void* d_value_bias,
                                       const void* d_hidden, const void* d_key_norm_w, const void* d_query_norm_w,
                                       float gate_eps, const void* d_conv_norm_w, const void* d_conv_w,
                                       float conv_eps, int64_t batch, int64_t seq_len, int32_t hc_mult,
                                       int32_t hidden, int32_t kernel_size, int32_t dilation, int32_t dtype,
                                       void* d_out, float* d_gate_out, void* stream);

/*
 * ---- Packed batches with carried state (SEMANTICS.md 8), ABI 4 ----
 *
 * A packed batch holds the tokens of num_seqs sequences back to back, described in DEVICE memory by:
 *   d_cu_seqlens  [num_seqs + 1] int32: cu[0] = 0, nondecreasing, cu[num_seqs] = tokens; sequence s owns
 *                 the tokens [cu[s], cu[s+1]) and token i = cu[s] + t is its position t of this chunk;
 *   d_seq_slots   [num_seqs] int32: the state slot of sequence s, in [0, num_slots), distinct in a call;
 *   d_seq_starts  [num_seqs] uint8: 1 where sequence s starts in this call (history = pad, conv window =
 *                 zeros, whatever the slot holds), 0 where it continues the sequence its slot holds.
 * The descriptors are NOT validated on the device (the caller validates them on the host before the
 * upload; the Java API does). The kernels stay memory-safe for any values: a token is given the
 * sequence s with cu[s] <= i < cu[s+1] found by binary search (the last such s when cu repeats); a
 * slot outside [0, num_slots) reads no state (as a start) and is not committed.
 *
 * State, in device memory owned by the caller, one row per slot:
 *   d_history     [num_slots, max_ngram_size - 1] int64: the last max_ngram_size - 1 COMPRESSED ids of the
 *                 slot's sequence so far, oldest first (entry max_ngram_size - 2 is the latest token), the
 *                 compressed pad id where the sequence is shorter.
 *   d_conv_state  [num_slots, W, hc_mult * hidden] of dtype, W = (kernel_size - 1) * dilation: the conv's
 *                 last W INPUT ROWS BEFORE its RMSNorm, i.e. the gated values u of engram_gate's
 *                 d_value_out, oldest first, zeros where the sequence is shorter. (SEMANTICS.md 8 states
 *                 the window as norm(u); keeping u itself lets the conv recompute the norm of a past row
 *                 exactly as a whole-sequence run does, so chunked and whole runs agree bit for bit on
 *                 the same u. norm(u) is a function of u, so it is the same state.)
 * A call only READS the state (the gather its history, the conv its window); engram_state_commit,
 * queued after the conv, writes the new state of every sequence of the call. Running a sequence in
 * consecutive chunks this way gives the same hash ids, gathered rows and conv outputs as one call
 * on the whole sequence.
 */

/*
 * engram_hashed_gather on a packed batch: as engram_hashed_gather with batch = 1, seq_len = tokens,
 * except that token i = cu[s] + t of sequence s shifts within its sequence only: s_k = the raw id
 * of token i - k mapped through d_lut when t - k >= 0; else, when the sequence continues its slot,
 * d_history[slot, (max_ngram_size - 1) + (t - k)] (already compressed, not mapped again); else
 * pad_id_compressed. Reads the history, never writes it.
 *   d_history  NULL is allowed when every sequence starts (nothing is read then); else
 *              [num_slots, max_ngram_size - 1] int64, 8-byte aligned.
 * Arguments as in engram_hashed_gather, plus tokens >= 0, num_seqs >= 0, num_slots >= 0,
 * d_cu_seqlens/d_seq_slots (4-byte aligned)/d_seq_starts non-NULL when num_seqs > 0 (d_cu_seqlens
 * always). INVALID_ARGUMENT (nothing launched) as there. tokens == 0: success without a launch.
 */
engram_status_t engram_hashed_gather_packed(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                            const int32_t* d_seq_slots, const uint8_t* d_seq_starts,
                                            int32_t num_seqs, const int64_t* d_history, int32_t num_slots,
                                            const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                            const int64_t* multipliers, int32_t max_ngram_size,
                                            const int64_t* moduli, const int64_t* row_offsets,
                                            int32_t heads_per_ngram, const void* d_table, int64_t table_rows,
                                            int32_t head_dim, int32_t dtype, void* d_out, int64_t* d_hash_ids_out,
                                            void* stream);

/*
 * engram_short_conv on a packed batch: as engram_short_conv with the time axis of each sequence,
 * x[t] for t < 0 being, when the sequence continues its slot, row W + t of d_conv_state[slot] (its
 * inverse RMS computed exactly as for a row of the chunk), else zero. d_value/d_out are [tokens, G, H].
 * Reads the window, never writes it.
 *   d_conv_state  [num_slots, W, G * H] of dtype, aligned like d_value; NULL allowed when W == 0 or
 *                 every sequence starts.
 * INVALID_ARGUMENT (nothing launched) for the reasons of engram_short_conv and bad packed arguments
 * (as in engram_hashed_gather_packed). tokens == 0: success without a launch.
 */
engram_status_t engram_short_conv_packed(const void* d_value, const void* d_norm_w, const void* d_conv_w, float eps,
                                         int64_t tokens, const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
                                         const uint8_t* d_seq_starts, int32_t num_seqs, const void* d_conv_state,
                                         int32_t num_slots, int32_t hc_mult, int32_t hidden, int32_t kernel_size,
                                         int32_t dilation, int32_t dtype, void* d_out, void* stream);

/*
 * Writes the state after a packed call, one launch on `stream`, queued after the kernels that read
 * the state (engram_hashed_gather_packed, engram_short_conv_packed): for every sequence s of length
 * len = cu[s+1] - cu[s] whose slot is in range,
 *   history (when d_history != NULL): entry j < M = max_ngram_size - 1 becomes the compressed id at
 *     position p = len - M + j of the sequence: d_lut(raw id of token cu[s] + p) when p >= 0 (ids < 0
 *     pass through; ids >= lut_size give pad_id_compressed: the caller validates ids beforehand), else
 *     (continuing) the old entry M + p, else (starting) pad_id_compressed;
 *   window (when d_conv_state != NULL, W = (kernel_size - 1) * dilation > 0): row j < W becomes
 *     d_value[cu[s] + len - W + j] when len - W + j >= 0, else (continuing) the old row W + (len - W + j)
 *     = j + len, else (starting) zeros.
 * Every old value a slot's new state needs is read before it is overwritten (chunks shorter than the
 * history or window are fine). len == 0 leaves a continuing slot unchanged and resets a starting one.
 *   d_raw_ids  [tokens] int64 (the call's raw ids; NULL allowed when d_history == NULL)
 *   d_value    [tokens, G, H] of dtype: the gated values the conv read (NULL allowed when d_conv_state == NULL)
 * INVALID_ARGUMENT (nothing launched) for both state pointers NULL, max_ngram_size outside [2, 16]
 * when d_history != NULL, the limits of engram_short_conv when d_conv_state != NULL, bad packed
 * arguments, misalignment. num_seqs == 0: success without a launch.
 */
engram_status_t engram_state_commit(const int64_t* d_raw_ids, int64_t tokens, const int32_t* d_cu_seqlens,
                                    const int32_t* d_seq_slots, const uint8_t* d_seq_starts, int32_t num_seqs,
                                    int32_t num_slots, const int64_t* d_lut, int64_t lut_size,
                                    int64_t pad_id_compressed, int32_t max_ngram_size, int64_t* d_history,
                                    const void* d_value, int32_t hc_mult, int32_t hidden, int32_t kernel_size,
                                    int32_t dilation, int32_t dtype, void* d_conv_state, void* stream);

/*
 * ---- fp8 tables with block scales (SEMANTICS.md 9), ABI 5 ----
 *
 * The table holds OCP FP8 E4M3 codes q (1 sign, 4 exponent bits of bias 7, 3 mantissa bits; exponent 0
 * is subnormal, m/8 * 2^-6; no infinities; S.1111.111 is NaN; largest finite 448), row-major
 * [table_rows, head_dim], and one E8M0 scale byte b per block of scale_block consecutive values of a row:
 *   d_scales  [table_rows, head_dim / scale_block] uint8, b meaning 2^(b - 127) (b = 255 is NaN).
 * The gather writes the dequantized rows
 *   x = e4m3(q) * 2^(b - 127), computed in float32, where it is exact (a float32 subnormal result too;
 *       beyond float32's range it is +-inf, as rounding the exact value to float32 gives),
 * stored as float32 for out_dtype ENGRAM_DTYPE_FLOAT32, or rounded to nearest even to bfloat16 for
 * ENGRAM_DTYPE_BFLOAT16: bit for bit the reference dequantization. A NaN code or a NaN scale gives the
 * canonical quiet NaN, 0x7fc00000 (float32) or 0x7fc0 (bfloat16), as the rows of out-of-table ids do.
 * Scale bytes are NOT checked on the device (the caller validates tables when it builds them); 255
 * reads stay in bounds and give NaN. The kernels must be compiled without flush-to-zero (no -ftz=true,
 * no --use_fast_math): subnormal codes and results are exact only then.
 * 16-byte loads (16 codes) when head_dim and scale_block are multiples of 16 and d_table and d_out are
 * 16-byte aligned, else code by code (same result, slower).
 */

/*
 * engram_hashed_gather from an fp8 table: the same hash ids, the same rows (dequantized as above), the
 * same NaN rows and hash id -1 for out-of-table ids. Arguments as in engram_hashed_gather, except:
 *   d_table      [table_rows, head_dim] E4M3 codes (any alignment).
 *   d_scales     [table_rows, head_dim / scale_block] E8M0 bytes (any alignment).
 *   scale_block  values per scale, >= 1, dividing head_dim (head_dim: one scale per row).
 *   out_dtype    ENGRAM_DTYPE_FLOAT32 or ENGRAM_DTYPE_BFLOAT16, the dtype of d_out (aligned to it).
 * INVALID_ARGUMENT (nothing launched) as there, and for a NULL d_scales, scale_block < 1 or not dividing
 * head_dim, or an out_dtype that is not FLOAT32 / BFLOAT16. batch * seq_len == 0: success without a launch.
 */
engram_status_t engram_hashed_gather_fp8(const int64_t* d_raw_ids, int64_t batch, int64_t seq_len,
                                         const int64_t* d_lut, int64_t lut_size, int64_t pad_id_compressed,
                                         const int64_t* multipliers, int32_t max_ngram_size,
                                         const int64_t* moduli, const int64_t* row_offsets, int32_t heads_per_ngram,
                                         const uint8_t* d_table, const uint8_t* d_scales, int64_t table_rows,
                                         int32_t head_dim, int32_t scale_block, int32_t out_dtype, void* d_out,
                                         int64_t* d_hash_ids_out, void* stream);

/*
 * engram_hashed_gather_packed from an fp8 table: the packed batch and history of
 * engram_hashed_gather_packed, the table, scales and out_dtype of engram_hashed_gather_fp8.
 * INVALID_ARGUMENT (nothing launched) for the reasons of both. tokens == 0: success without a launch.
 */
engram_status_t engram_hashed_gather_fp8_packed(const int64_t* d_raw_ids, int64_t tokens,
                                                const int32_t* d_cu_seqlens, const int32_t* d_seq_slots,
                                                const uint8_t* d_seq_starts, int32_t num_seqs,
                                                const int64_t* d_history, int32_t num_slots, const int64_t* d_lut,
                                                int64_t lut_size, int64_t pad_id_compressed,
                                                const int64_t* multipliers, int32_t max_ngram_size,
                                                const int64_t* moduli, const int64_t* row_offsets,
                                                int32_t heads_per_ngram, const uint8_t* d_table,
                                                const uint8_t* d_scales, int64_t table_rows, int32_t head_dim,
                                                int32_t scale_block, int32_t out_dtype, void* d_out,
                                                int64_t* d_hash_ids_out, void* stream);

/*
 * ---- Dequantizing gathered fp8 rows (host tables), ABI 6 ----
 *
 * The fp8 host-table path gathers the code rows and scale rows of its hash ids on the CPU, copies those bytes
 * to the device and dequantizes them there. One launch on `stream`, for every row r < rows and column c:
 *   d_out[r, c] = e4m3(d_codes[r, c]) * 2^(d_scales[r, c / scale_block] - 127)
 * dequantized exactly as engram_hashed_gather_fp8 does ("fp8 tables" above: float32, or bf16 rounded to nearest
 * even; NaN codes and scale byte 255 give the canonical NaN; no flush-to-zero), so a row dequantized here has the
 * bits of the same table row gathered by engram_hashed_gather_fp8.
 *   d_codes      [rows, head_dim] E4M3 codes, row-major, device memory (any alignment).
 *   d_scales     [rows, head_dim / scale_block] E8M0 bytes, row-major, device memory (any alignment).
 *   rows         >= 0; rows == 0: success without a launch.
 *   head_dim     1 .. 65536.  scale_block: >= 1, dividing head_dim.
 *   out_dtype    ENGRAM_DTYPE_FLOAT32 or ENGRAM_DTYPE_BFLOAT16; d_out [rows, head_dim] of it, aligned to it.
 * 16-byte loads (16 codes) when head_dim and scale_block are multiples of 16 and d_codes and d_out are 16-byte
 * aligned, else code by code (same result). INVALID_ARGUMENT (nothing launched) for a NULL pointer, rows < 0, a
 * head_dim out of range, a scale_block < 1 or not dividing head_dim, another out_dtype, a misaligned d_out, or
 * sizes in bytes that overflow int64.
 */
engram_status_t engram_fp8_dequantize_rows(const uint8_t* d_codes, const uint8_t* d_scales, int64_t rows,
                                           int32_t head_dim, int32_t scale_block, int32_t out_dtype, void* d_out,
                                           void* stream);

#ifdef __cplusplus
}
#endif

#endif /* ENGRAM_H */
