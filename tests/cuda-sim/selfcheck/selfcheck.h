/* Shared by the self-check programs' sources (sim_selfcheck.c and the case files next to it): the
 * simulated entry points they call and the helpers sim_selfcheck.c defines. Simulated CUDA, not a GPU. */
#ifndef SIM_SELFCHECK_H
#define SIM_SELFCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "engram.h"
#include "sim.h"
#include "sim_cuda_types.h"

#ifndef SIM_REAL_CUDA_HEADERS
cudaError_t cudaMalloc(void** p, size_t n);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t n);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, enum cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int flags);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaHostRegister(void* p, size_t n, unsigned int flags);
cudaError_t cudaHostUnregister(void* p);
cudaError_t cudaHostGetDevicePointer(void** device, void* host, unsigned int flags);
cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes* attributes, const void* ptr);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamGetDevice(cudaStream_t s, int* device);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total);
cudaError_t cudaMemset(void* p, int v, size_t n);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, enum cudaStreamCaptureStatus* status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
#endif

/* The cuBLAS entry points of the simulated libcublas.so.13 (no cuBLAS headers needed). */
int cublasCreate_v2(void** h);
int cublasDestroy_v2(void* h);
int cublasSetStream_v2(void* h, void* s);
int cublasSetWorkspace_v2(void* h, void* workspace, size_t bytes);
int cublasGemmEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at, int lda,
                 const void* B, int bt, int ldb, const void* beta, void* C, int ct, int ldc, int compute, int algo);

extern int failures;                              /* expect() failures of the case */
void expect(int ok, const char* what);            /* counts a failure (with its text) when !ok */
void ck(cudaError_t e, const char* call);         /* exits the case when e != cudaSuccess */
sim_counts counts(void);
cudaStream_t stream(void);                        /* a non-blocking stream */
cudaEvent_t event(unsigned flags);
float* dmalloc(size_t n);                         /* n floats of device memory */
float* pinned(size_t n);                          /* n floats of pinned memory */
void fill(float* h, size_t n, float v);
uint16_t bf16(float f);
float from_bf16(uint16_t b);
float uniform(float lo, float hi);                /* deterministic pseudo-random */
/* n random values in [lo, hi) as dtype (0 fp32, 1 bf16) in new device memory; the rounded values in ref. */
void* upload(size_t n, float lo, float hi, int dtype, double* ref);
void download(const void* d, size_t n, int dtype, double* out);

/* Cases in other files. */
int case_graph(void);
int case_graph_errors(void);
int case_graph_race(void);
int case_cublas_workspace(void);
int case_packed_chunks(void);
int case_packed_garbage(void);
int case_packed_commit_ordered(void);
int case_packed_commit_race(void);

#endif /* SIM_SELFCHECK_H */
