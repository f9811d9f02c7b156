/* The simulated cublasGemmEx's CPU body (gemm.c), used by cublas.c. */
#ifndef SIM_GEMM_H
#define SIM_GEMM_H

#include <stdint.h>

typedef struct GemmArg {
    int ta, tb;          /* 0: op N, 1: op T (column-major, as cuBLAS) */
    int m, n, k;
    int lda, ldb, ldc;
    int ab_bf16, c_bf16; /* storage: bf16 (CUDA_R_16BF) or fp32 (CUDA_R_32F) */
    float alpha, beta;
    const void* A;
    const void* B;
    void* C;
} GemmArg;

/* C = alpha * op(A) op(B) + beta * C, products and sums in fp32 (CUBLAS_COMPUTE_32F), each output a
 * dot product summed in 8 interleaved fp32 partial sums, then rounded to C's type (round to nearest
 * even for bf16). With beta == 0, C is not read. Rows of C beyond m (padding up to ldc) are untouched. */
void sim_gemm_run(void* arg);

#endif
