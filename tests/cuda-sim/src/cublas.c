/* The simulator's libcublas.so.13: the cuBLAS 13 entry points the Java bindings (cublas_h) call.
 * SIMULATED ON THE CPU, NOT cuBLAS: cublasGemmEx checks its arguments as cuBLAS documents, then
 * queues gemm.c's fp32 CPU product on the handle's stream. Supported: CUBLAS_COMPUTE_32F(_PEDANTIC)
 * with A/B/C fp32, or A/B bf16 and C bf16 or fp32; host pointer mode; anything else answers
 * CUBLAS_STATUS_NOT_SUPPORTED with a "SIM:" line on stderr (real cuBLAS may support it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gemm.h"
#include "sim.h"

#define SIM_EXPORT __attribute__((visibility("default")))
#define HANDLE_MAGIC 0x43424c53u

enum {
    ST_SUCCESS = 0,
    ST_NOT_INITIALIZED = 1,
    ST_ALLOC_FAILED = 3,
    ST_INVALID_VALUE = 7,
    ST_ARCH_MISMATCH = 8,
    ST_MAPPING_ERROR = 11,
    ST_EXECUTION_FAILED = 13,
    ST_INTERNAL_ERROR = 14,
    ST_NOT_SUPPORTED = 15,
    ST_LICENSE_ERROR = 16
};
enum { R_32F = 0, R_16BF = 14, COMPUTE_32F = 68, COMPUTE_32F_PEDANTIC = 69 };

typedef struct Handle {
    uint32_t magic;
    int destroyed;
    int device; /* current at cublasCreate: "the cuBLAS library context is tied to the current CUDA device" */
    void* stream;
    int math_mode;
    void* workspace;        /* cublasSetWorkspace_v2's buffer (NULL: cuBLAS's own pool, or none) */
    size_t workspace_bytes;
} Handle;

/* cudart entry points of the simulated runtime this library is linked against. */
extern int cudaDeviceSynchronize(void);
extern int cudaGetDevice(int* device);
extern int cudaSetDevice(int device);

static long live_handles; /* created and not destroyed; printed at exit (a leak check) */

static void summary(void) {
    fprintf(stderr, "SIM CUBLAS SUMMARY: %ld cuBLAS handles left at exit\n", live_handles);
}

__attribute__((constructor)) static void init(void) { atexit(summary); }

static Handle* handle_of(void* h, const char* call) {
    Handle* x = h;
    if (!x) return NULL;
    if (x->magic != HANDLE_MAGIC) {
        fprintf(stderr, "SIM FAULT: %s: %p is not a cuBLAS handle this library created\n", call, h);
        abort();
    }
    if (x->destroyed) {
        sim_fault("%s on a destroyed cuBLAS handle", call);
        return NULL;
    }
    return x;
}

SIM_EXPORT int cublasCreate_v2(void** out) {
    if (!out) return ST_INVALID_VALUE;
    Handle* h = calloc(1, sizeof *h);
    if (!h) return ST_ALLOC_FAILED;
    h->magic = HANDLE_MAGIC;
    if (cudaGetDevice(&h->device) != 0) {
        free(h);
        return ST_NOT_INITIALIZED;
    }
    *out = h;
    __atomic_add_fetch(&live_handles, 1, __ATOMIC_RELAXED);
    return ST_SUCCESS;
}

SIM_EXPORT int cublasDestroy_v2(void* handle) {
    Handle* h = handle_of(handle, "cublasDestroy_v2");
    if (!h) return ST_NOT_INITIALIZED;
    /* cuBLAS documents that destroying a handle synchronizes the device: the handle's. */
    int caller = 0;
    cudaGetDevice(&caller);
    cudaSetDevice(h->device);
    cudaDeviceSynchronize();
    cudaSetDevice(caller);
    h->destroyed = 1;        /* kept, so a later use is reported instead of crashing */
    __atomic_sub_fetch(&live_handles, 1, __ATOMIC_RELAXED);
    return ST_SUCCESS;
}

SIM_EXPORT int cublasGetVersion_v2(void* handle, int* version) {
    if (!handle_of(handle, "cublasGetVersion_v2")) return ST_NOT_INITIALIZED;
    if (!version) return ST_INVALID_VALUE;
    *version = 130000;
    return ST_SUCCESS;
}

SIM_EXPORT int cublasSetStream_v2(void* handle, void* stream) {
    Handle* h = handle_of(handle, "cublasSetStream_v2");
    if (!h) return ST_NOT_INITIALIZED;
    h->stream = stream;
    /* cuBLAS: "this function unconditionally resets the cuBLAS library workspace back to the default
     * workspace pool", so a workspace is set after the stream. */
    h->workspace = NULL;
    h->workspace_bytes = 0;
    return ST_SUCCESS;
}

SIM_EXPORT int cublasGetStream_v2(void* handle, void** stream) {
    Handle* h = handle_of(handle, "cublasGetStream_v2");
    if (!h) return ST_NOT_INITIALIZED;
    if (!stream) return ST_INVALID_VALUE;
    *stream = h->stream;
    return ST_SUCCESS;
}

SIM_EXPORT int cublasSetMathMode(void* handle, int mode) {
    Handle* h = handle_of(handle, "cublasSetMathMode");
    if (!h) return ST_NOT_INITIALIZED;
    h->math_mode = mode;
    return ST_SUCCESS;
}

SIM_EXPORT int cublasGetMathMode(void* handle, int* mode) {
    Handle* h = handle_of(handle, "cublasGetMathMode");
    if (!h) return ST_NOT_INITIALIZED;
    if (!mode) return ST_INVALID_VALUE;
    *mode = h->math_mode;
    return ST_SUCCESS;
}

/* The caller's workspace for the handle's later calls (on its current stream): cuBLAS requires 256-byte
 * alignment (else CUBLAS_STATUS_INVALID_VALUE); NULL with size 0 drops a workspace set before. A buffer
 * size without a buffer is refused too (the simulator's strictness). The workspace is declared written by
 * every GEMM of the handle (cuBLAS may use it), so two handles sharing one on unordered streams race. */
SIM_EXPORT int cublasSetWorkspace_v2(void* handle, void* workspace, size_t bytes) {
    Handle* h = handle_of(handle, "cublasSetWorkspace_v2");
    if (!h) return ST_NOT_INITIALIZED;
    if ((uintptr_t)workspace % 256 != 0) return ST_INVALID_VALUE;
    if (!workspace && bytes != 0) return ST_INVALID_VALUE;
    h->workspace = workspace;
    h->workspace_bytes = workspace ? bytes : 0;
    return ST_SUCCESS;
}

SIM_EXPORT const char* cublasGetStatusName(int status) {
    switch (status) {
        case ST_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case ST_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case ST_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case ST_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case ST_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case ST_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case ST_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case ST_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case ST_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case ST_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

SIM_EXPORT const char* cublasGetStatusString(int status) {
    switch (status) {
        case ST_SUCCESS: return "success";
        case ST_NOT_INITIALIZED: return "the library was not initialized";
        case ST_ALLOC_FAILED: return "the resource allocation failed";
        case ST_INVALID_VALUE: return "an invalid numeric value was used as an argument";
        case ST_ARCH_MISMATCH: return "an absent device architectural feature is required";
        case ST_MAPPING_ERROR: return "an access to GPU memory space failed";
        case ST_EXECUTION_FAILED: return "the GPU program failed to execute";
        case ST_INTERNAL_ERROR: return "an internal operation failed";
        case ST_NOT_SUPPORTED: return "the functionality requested is not supported";
        case ST_LICENSE_ERROR: return "error detected trying to check the license";
        default: return "unknown error";
    }
}

static int max1(int x) { return x > 1 ? x : 1; }

/* Bytes a column-major rows x cols operand with leading dimension ld spans (0 when empty). */
static size_t span(int rows, int cols, int ld, int elem) {
    if (rows == 0 || cols == 0) return 0;
    return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * (size_t)elem;
}

SIM_EXPORT int cublasGemmEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha,
                            const void* A, int Atype, int lda, const void* B, int Btype, int ldb, const void* beta,
                            void* C, int Ctype, int ldc, int computeType, int algo) {
    Handle* h = handle_of(handle, "cublasGemmEx");
    if (!h) return ST_NOT_INITIALIZED;
    int current = 0;
    cudaGetDevice(&current);
    if (current != h->device) { /* a handle belongs to its device; cuBLAS says: one handle per device */
        sim_fault("cublasGemmEx with a handle of device %d while device %d is current", h->device, current);
        return ST_EXECUTION_FAILED;
    }
    if (transa < 0 || transa > 2 || transb < 0 || transb > 2) return ST_INVALID_VALUE; /* N, T, C */
    if (m < 0 || n < 0 || k < 0) return ST_INVALID_VALUE;
    if (lda < max1(transa == 0 ? m : k) || ldb < max1(transb == 0 ? k : n) || ldc < max1(m)) return ST_INVALID_VALUE;
    if (!alpha || !beta) return ST_INVALID_VALUE;
    if (!((algo >= -1 && algo <= 23) || (algo >= 99 && algo <= 115))) return ST_INVALID_VALUE;
    if (computeType != COMPUTE_32F && computeType != COMPUTE_32F_PEDANTIC) {
        fprintf(stderr, "SIM: cublasGemmEx compute type %d is not simulated (CUBLAS_COMPUTE_32F only)\n", computeType);
        return ST_NOT_SUPPORTED;
    }
    int f32 = Atype == R_32F && Btype == R_32F && Ctype == R_32F;
    int bf16 = Atype == R_16BF && Btype == R_16BF && (Ctype == R_16BF || Ctype == R_32F);
    if (!f32 && !bf16) {
        fprintf(stderr, "SIM: cublasGemmEx types A %d, B %d, C %d are not simulated\n", Atype, Btype, Ctype);
        return ST_NOT_SUPPORTED;
    }
    if (m == 0 || n == 0) return ST_SUCCESS;

    GemmArg* g = malloc(sizeof *g);
    if (!g) return ST_ALLOC_FAILED;
    *g = (GemmArg){transa != 0, transb != 0, m, n, k, lda, ldb, ldc, bf16, Ctype == R_16BF,
                   *(const float*)alpha, *(const float*)beta, A, B, C};
    int ab = bf16 ? 2 : 4, cb = Ctype == R_16BF ? 2 : 4;
    sim_range r[4] = {
        {A, span(transa == 0 ? m : k, transa == 0 ? k : m, lda, ab), 0},
        {B, span(transb == 0 ? k : n, transb == 0 ? n : k, ldb, ab), 0},
        {C, span(m, n, ldc, cb), 1}, /* also read when beta != 0: a write covers both for races */
        {h->workspace, h->workspace_bytes, 1},
    };
    double cost_ns = 2000.0 + 2.0 * m * (double)n * k / 20000.0; /* nominal 20 TFLOP/s, not measured */
    int err = sim_enqueue(h->stream, "cublasGemmEx", sim_gemm_run, g, r, 4, cost_ns);
    return err == 0 ? ST_SUCCESS : ST_EXECUTION_FAILED;
}
