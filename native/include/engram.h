/*
 * engram.h: the C ABI of libengram, the one header the Java bindings are made from.
 *
 * Conventions (as in cuVS's C API):
 *  - every entry point returns an engram_status_t (int32_t); 0 is success;
 *  - on failure a thread-local text says what went wrong: engram_last_error();
 *  - fixed-width types only; f(void) for empty parameter lists (jextract reads f() as variadic);
 *  - nothing allocates behind the caller's back; GPU entry points take the cudaStream_t last.
 */
#ifndef ENGRAM_H
#define ENGRAM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change; the Java side compares it at load time. */
#define ENGRAM_ABI_VERSION 1

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

/* Storage dtype of embedding tables and gathered rows. */
#define ENGRAM_DTYPE_FLOAT32 0
#define ENGRAM_DTYPE_BFLOAT16 1

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
 * d_raw_ids/d_lut not 8-byte aligned or d_table/d_out not aligned to their element size,
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

#ifdef __cplusplus
}
#endif

#endif /* ENGRAM_H */
