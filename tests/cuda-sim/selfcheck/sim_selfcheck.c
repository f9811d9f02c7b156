/* Self-checks of the CUDA simulator (run by selfcheck.sh): `sim_selfcheck CASE` exits 0 when the
 * simulator did what the case requires, 1 (with the reason) when not. The bug cases plant one ordering
 * bug each, of the kinds the Java side could have, and require the simulator to report it; the ok cases
 * require silence and right results, so the detector is not just noisy. Simulated CUDA, not a GPU. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfcheck.h"

#define N_FLOATS 4096

int failures;

void expect(int ok, const char* what) {
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

void ck(cudaError_t e, const char* call) {
    if (e != cudaSuccess) {
        printf("FAIL: %s returned %d\n", call, (int)e);
        exit(1);
    }
}

sim_counts counts(void) {
    sim_counts c;
    sim_get_counts(&c);
    return c;
}

cudaStream_t stream(void) {
    cudaStream_t s;
    ck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return s;
}

cudaEvent_t event(unsigned flags) {
    cudaEvent_t e;
    ck(cudaEventCreateWithFlags(&e, flags), "cudaEventCreateWithFlags");
    return e;
}

float* dmalloc(size_t n) {
    void* p;
    ck(cudaMalloc(&p, n * sizeof(float)), "cudaMalloc");
    return p;
}

float* pinned(size_t n) {
    void* p;
    ck(cudaMallocHost(&p, n * sizeof(float)), "cudaMallocHost");
    return p;
}

void fill(float* h, size_t n, float v) {
    for (size_t i = 0; i < n; i++) h[i] = v;
}

/* Producer on stream a writes dst from a pinned buffer of `value`s; consumer on stream b copies dst to
 * out. With `wait`, b waits for a's event in between. Returns out[0] after synchronizing b only. */
static float producer_consumer(int wait) {
    cudaStream_t a = stream(), b = stream();
    cudaEvent_t e = event(cudaEventDisableTiming);
    float* src = pinned(N_FLOATS);
    float* out = pinned(N_FLOATS);
    float* d = dmalloc(N_FLOATS);
    fill(src, N_FLOATS, 0.f);
    ck(cudaMemcpy(d, src, N_FLOATS * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
    fill(src, N_FLOATS, 7.f);
    ck(cudaMemcpyAsync(d, src, N_FLOATS * sizeof(float), cudaMemcpyHostToDevice, a), "producer");
    ck(cudaEventRecord(e, a), "cudaEventRecord");
    if (wait) ck(cudaStreamWaitEvent(b, e, 0), "cudaStreamWaitEvent");
    ck(cudaMemcpyAsync(out, d, N_FLOATS * sizeof(float), cudaMemcpyDeviceToHost, b), "consumer");
    ck(cudaStreamSynchronize(b), "cudaStreamSynchronize(b)");
    float v = out[0];
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    cudaFree(d);
    cudaFreeHost(src);
    cudaFreeHost(out);
    return v;
}

static int case_ordered(void) {
    float v = producer_consumer(1);
    sim_counts c = counts();
    expect(v == 7.f, "the consumer sees the producer's data");
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "an ordered producer/consumer pair is not reported");
    return failures;
}

static int case_missing_wait(void) {
    float v = producer_consumer(0);
    sim_counts c = counts();
    expect(c.races >= 1, "a consumer stream that does not wait for the producer's event is reported as a race");
    if (!strcmp(sim_schedule(), "lazy")) expect(v != 7.f, "lazy schedule: the consumer ran before the producer");
    return failures;
}

/* H2D copy from pinned memory; the host overwrites the source before (or after) synchronizing. */
static int host_reuse(int sync_first) {
    cudaStream_t s = stream();
    cudaEvent_t copied = event(cudaEventDisableTiming);
    float* src = pinned(N_FLOATS);
    float* back = pinned(N_FLOATS);
    float* d = dmalloc(N_FLOATS);
    fill(src, N_FLOATS, 1.f);
    ck(cudaMemcpyAsync(d, src, N_FLOATS * sizeof(float), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync");
    ck(cudaEventRecord(copied, s), "cudaEventRecord");
    if (sync_first) ck(cudaEventSynchronize(copied), "cudaEventSynchronize");
    fill(src, N_FLOATS, 2.f); /* the next batch, staged into the same buffer */
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    ck(cudaMemcpy(back, d, N_FLOATS * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
    float v = back[0];
    cudaFree(d);
    cudaFreeHost(src);
    cudaFreeHost(back);
    return v == 1.f;
}

static int case_host_reuse_ok(void) {
    expect(host_reuse(1), "the copy carried the first batch");
    sim_counts c = counts();
    expect(c.hazards == 0 && c.races == 0, "overwriting a staging buffer after waiting for its copy is not reported");
    return failures;
}

static int case_host_reuse(void) {
    int right = host_reuse(0);
    sim_counts c = counts();
    expect(c.hazards >= 1, "overwriting a pinned source before waiting for its copy is reported");
    if (!strcmp(sim_schedule(), "lazy")) expect(!right, "lazy schedule: the copy read the overwritten buffer");
    return failures;
}

static int case_free_pending(void) {
    cudaStream_t s = stream();
    float* d = dmalloc(N_FLOATS);
    ck(cudaMemsetAsync(d, 0, N_FLOATS * sizeof(float), s), "cudaMemsetAsync");
    ck(cudaFree(d), "cudaFree"); /* no synchronization with s first */
    sim_counts c = counts();
    expect(c.hazards >= 1, "cudaFree of memory a queued memset writes is reported");
    return failures;
}

static int case_free_after_sync(void) {
    cudaStream_t s = stream();
    float* d = dmalloc(N_FLOATS);
    ck(cudaMemsetAsync(d, 0, N_FLOATS * sizeof(float), s), "cudaMemsetAsync");
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    ck(cudaFree(d), "cudaFree");
    sim_counts c = counts();
    expect(c.hazards == 0 && c.races == 0, "cudaFree after synchronizing is not reported");
    return failures;
}

/* Pageable cudaMemcpy host-to-device, then a non-blocking (or blocking) stream reads the destination. */
static int pageable_then_stream(int blocking, int device_sync) {
    static float host[N_FLOATS];
    fill(host, N_FLOATS, 3.f);
    cudaStream_t s;
    ck(cudaStreamCreateWithFlags(&s, blocking ? cudaStreamDefault : cudaStreamNonBlocking), "create");
    float* d = dmalloc(N_FLOATS);
    float* out = pinned(N_FLOATS);
    ck(cudaMemcpy(d, host, N_FLOATS * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
    if (device_sync) ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    ck(cudaMemcpyAsync(out, d, N_FLOATS * sizeof(float), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    float v = out[0];
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    cudaFree(d);
    cudaFreeHost(out);
    return v == 3.f;
}

static int case_pageable_race(void) {
    int right = pageable_then_stream(0, 0);
    expect(counts().races >= 1, "a non-blocking stream reading a pageable upload's destination unsynchronized is a race");
    if (!strcmp(sim_schedule(), "lazy")) expect(!right, "lazy schedule: the upload landed after the read");
    return failures;
}

static int case_pageable_ok(void) {
    expect(pageable_then_stream(0, 1), "after cudaDeviceSynchronize the upload has landed");
    expect(pageable_then_stream(1, 0), "a blocking stream is ordered after the legacy stream's upload");
    expect(counts().races == 0, "both are race-free");
    return failures;
}

/* D2H async into pinned memory: reading it before synchronizing sees garbage in the lazy schedule. */
static int case_early_host_read(void) {
    cudaStream_t s = stream();
    float* d = dmalloc(N_FLOATS);
    float* out = pinned(N_FLOATS);
    fill(out, N_FLOATS, 5.f); /* plausible old data */
    ck(cudaMemsetAsync(d, 0, N_FLOATS * sizeof(float), s), "cudaMemsetAsync");
    ck(cudaMemcpyAsync(out, d, N_FLOATS * sizeof(float), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
    float early = out[0]; /* the bug: no synchronization */
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    expect(out[0] == 0.f, "after synchronizing the copy has landed");
    if (!strcmp(sim_schedule(), "lazy")) expect(isnan(early), "lazy schedule: an early read sees poison, not the data");
    cudaFree(d);
    cudaFreeHost(out);
    return failures;
}

static int case_event_timing(void) {
    cudaStream_t s = stream();
    cudaEvent_t a = event(cudaEventDefault), b = event(cudaEventDefault), c = event(cudaEventDefault);
    cudaEvent_t untimed = event(cudaEventDisableTiming);
    float* d = dmalloc(N_FLOATS);
    float ms = -1, ms2 = -1;
    ck(cudaEventRecord(a, s), "record a");
    ck(cudaMemsetAsync(d, 0, N_FLOATS * sizeof(float), s), "memset");
    ck(cudaEventRecord(b, s), "record b");
    ck(cudaMemsetAsync(d, 1, N_FLOATS * sizeof(float), s), "memset");
    ck(cudaEventRecord(c, s), "record c");
    ck(cudaEventRecord(untimed, s), "record untimed");
    if (!strcmp(sim_schedule(), "lazy")) {
        expect(cudaEventElapsedTime(&ms, a, c) == cudaErrorNotReady, "not ready before the events completed");
        cudaGetLastError();
    }
    ck(cudaEventSynchronize(c), "cudaEventSynchronize");
    ck(cudaEventElapsedTime(&ms, a, b), "elapsed a-b");
    ck(cudaEventElapsedTime(&ms2, a, c), "elapsed a-c");
    expect(ms > 0 && ms2 > ms, "simulated elapsed time is positive and grows along the stream");
    expect(cudaEventElapsedTime(&ms, a, untimed) == cudaErrorInvalidResourceHandle,
           "an event without timing has no elapsed time");
    cudaGetLastError();
    cudaFree(d);
    return failures;
}

static int case_bad_pointer(void) {
    static float pageable[64];
    cudaStream_t s = stream();
    float* d = dmalloc(64);
    int64_t mult[3] = {1, 3, 5}, mod[2] = {7, 11}, off[2] = {0, 7};
    /* d_table is pageable host memory: the kernel would fault on a GPU. */
    int64_t* ids;
    ck(cudaMalloc((void**)&ids, 8 * sizeof(int64_t)), "cudaMalloc");
    ck(cudaMemsetAsync(ids, 0, 8 * sizeof(int64_t), s), "memset");
    engram_status_t st = engram_hashed_gather(ids, 1, 8, NULL, 0, 0, mult, 3, mod, off, 1, pageable, 18, 1,
                                              ENGRAM_DTYPE_FLOAT32, d, NULL, s);
    /* The launch succeeds, unless the faulting kernel already ran (an eager stream), as on a GPU where a
     * fault may surface at the launch's own cudaGetLastError. */
    expect(st == ENGRAM_STATUS_SUCCESS || st == ENGRAM_STATUS_CUDA_ERROR, "the launch returns success or the fault");
    expect(counts().faults >= 1, "a kernel reading pageable host memory is reported");
    expect(cudaStreamSynchronize(s) == cudaErrorIllegalAddress, "the next synchronization fails with illegal address");
    expect(cudaMemsetAsync(d, 0, 4, s) == cudaErrorIllegalAddress, "and the error is sticky");
    return failures;
}

static int case_destroyed_stream(void) {
    cudaStream_t s = stream();
    float* d = dmalloc(64);
    ck(cudaStreamDestroy(s), "cudaStreamDestroy");
    expect(cudaMemsetAsync(d, 0, 64, s) == cudaErrorInvalidResourceHandle, "queueing on a destroyed stream fails");
    expect(counts().faults >= 1, "and is reported");
    cudaGetLastError();
    return failures;
}

/* ---- devices, pointer attributes, stream devices ---- */

static int device_count(void) {
    int n = 0;
    ck(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
    return n;
}

static struct cudaPointerAttributes attributes_of(const void* p) {
    struct cudaPointerAttributes a;
    memset(&a, 0x5A, sizeof a); /* every field, reserved words included, must be written */
    ck(cudaPointerGetAttributes(&a, p), "cudaPointerGetAttributes");
    return a;
}

static int reserved_zero(const struct cudaPointerAttributes* a) {
    for (size_t i = 0; i < sizeof a->reserved / sizeof *a->reserved; i++)
        if (a->reserved[i]) return 0;
    return 1;
}

static int is_device(const void* p, int device) {
    struct cudaPointerAttributes a = attributes_of(p);
    return a.type == cudaMemoryTypeDevice && a.device == device && a.devicePointer == p && !a.hostPointer &&
           reserved_zero(&a);
}

static int is_host(void* p, int device) {
    void* mapped = NULL;
    ck(cudaHostGetDevicePointer(&mapped, p, 0), "cudaHostGetDevicePointer");
    struct cudaPointerAttributes a = attributes_of(p);
    return a.type == cudaMemoryTypeHost && a.device == device && a.devicePointer == mapped && a.hostPointer == p &&
           reserved_zero(&a);
}

static int is_unregistered(const void* p) {
    struct cudaPointerAttributes a = attributes_of(p);
    return a.type == cudaMemoryTypeUnregistered && a.device == cudaInvalidDeviceId && !a.devicePointer &&
           a.hostPointer == p && reserved_zero(&a);
}

/* Every kind of address on every device: base and interior pointers of device, pinned and registered
 * memory; pageable memory and memory already freed are unregistered, as in CUDA 11+. */
static int case_pointer_attributes(void) {
    static char pageable[4096] __attribute__((aligned(64)));
    int stack_value = 0;
    for (int dev = 0; dev < device_count(); dev++) {
        ck(cudaSetDevice(dev), "cudaSetDevice");
        char* d = (char*)dmalloc(64);
        char* h = (char*)pinned(64);
        ck(cudaHostRegister(pageable, sizeof pageable, cudaHostRegisterDefault), "cudaHostRegister");
        expect(is_device(d, dev) && is_device(d + 100, dev) && is_device(d + 255, dev),
               "device memory (base, interior, last byte): cudaMemoryTypeDevice on its device");
        expect(is_host(h, dev) && is_host(h + 12, dev), "pinned memory: cudaMemoryTypeHost, mapped");
        expect(is_host(pageable, dev) && is_host(pageable + 1000, dev), "registered memory: cudaMemoryTypeHost, mapped");
        if (dev > 0) {
            ck(cudaSetDevice(0), "cudaSetDevice(0)");
            expect(is_device(d + 4, dev) && is_host(h + 4, dev), "answered the same while another device is current");
            ck(cudaSetDevice(dev), "cudaSetDevice");
        }
        ck(cudaHostUnregister(pageable), "cudaHostUnregister");
        ck(cudaFreeHost(h), "cudaFreeHost");
        ck(cudaFree(d), "cudaFree");
        expect(is_unregistered(pageable + 8), "unregistered pageable memory: cudaMemoryTypeUnregistered, no device");
        expect(is_unregistered(d) && is_unregistered(d + 100), "freed device memory is unregistered");
        expect(is_unregistered(h + 4), "freed pinned memory is unregistered");
    }
    ck(cudaSetDevice(0), "cudaSetDevice(0)");
    expect(is_unregistered(&stack_value) && is_unregistered(NULL), "a stack address and NULL are unregistered");
    float* d = dmalloc(4);
    expect(cudaPointerGetAttributes(NULL, d) == cudaErrorInvalidValue, "no attributes struct: cudaErrorInvalidValue");
    expect(cudaGetLastError() == cudaErrorInvalidValue, "which is the last error");
    ck(cudaFree(d), "cudaFree");
    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "pointer queries are not reported");
    return failures;
}

/* cudaStreamGetDevice on every device; cudaStreamCreate's stream is blocking (ordered after the
 * legacy stream's earlier work, so reading what a NULL-stream memset wrote is no race). */
static int case_stream_device(void) {
    for (int dev = 0; dev < device_count(); dev++) {
        ck(cudaSetDevice(dev), "cudaSetDevice");
        cudaStream_t nonblocking = stream(), blocking;
        ck(cudaStreamCreate(&blocking), "cudaStreamCreate");
        int got = -1, legacy = -1, other = -1;
        ck(cudaStreamGetDevice(nonblocking, &got), "cudaStreamGetDevice");
        ck(cudaStreamGetDevice(NULL, &legacy), "cudaStreamGetDevice(NULL)");
        expect(got == dev && legacy == dev, "a stream's device and the legacy stream's (the current device)");
        ck(cudaSetDevice(0), "cudaSetDevice(0)");
        ck(cudaStreamGetDevice(blocking, &other), "cudaStreamGetDevice");
        expect(other == dev, "a stream keeps its device when another is current");
        ck(cudaSetDevice(dev), "cudaSetDevice");
        float* d = dmalloc(N_FLOATS);
        float* out = pinned(N_FLOATS);
        ck(cudaMemsetAsync(d, 0, N_FLOATS * sizeof(float), NULL), "cudaMemsetAsync(legacy)");
        ck(cudaMemcpyAsync(out, d, N_FLOATS * sizeof(float), cudaMemcpyDeviceToHost, blocking), "cudaMemcpyAsync");
        ck(cudaStreamSynchronize(blocking), "cudaStreamSynchronize");
        expect(out[0] == 0.f, "the blocking stream ran after the legacy stream's memset");
        ck(cudaFree(d), "cudaFree");
        ck(cudaFreeHost(out), "cudaFreeHost");
        ck(cudaStreamDestroy(nonblocking), "cudaStreamDestroy");
        ck(cudaStreamDestroy(blocking), "cudaStreamDestroy");
    }
    ck(cudaSetDevice(0), "cudaSetDevice(0)");
    expect(cudaStreamGetDevice(NULL, NULL) == cudaErrorInvalidValue, "no output: cudaErrorInvalidValue");
    cudaGetLastError();
    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "not reported");
    return failures;
}

static int case_stream_device_dead(void) {
    cudaStream_t s = stream();
    int dev = -1, not_a_stream = 0;
    ck(cudaStreamDestroy(s), "cudaStreamDestroy");
    expect(cudaStreamGetDevice(s, &dev) == cudaErrorInvalidResourceHandle, "a destroyed stream has no device");
    expect(cudaStreamGetDevice((cudaStream_t)&not_a_stream, &dev) == cudaErrorInvalidResourceHandle,
           "nor a handle this runtime never made");
    expect(counts().faults == 2 && dev == -1, "both are reported, the output untouched");
    cudaGetLastError();
    return failures;
}

/* ---- two devices (run with SIM_DEVICES=2): work, memory, streams and events of the right device ---- */

static void use_device(int dev) { ck(cudaSetDevice(dev), "cudaSetDevice"); }

/* One small libengram kernel on s: 8 ids -> 2 heads of 1 element from an 18-row fp32 table (16 floats out). */
static engram_status_t gather(const int64_t* ids, const float* table, float* out, cudaStream_t s) {
    int64_t mult[3] = {1, 3, 5}, mod[2] = {7, 11}, off[2] = {0, 7};
    return engram_hashed_gather(ids, 1, 8, NULL, 0, 0, mult, 3, mod, off, 1, table, 18, 1, ENGRAM_DTYPE_FLOAT32, out,
                                NULL, s);
}

/* Memory for gather() on the current device: ids (zeros), table (all `value`), out. */
static void gather_buffers(int64_t** ids, float** table, float** out, float value, cudaStream_t s) {
    float host[18];
    fill(host, 18, value);
    ck(cudaMalloc((void**)ids, 8 * sizeof(int64_t)), "cudaMalloc");
    *table = dmalloc(18);
    *out = dmalloc(16);
    ck(cudaMemsetAsync(*ids, 0, 8 * sizeof(int64_t), s), "cudaMemsetAsync");
    ck(cudaMemcpyAsync(*table, host, sizeof host, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync");
}

static int case_two_devices_ok(void) {
    expect(device_count() == 2, "SIM_DEVICES=2 gives two devices");
    cudaStream_t s[2];
    cudaEvent_t done1;
    int64_t* ids[2];
    float *table[2], *out[2], *result = pinned(16);
    void* blas = NULL;
    for (int dev = 1; dev >= 0; dev--) { /* device 1 first: the current device must not stay at 0 by luck */
        use_device(dev);
        s[dev] = stream();
        gather_buffers(&ids[dev], &table[dev], &out[dev], 10.f + dev, s[dev]);
    }
    size_t free0, free1, total;
    ck(cudaMemGetInfo(&free0, &total), "cudaMemGetInfo");
    use_device(1);
    ck(cudaMemGetInfo(&free1, &total), "cudaMemGetInfo");
    expect(free0 == free1 && total - free0 == 8 * 8 + 18 * 4 + 16 * 4, "each device counts its own allocations");
    expect(cudaSetDevice(2) == cudaErrorInvalidDevice, "device 2 of 2 is invalid");
    cudaGetLastError();
    int current = -1;
    ck(cudaGetDevice(&current), "cudaGetDevice");
    expect(current == 1, "and the current device stays");

    /* Device 1: a kernel with its own memory, then one reading a pinned table (portable), a GEMM with
     * a handle made on device 1, an event the device-0 stream waits for. */
    expect(gather(ids[1], table[1], out[1], s[1]) == ENGRAM_STATUS_SUCCESS, "a kernel of device 1 on device 1");
    float* pinned_table = pinned(18);
    fill(pinned_table, 18, 3.f);
    expect(gather(ids[1], pinned_table, out[1], s[1]) == ENGRAM_STATUS_SUCCESS, "pinned memory serves every device");
    expect(cublasCreate_v2(&blas) == 0 && cublasSetStream_v2(blas, s[1]) == 0, "a cuBLAS handle of device 1");
    float one = 1, zero = 0;
    expect(cublasGemmEx(blas, 0, 0, 4, 4, 1, &one, out[1], 0, 4, out[1], 0, 1, &zero, table[1], 0, 4, 68, -1) == 0,
           "a GEMM of device 1 on device 1");
    ck(cudaEventCreate(&done1), "cudaEventCreate");
    ck(cudaEventRecord(done1, s[1]), "cudaEventRecord");

    /* Device 0: its own kernel, then a peer copy of device 1's result after waiting for device 1's event. */
    use_device(0);
    expect(gather(ids[0], table[0], out[0], s[0]) == ENGRAM_STATUS_SUCCESS, "a kernel of device 0 on device 0");
    ck(cudaStreamWaitEvent(s[0], done1, 0), "cudaStreamWaitEvent (an event of another device)");
    ck(cudaMemcpyAsync(result, out[1], 16 * sizeof(float), cudaMemcpyDeviceToHost, s[0]), "cudaMemcpyAsync");
    ck(cudaStreamSynchronize(s[0]), "cudaStreamSynchronize");
    expect(result[0] == 3.f, "device 1's result, read on device 0's stream after the wait");

    /* Each device synchronized on its own before its memory is freed. */
    for (int dev = 0; dev < 2; dev++) {
        use_device(dev);
        ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        if (dev == 1) expect(cublasDestroy_v2(blas) == 0, "cublasDestroy");
        ck(cudaFree(ids[dev]), "cudaFree");
        ck(cudaFree(table[dev]), "cudaFree");
        ck(cudaFree(out[dev]), "cudaFree");
        ck(cudaStreamDestroy(s[dev]), "cudaStreamDestroy");
    }
    ck(cudaEventDestroy(done1), "cudaEventDestroy");
    ck(cudaFreeHost(pinned_table), "cudaFreeHost");
    ck(cudaFreeHost(result), "cudaFreeHost");
    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "nothing reported");
    return failures;
}

/* Work for device 1 queued while device 0 is current: every call fails as on a GPU, and is reported. */
static int case_wrong_current_device(void) {
    use_device(1);
    cudaStream_t s1 = stream();
    cudaEvent_t e1 = event(cudaEventDisableTiming);
    int64_t* ids;
    float *table, *out;
    gather_buffers(&ids, &table, &out, 1.f, s1);
    void *blas0, *blas1;
    expect(cublasCreate_v2(&blas1) == 0 && cublasSetStream_v2(blas1, s1) == 0, "a cuBLAS handle of device 1");
    use_device(0);
    cudaEvent_t e0 = event(cudaEventDisableTiming);
    expect(cublasCreate_v2(&blas0) == 0 && cublasSetStream_v2(blas0, s1) == 0, "a handle of device 0, device 1's stream");
    float one = 1, zero = 0;
    long before = counts().faults;
    expect(cudaMemsetAsync(out, 0, 16, s1) == cudaErrorInvalidResourceHandle, "cudaMemsetAsync: invalid handle");
    expect(cudaMemcpyAsync(out, table, 16, cudaMemcpyDeviceToDevice, s1) == cudaErrorInvalidResourceHandle,
           "cudaMemcpyAsync: invalid handle");
    expect(gather(ids, table, out, s1) == ENGRAM_STATUS_CUDA_ERROR, "a kernel launch fails");
    expect(cublasGemmEx(blas1, 0, 0, 4, 4, 1, &one, out, 0, 4, out, 0, 1, &zero, table, 0, 4, 68, -1) == 13,
           "a GEMM with device 1's handle: CUBLAS_STATUS_EXECUTION_FAILED");
    expect(cublasGemmEx(blas0, 0, 0, 4, 4, 1, &one, out, 0, 4, out, 0, 1, &zero, table, 0, 4, 68, -1) == 13,
           "a GEMM of a device-0 handle on device 1's stream: CUBLAS_STATUS_EXECUTION_FAILED");
    expect(cudaEventRecord(e0, s1) == cudaErrorInvalidResourceHandle, "an event of device 0 on device 1's stream");
    expect(counts().faults - before == 6, "each of the 6 calls is reported");
    cudaGetLastError();
    use_device(1);
    ck(cudaEventRecord(e1, s1), "cudaEventRecord of the right device");
    ck(cudaStreamSynchronize(s1), "the stream itself is fine");
    return failures;
}

/* A kernel of device 1 given device 0's memory: an illegal address on a GPU without peer access. */
static int case_cross_device_memory(void) {
    use_device(0);
    int64_t* ids0;
    float *table0, *out0;
    gather_buffers(&ids0, &table0, &out0, 1.f, NULL);
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    use_device(1);
    cudaStream_t s1 = stream();
    float* out1 = dmalloc(16);
    engram_status_t st = gather(ids0, table0, out1, s1);
    expect(st == ENGRAM_STATUS_SUCCESS || st == ENGRAM_STATUS_CUDA_ERROR, "the launch returns success or the fault");
    expect(counts().faults == 2, "both ranges of device 0 (ids, table) are reported");
    expect(cudaStreamSynchronize(s1) == cudaErrorIllegalAddress, "the next synchronization fails with illegal address");
    return failures;
}

/* cudaDeviceSynchronize waits for the current device only: freeing device 1's memory after synchronizing
 * device 0 is a hazard (two_devices_ok synchronizes each device before freeing its memory). */
static int case_other_device_sync(void) {
    use_device(1);
    cudaStream_t s1 = stream();
    float* d1 = dmalloc(N_FLOATS);
    ck(cudaMemsetAsync(d1, 0, N_FLOATS * sizeof(float), s1), "cudaMemsetAsync");
    use_device(0);
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize (device 0)");
    ck(cudaFree(d1), "cudaFree");
    expect(counts().hazards == 1, "freeing memory device 1 still writes is reported");
    return failures;
}

/* ---- synchronization counters ---- */

typedef long long (*counter_fn)(void);

/* Looked up by name, as the Java test does (FFM's loaderLookup of the globally loaded libcudart). */
static counter_fn counter(const char* name) {
    counter_fn f = (counter_fn)dlsym(RTLD_DEFAULT, name);
    if (!f) {
        printf("FAIL: %s is not exported\n", name);
        exit(1);
    }
    return f;
}

static int case_sync_counters(void) {
    counter_fn device_syncs = counter("simDeviceSynchronizeCount"), legacy = counter("simLegacyStreamSyncCount");
    expect(device_syncs() == 0 && legacy() == 0, "both start at 0");
    cudaStream_t s = stream();
    cudaEvent_t e = event(cudaEventDisableTiming);
    int64_t* ids;
    float *table, *out, *h = pinned(16);
    void* blas;
    expect(cublasCreate_v2(&blas) == 0, "cublasCreate (its stream: NULL)");
    gather_buffers(&ids, &table, &out, 2.f, s);
    expect(gather(ids, table, out, s) == ENGRAM_STATUS_SUCCESS, "gather");
    ck(cudaMemcpyAsync(h, out, 16 * sizeof(float), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
    ck(cudaEventRecord(e, s), "cudaEventRecord");
    ck(cudaStreamWaitEvent(s, e, 0), "cudaStreamWaitEvent");
    ck(cudaEventSynchronize(e), "cudaEventSynchronize");
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    expect(device_syncs() == 0 && legacy() == 0, "work on a created stream and its synchronization count nothing");

    /* Each call on the legacy stream counts once. */
    float one = 1, zero = 0;
    ck(cudaMemcpy(h, out, 16 * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
    ck(cudaMemset(out, 0, 16 * sizeof(float)), "cudaMemset");
    ck(cudaMemsetAsync(out, 0, 16 * sizeof(float), NULL), "cudaMemsetAsync(NULL)");
    ck(cudaMemcpyAsync(out, table, 16 * sizeof(float), cudaMemcpyDeviceToDevice, NULL), "cudaMemcpyAsync(NULL)");
    ck(cudaEventRecord(e, NULL), "cudaEventRecord(NULL)");
    ck(cudaStreamWaitEvent(NULL, e, 0), "cudaStreamWaitEvent(NULL)");
    expect(gather(ids, table, out, NULL) == ENGRAM_STATUS_SUCCESS, "gather on the NULL stream");
    expect(cublasGemmEx(blas, 0, 0, 4, 4, 1, &one, out, 0, 4, out, 0, 1, &zero, table, 0, 4, 68, -1) == 0,
           "a GEMM on the NULL stream");
    ck(cudaStreamSynchronize(NULL), "cudaStreamSynchronize(NULL)");
    expect(legacy() == 9 && device_syncs() == 0, "9 legacy-stream calls, no device synchronization");

    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    expect(cublasDestroy_v2(blas) == 0, "cublasDestroy (synchronizes the device)");
    expect(device_syncs() == 2 && legacy() == 9, "2 device synchronizations");

    ck(cudaFree(ids), "cudaFree");
    ck(cudaFree(table), "cudaFree");
    ck(cudaFree(out), "cudaFree");
    ck(cudaFreeHost(h), "cudaFreeHost");
    ck(cudaEventDestroy(e), "cudaEventDestroy");
    ck(cudaStreamDestroy(s), "cudaStreamDestroy");
    expect(device_syncs() == 2 && legacy() == 9, "frees and destroys are not counted");
    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "nothing reported");
    return failures;
}

/* ---- the simulated kernels and GEMM against plain references ---- */

uint16_t bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float from_bf16(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t rng = 88172645463325252ull; /* uniform()'s state */
float uniform(float lo, float hi) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}

/* Uploads n random values in [lo, hi) as dtype (0 fp32, 1 bf16); host copy (rounded) into ref. */
void* upload(size_t n, float lo, float hi, int dtype, double* ref) {
    size_t es = dtype ? 2 : 4;
    void* d;
    unsigned char* h = malloc(n * es);
    ck(cudaMalloc(&d, n * es), "cudaMalloc");
    for (size_t i = 0; i < n; i++) {
        float v = uniform(lo, hi);
        if (dtype) {
            uint16_t b = bf16(v);
            memcpy(h + 2 * i, &b, 2);
            v = from_bf16(b);
        } else {
            memcpy(h + 4 * i, &v, 4);
        }
        if (ref) ref[i] = v;
    }
    ck(cudaMemcpy(d, h, n * es, cudaMemcpyHostToDevice), "cudaMemcpy");
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    free(h);
    return d;
}

void download(const void* d, size_t n, int dtype, double* out) {
    size_t es = dtype ? 2 : 4;
    unsigned char* h = malloc(n * es);
    ck(cudaMemcpy(h, d, n * es, cudaMemcpyDeviceToHost), "cudaMemcpy");
    for (size_t i = 0; i < n; i++) {
        if (dtype) {
            uint16_t b;
            memcpy(&b, h + 2 * i, 2);
            out[i] = from_bf16(b);
        } else {
            float f;
            memcpy(&f, h + 4 * i, 4);
            out[i] = f;
        }
    }
    free(h);
}

/* Double-precision gate + ShortConv (engram.h's formulas) of one case; returns max |got - ref| / max |ref|. */
static double fused_case(int dtype, int B, int T, int G, int H, int K, int dil) {
    int N = B * T;
    size_t PH = (size_t)N * (G + 1) * H, GH = (size_t)G * H, NGH = (size_t)N * G * H;
    double *proj = malloc(PH * 8), *kb = malloc(GH * 8), *vb = malloc(H * 8), *hid = malloc(NGH * 8);
    double *kw = malloc(GH * 8), *qw = malloc(GH * 8), *cnw = malloc(GH * 8), *cw = malloc(GH * K * 8);
    void* dproj = upload(PH, -1, 1, dtype, proj);
    void* dkb = upload(GH, -.1f, .1f, dtype, kb);
    void* dvb = upload(H, -.1f, .1f, dtype, vb);
    void* dhid = upload(NGH, -1, 1, dtype, hid);
    void* dkw = upload(GH, .7f, 1.3f, dtype, kw);
    void* dqw = upload(GH, .7f, 1.3f, dtype, qw);
    void* dcnw = upload(GH, .7f, 1.3f, dtype, cnw);
    void* dcw = upload(GH * K, -.5f, .5f, dtype, cw);
    size_t es = dtype ? 2 : 4;
    void *value, *chained, *fused;
    float *gates1, *gates2;
    ck(cudaMalloc(&value, NGH * es), "cudaMalloc");
    ck(cudaMalloc(&chained, NGH * es), "cudaMalloc");
    ck(cudaMalloc(&fused, NGH * es), "cudaMalloc");
    ck(cudaMalloc((void**)&gates1, (size_t)N * G * 4), "cudaMalloc");
    ck(cudaMalloc((void**)&gates2, (size_t)N * G * 4), "cudaMalloc");
    cudaStream_t s = stream();
    const float geps = 0x1p-23f, ceps = 1e-5f;
    expect(engram_gate(dproj, dkb, dvb, dhid, dkw, dqw, geps, N, G, H, dtype, value, gates1, s) == 0, "engram_gate");
    expect(engram_short_conv(value, dcnw, dcw, ceps, B, T, G, H, K, dil, dtype, chained, s) == 0, "engram_short_conv");
    expect(engram_gate_short_conv(dproj, dkb, dvb, dhid, dkw, dqw, geps, dcnw, dcw, ceps, B, T, G, H, K, dil, dtype,
                                  fused, gates2, s) == 0, "engram_gate_short_conv");
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    unsigned char *a = malloc(NGH * es), *b = malloc(NGH * es), *ga = malloc((size_t)N * G * 4), *gb = malloc((size_t)N * G * 4);
    ck(cudaMemcpy(a, chained, NGH * es, cudaMemcpyDeviceToHost), "cudaMemcpy");
    ck(cudaMemcpy(b, fused, NGH * es, cudaMemcpyDeviceToHost), "cudaMemcpy");
    ck(cudaMemcpy(ga, gates1, (size_t)N * G * 4, cudaMemcpyDeviceToHost), "cudaMemcpy");
    ck(cudaMemcpy(gb, gates2, (size_t)N * G * 4, cudaMemcpyDeviceToHost), "cudaMemcpy");
    expect(!memcmp(a, b, NGH * es) && !memcmp(ga, gb, (size_t)N * G * 4),
           "fused gate + ShortConv gives the bits of gate then ShortConv (same vector path)");

    /* Reference in double, u rounded to the dtype as engram_gate stores it. */
    double* u = malloc(NGH * 8);
    double* got = malloc(NGH * 8);
    download(chained, NGH, dtype, got);
    for (int i = 0; i < N; i++)
        for (int g = 0; g < G; g++) {
            double skk = 0, sqq = 0, skq = 0;
            for (int h = 0; h < H; h++) {
                double k = proj[((size_t)i * (G + 1) + g) * H + h] + kb[g * H + h], q = hid[((size_t)i * G + g) * H + h];
                skk += k * k, sqq += q * q, skq += k * kw[g * H + h] * q * qw[g * H + h];
            }
            double dot = skq / sqrt(skk / H + geps) / sqrt(sqq / H + geps) / sqrt((double)H);
            double sg = (dot > 0) - (dot < 0), gate = 1 / (1 + exp(-sg * sqrt(fmax(fabs(dot), 1e-6))));
            for (int h = 0; h < H; h++) {
                double v = gate * (proj[((size_t)i * (G + 1) + G) * H + h] + vb[h]);
                u[((size_t)i * G + g) * H + h] = dtype ? from_bf16(bf16((float)v)) : (float)v;
            }
        }
    double worst = 0, scale = 0;
    for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < T; t++)
            for (int g = 0; g < G; g++)
                for (int h = 0; h < H; h++) {
                    int c = g * H + h;
                    double y = 0;
                    for (int k = 0; k < K; k++) {
                        int src = t - (K - 1 - k) * dil;
                        if (src < 0) continue;
                        const double* row = u + ((size_t)(bb * T + src) * G + g) * H;
                        double ss = 0;
                        for (int j = 0; j < H; j++) ss += row[j] * row[j];
                        y += cw[(size_t)c * K + k] * row[h] / sqrt(ss / H + ceps) * cnw[c];
                    }
                    size_t o = ((size_t)(bb * T + t) * G + g) * H + h;
                    double ref = u[o] + y / (1 + exp(-y));
                    worst = fmax(worst, fabs(got[o] - ref));
                    scale = fmax(scale, fabs(ref));
                }
    free(u), free(got), free(a), free(b), free(ga), free(gb);
    free(proj), free(kb), free(vb), free(hid), free(kw), free(qw), free(cnw), free(cw);
    void* bufs[] = {dproj, dkb, dvb, dhid, dkw, dqw, dcnw, dcw, value, chained, fused, gates1, gates2};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cudaFree(bufs[i]);
    cudaStreamDestroy(s);
    return worst / scale;
}

static int case_kernels(void) {
    double e;
    e = fused_case(0, 2, 37, 3, 64, 4, 3);
    expect(e < 1e-5, "fp32 gate + ShortConv within 1e-5 of the double reference");
    e = fused_case(1, 2, 37, 3, 64, 4, 40);
    expect(e < 2e-2, "bf16 gate + ShortConv (dilation 40) within bf16 rounding of the double reference");
    e = fused_case(0, 1, 20, 2, 50, 3, 1); /* H = 50: the element path */
    expect(e < 1e-5, "fp32 element path within 1e-5");

    /* Hashed gather: hash ids equal libengram's real host hash, rows are the table's. */
    enum { B = 2, T = 9, NG = 3, KH = 2, HEADS = (NG - 1) * KH, D = 4 };
    int64_t ids[B * T], lut[50], mult[NG] = {3, 1000003, 998244353}, mod[HEADS] = {13, 17, 19, 23}, off[HEADS];
    int64_t rows = 0;
    for (int h = 0; h < HEADS; h++) off[h] = rows, rows += mod[h];
    for (int i = 0; i < B * T; i++) ids[i] = (int64_t)(uniform(0, 50));
    for (int i = 0; i < 50; i++) lut[i] = (int64_t)(uniform(0, 40));
    int64_t compressed[B * T], hash_host[B * T * HEADS], hash_dev[B * T * HEADS];
    for (int i = 0; i < B * T; i++) compressed[i] = lut[ids[i]];
    expect(engram_ngram_hash_host(compressed, B, T, 0, mult, NG, mod, KH, hash_host) == 0, "engram_ngram_hash_host");
    double tref[128 * D];
    float* table = upload((size_t)rows * D, -1, 1, 0, tref);
    int64_t *dids, *dlut, *dhash;
    float* dout;
    ck(cudaMalloc((void**)&dids, sizeof ids), "cudaMalloc");
    ck(cudaMalloc((void**)&dlut, sizeof lut), "cudaMalloc");
    ck(cudaMalloc((void**)&dhash, sizeof hash_dev), "cudaMalloc");
    ck(cudaMalloc((void**)&dout, (size_t)B * T * HEADS * D * 4), "cudaMalloc");
    ck(cudaMemcpy(dids, ids, sizeof ids, cudaMemcpyHostToDevice), "cudaMemcpy");
    ck(cudaMemcpy(dlut, lut, sizeof lut, cudaMemcpyHostToDevice), "cudaMemcpy");
    ck(cudaDeviceSynchronize(), "sync");
    expect(engram_hashed_gather(dids, B, T, dlut, 50, lut[0], mult, NG, mod, off, KH, table, rows, D,
                                ENGRAM_DTYPE_FLOAT32, dout, dhash, NULL) == 0, "engram_hashed_gather");
    float out[B * T * HEADS * D];
    ck(cudaMemcpy(hash_dev, dhash, sizeof hash_dev, cudaMemcpyDeviceToHost), "cudaMemcpy");
    ck(cudaMemcpy(out, dout, sizeof out, cudaMemcpyDeviceToHost), "cudaMemcpy");
    /* engram_ngram_hash_host was given pad 0; the gather pads with lut[0]: recompute the host hash with it. */
    expect(engram_ngram_hash_host(compressed, B, T, lut[0], mult, NG, mod, KH, hash_host) == 0, "host hash");
    expect(!memcmp(hash_host, hash_dev, sizeof hash_dev), "gather hash ids equal the real host hash");
    int rows_ok = 1;
    for (int i = 0; i < B * T * HEADS; i++)
        for (int c = 0; c < D; c++)
            rows_ok &= out[i * D + c] == (float)tref[(off[i % HEADS] + hash_dev[i]) * D + c];
    expect(rows_ok, "gathered rows are the hashed table rows");
    return failures;
}

static int case_gemm(void) {
    void* h;
    expect(cublasCreate_v2(&h) == 0, "cublasCreate");
    const int m = 37, n = 29, k = 70;
    for (int dt = 0; dt < 2; dt++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 1, ldc = m + 3;
                double* A = malloc(sizeof(double) * lda * (ta ? m : k));
                double* Bm = malloc(sizeof(double) * ldb * (tb ? k : n));
                void* dA = upload((size_t)lda * (ta ? m : k), -1, 1, dt, A);
                void* dB = upload((size_t)ldb * (tb ? k : n), -1, 1, dt, Bm);
                float* dC = dmalloc((size_t)ldc * n); /* NaN: beta = 0 must not read it */
                float alpha = 1.5f, beta = 0.f;
                expect(cublasGemmEx(h, ta, tb, m, n, k, &alpha, dA, dt ? 14 : 0, lda, dB, dt ? 14 : 0, ldb, &beta, dC,
                                    0, ldc, 68, -1) == 0, "cublasGemmEx");
                double* C = malloc(sizeof(double) * ldc * n);
                ck(cudaDeviceSynchronize(), "sync");
                download(dC, (size_t)ldc * n, 0, C);
                double worst = 0, pad_ok = 1;
                for (int j = 0; j < n; j++) {
                    for (int i = 0; i < m; i++) {
                        double r = 0;
                        for (int q = 0; q < k; q++)
                            r += (ta ? A[q + i * lda] : A[i + q * lda]) * (tb ? Bm[j + q * ldb] : Bm[q + j * ldb]);
                        worst = fmax(worst, fabs(alpha * r - C[i + j * ldc]));
                    }
                    for (int i = m; i < ldc; i++) pad_ok = pad_ok && isnan(C[i + j * ldc]);
                }
                expect(worst < 1e-4, "GEMM within fp32 rounding of the double product");
                expect(pad_ok, "GEMM leaves C's padding rows alone");
                free(A), free(Bm), free(C);
                cudaFree(dA), cudaFree(dB), cudaFree(dC);
            }
    float one = 1;
    expect(cublasGemmEx(h, 0, 0, -1, 1, 1, &one, NULL, 0, 1, NULL, 0, 1, &one, NULL, 0, 1, 68, -1) == 7,
           "m < 0 is CUBLAS_STATUS_INVALID_VALUE");
    expect(cublasDestroy_v2(h) == 0, "cublasDestroy");
    expect(counts().races == 0 && counts().hazards == 0 && counts().faults == 0, "no reports");
    return failures;
}

/* Creates one of everything; with `release`, releases it all. selfcheck.sh reads the exit summaries. */
static int leaks(int release) {
    cudaStream_t s = stream();
    cudaEvent_t e = event(cudaEventDisableTiming);
    float* d = dmalloc(16);
    float* h = pinned(16);
    void* blas;
    expect(cublasCreate_v2(&blas) == 0, "cublasCreate");
    cudaGraph_t g;
    cudaGraphExec_t x;
    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "cudaStreamBeginCapture");
    ck(cudaMemsetAsync(d, 0, 16 * sizeof(float), s), "cudaMemsetAsync");
    ck(cudaStreamEndCapture(s, &g), "cudaStreamEndCapture");
    ck(cudaGraphInstantiate(&x, g, 0), "cudaGraphInstantiate");
    if (release) {
        ck(cudaGraphExecDestroy(x), "cudaGraphExecDestroy");
        ck(cudaGraphDestroy(g), "cudaGraphDestroy");
        expect(cublasDestroy_v2(blas) == 0, "cublasDestroy");
        ck(cudaFreeHost(h), "cudaFreeHost");
        ck(cudaFree(d), "cudaFree");
        ck(cudaEventDestroy(e), "cudaEventDestroy");
        ck(cudaStreamDestroy(s), "cudaStreamDestroy");
    }
    return failures;
}

static int case_leaks(void) { return leaks(0); }
static int case_no_leaks(void) { return leaks(1); }

int main(int argc, char** argv) {
    static const struct {
        const char* name;
        int (*run)(void);
    } cases[] = {
        {"ordered", case_ordered},           {"missing_wait", case_missing_wait},
        {"host_reuse_ok", case_host_reuse_ok}, {"host_reuse", case_host_reuse},
        {"free_after_sync", case_free_after_sync}, {"free_pending", case_free_pending},
        {"pageable_ok", case_pageable_ok},   {"pageable_race", case_pageable_race},
        {"early_host_read", case_early_host_read}, {"event_timing", case_event_timing},
        {"bad_pointer", case_bad_pointer},   {"destroyed_stream", case_destroyed_stream},
        {"pointer_attributes", case_pointer_attributes},
        {"stream_device", case_stream_device}, {"stream_device_dead", case_stream_device_dead},
        {"sync_counters", case_sync_counters},
        {"kernels", case_kernels},           {"gemm", case_gemm},
        {"leaks", case_leaks},               {"no_leaks", case_no_leaks},
        {"graph", case_graph},               {"graph_errors", case_graph_errors},
        {"graph_race", case_graph_race},     {"cublas_workspace", case_cublas_workspace},
        {"packed_chunks", case_packed_chunks}, {"packed_garbage", case_packed_garbage},
        {"packed_commit_ordered", case_packed_commit_ordered}, {"packed_commit_race", case_packed_commit_race},
    };
    static const struct {
        const char* name;
        int (*run)(void);
    } two_device_cases[] = {
        {"two_devices_ok", case_two_devices_ok},   {"wrong_current_device", case_wrong_current_device},
        {"cross_device_memory", case_cross_device_memory}, {"other_device_sync", case_other_device_sync},
    };
    if (argc != 2) {
        printf("usage: sim_selfcheck CASE; cases:");
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) printf(" %s", cases[i].name);
        printf("\ntwo-device cases (SIM_DEVICES=2):");
        for (size_t i = 0; i < sizeof two_device_cases / sizeof *two_device_cases; i++)
            printf(" %s", two_device_cases[i].name);
        printf("\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!strcmp(argv[1], cases[i].name)) {
            int f = cases[i].run();
            printf("%s: %s (schedule %s)\n", argv[1], f ? "FAILED" : "ok", sim_schedule());
            return f ? 1 : 0;
        }
    }
    for (size_t i = 0; i < sizeof two_device_cases / sizeof *two_device_cases; i++) {
        if (!strcmp(argv[1], two_device_cases[i].name)) {
            if (device_count() != 2) {
                printf("%s: FAILED: needs SIM_DEVICES=2\n", argv[1]);
                return 1;
            }
            int f = two_device_cases[i].run();
            printf("%s: %s (schedule %s, 2 devices)\n", argv[1], f ? "FAILED" : "ok", sim_schedule());
            return f ? 1 : 0;
        }
    }
    printf("unknown case %s\n", argv[1]);
    return 2;
}
