/* The simulator's own interface, exported by its libcudart.so.13 for its libcublas.so.13, its
 * libengram.so and the self-checks. SIMULATED CUDA ON THE CPU, NOT A GPU: device memory is host
 * memory and every "kernel" is a CPU function queued on a simulated stream (README.md). */
#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One memory range a queued operation touches: checked to lie in device-accessible memory (device
 * allocations, pinned host memory), checked for races against other streams' operations, and kept
 * until the host has synchronized with the operation (frees of it before that are hazards). */
typedef struct sim_range {
    const void* ptr;
    size_t bytes; /* 0: not touched (a NULL optional pointer) */
    int write;    /* 0 read, 1 written */
} sim_range;

typedef void (*sim_fn)(void* arg);

/* Queues fn(arg) on `stream` (NULL: the legacy default stream) as one device operation named `name`.
 * `arg` is malloc'd by the caller and freed by the simulator after fn ran (or was dropped). `cost_ns`
 * advances the simulated clock when it runs (what cudaEventElapsedTime reports; not real time).
 * Returns cudaSuccess, or the error a launch on a GPU would return at once (destroyed stream, a stream of
 * another device than the current one, sticky error); the same error is also this thread's last error
 * (cudaGetLastError). A range outside device-accessible memory, or in another device's memory than the
 * stream's, is reported ("SIM FAULT") and makes the operation fail when it runs, with
 * cudaErrorIllegalAddress from the next synchronizing call, as a kernel's bad access would. */
int sim_enqueue(void* stream, const char* name, sim_fn fn, void* arg, const sim_range* ranges, int nranges,
                double cost_ns);

/* Runs body(ctx, begin, end) over [0, n) split into contiguous pieces on up to SIM_THREADS threads
 * (default: the online CPUs); returns when all are done. Pieces are independent: callers compute each
 * output in one piece, so results do not depend on the thread count. */
void sim_parallel_for(int64_t n, int64_t min_piece, void (*body)(void* ctx, int64_t begin, int64_t end), void* ctx);

/* Reports a misuse that a GPU would answer with an error or undefined behaviour ("SIM FAULT: ..."). */
void sim_fault(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- for the self-checks and tools ---- */

/* Counts of what the simulator has reported in this process. */
typedef struct sim_counts {
    long races;   /* "SIM RACE": two streams touch memory, one writes, nothing orders them */
    long hazards; /* "SIM HAZARD": freeing memory queued work uses / host wrote a pending copy's source */
    long faults;  /* "SIM FAULT": a queued operation's memory is not device-accessible, or a dead handle */
    long ops;     /* device operations run */
} sim_counts;
void sim_get_counts(sim_counts* out);

/* Makes `stream` run its operations as soon as their waits allow (1) or only when forced (0). */
void sim_set_eager(void* stream, int eager);

/* The schedule in use: "lazy", "eager", "rr" or "random:SEED" (environment variable SIM_SCHEDULE). */
const char* sim_schedule(void);

/* Device-wide synchronization so far, all threads and devices (for tests that assert none is hidden):
 * calls to cudaDeviceSynchronize (cublasDestroy_v2's included), and calls that queue work on or wait for
 * a legacy default stream (cudaMemcpy, cudaMemset, and cudaMemcpyAsync, cudaMemsetAsync, cudaEventRecord,
 * cudaStreamWaitEvent, cudaStreamSynchronize, kernel launches and GEMMs given the NULL stream). */
long long simDeviceSynchronizeCount(void);
long long simLegacyStreamSyncCount(void);

#ifdef __cplusplus
}
#endif

#endif /* SIM_H */
