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

#ifdef __cplusplus
}
#endif

#endif /* ENGRAM_H */
