/* CPU body of the simulated cublasGemmEx: packs op(A) and op(B) into contiguous fp32 rows, then
 * computes 2 x 4 blocks of dot products with 8 interleaved fp32 partial sums (vectorizable without
 * reassociation), columns of C split over sim_parallel_for. Not cuBLAS's algorithm: its fp32 sums
 * are grouped differently, so results agree with a GPU to fp32 rounding, not bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "sim.h"

#define LANES 8

static float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t f32_to_bf16(float f) { /* round to nearest even, NaN stays NaN (as __float2bfloat16_rn) */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu)) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float load(const void* p, int bf16, int64_t i) {
    return bf16 ? bf16_to_f32(((const uint16_t*)p)[i]) : ((const float*)p)[i];
}

typedef struct Job {
    const GemmArg* g;
    const float* ap; /* [m][kp]: row i of op(A) */
    const float* bp; /* [n][kp]: column j of op(B) */
    int64_t kp;      /* k rounded up to LANES, zero padded */
} Job;

static float finish(const float acc[LANES]) {
    float s0 = (acc[0] + acc[4]) + (acc[2] + acc[6]);
    float s1 = (acc[1] + acc[5]) + (acc[3] + acc[7]);
    return s0 + s1;
}

static void store(const GemmArg* g, int64_t i, int64_t j, float dot) {
    int64_t ci = i + j * (int64_t)g->ldc;
    float v = g->alpha * dot;
    if (g->beta != 0.0f) v += g->beta * load(g->C, g->c_bf16, ci);
    if (g->c_bf16) ((uint16_t*)g->C)[ci] = f32_to_bf16(v);
    else ((float*)g->C)[ci] = v;
}

/* Columns [j0, j1) of C. */
static void columns(void* ctx, int64_t j0, int64_t j1) {
    const Job* job = ctx;
    const GemmArg* g = job->g;
    const int64_t kp = job->kp;
    int64_t j = j0;
    for (; j + 4 <= j1; j += 4) {
        const float* b0 = job->bp + j * kp;
        const float* b1 = b0 + kp;
        const float* b2 = b1 + kp;
        const float* b3 = b2 + kp;
        int64_t i = 0;
        for (; i + 2 <= g->m; i += 2) {
            const float* a0 = job->ap + i * kp;
            const float* a1 = a0 + kp;
            float acc[2][4][LANES] = {{{0}}};
            for (int64_t q = 0; q < kp; q += LANES) {
                for (int l = 0; l < LANES; l++) {
                    acc[0][0][l] += a0[q + l] * b0[q + l];
                    acc[0][1][l] += a0[q + l] * b1[q + l];
                    acc[0][2][l] += a0[q + l] * b2[q + l];
                    acc[0][3][l] += a0[q + l] * b3[q + l];
                    acc[1][0][l] += a1[q + l] * b0[q + l];
                    acc[1][1][l] += a1[q + l] * b1[q + l];
                    acc[1][2][l] += a1[q + l] * b2[q + l];
                    acc[1][3][l] += a1[q + l] * b3[q + l];
                }
            }
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 4; c++) store(g, i + r, j + c, finish(acc[r][c]));
        }
        for (; i < g->m; i++) {
            const float* a0 = job->ap + i * kp;
            float acc[4][LANES] = {{0}};
            for (int64_t q = 0; q < kp; q += LANES) {
                for (int l = 0; l < LANES; l++) {
                    acc[0][l] += a0[q + l] * b0[q + l];
                    acc[1][l] += a0[q + l] * b1[q + l];
                    acc[2][l] += a0[q + l] * b2[q + l];
                    acc[3][l] += a0[q + l] * b3[q + l];
                }
            }
            for (int c = 0; c < 4; c++) store(g, i, j + c, finish(acc[c]));
        }
    }
    for (; j < j1; j++) {
        const float* b0 = job->bp + j * kp;
        for (int64_t i = 0; i < g->m; i++) {
            const float* a0 = job->ap + i * kp;
            float acc[LANES] = {0};
            for (int64_t q = 0; q < kp; q += LANES)
                for (int l = 0; l < LANES; l++) acc[l] += a0[q + l] * b0[q + l];
            store(g, i, j, finish(acc));
        }
    }
}

void sim_gemm_run(void* arg) {
    const GemmArg* g = arg;
    if (g->m == 0 || g->n == 0) return;
    const int64_t kp = ((int64_t)g->k + LANES - 1) / LANES * LANES;
    float* ap = calloc((size_t)(g->m * kp + g->n * kp + 1), sizeof(float));
    if (!ap) { fprintf(stderr, "SIM: out of memory in cublasGemmEx\n"); abort(); }
    float* bp = ap + g->m * kp;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t q = 0; q < g->k; q++)
            ap[i * kp + q] = load(g->A, g->ab_bf16, g->ta ? q + i * (int64_t)g->lda : i + q * (int64_t)g->lda);
    for (int64_t j = 0; j < g->n; j++)
        for (int64_t q = 0; q < g->k; q++)
            bp[j * kp + q] = load(g->B, g->ab_bf16, g->tb ? j + q * (int64_t)g->ldb : q + j * (int64_t)g->ldb);
    Job job = {g, ap, bp, kp};
    int64_t work_per_column = (int64_t)g->m * kp;
    sim_parallel_for(g->n, work_per_column >= (1 << 18) ? 4 : (1 << 18) / (work_per_column + 1) + 4, columns, &job);
    free(ap);
}
