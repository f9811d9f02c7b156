/* The simulator's libcudart.so.13: the CUDA runtime entry points the Java bindings (cuda_runtime_h)
 * call, plus sim_enqueue for the simulated cuBLAS and libengram. SIMULATED CUDA ON THE CPU, NOT A GPU:
 * SIM_DEVICES simulated devices (devices.c; default one; each compute capability 9.0, 1 "SM", 16 GiB),
 * device memory is host memory, streams are queues run by queue.c's schedule, races and hazards are
 * found by order.c.
 * One global lock: Java may call from several threads; queued work runs on the calling thread (and
 * sim_parallel_for's helpers) while the lock is held. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define SIM_DEVICE_BYTES ((size_t)16 << 30)
#define REPORTS_SHOWN 50

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread cudaError_t last_error;
cudaError_t sim_sticky;
sim_counts sim_count;

void sim_lock(void) { pthread_mutex_lock(&lock); }
void sim_unlock(void) { pthread_mutex_unlock(&lock); }

cudaError_t sim_set_error(cudaError_t e) {
    if (e != cudaSuccess) last_error = e;
    return e;
}

void sim_report(const char* kind, const char* fmt, ...) {
    long* counter = !strcmp(kind, "RACE") ? &sim_count.races : !strcmp(kind, "HAZARD") ? &sim_count.hazards
                                                                                      : &sim_count.faults;
    long n = ++*counter;
    if (n > REPORTS_SHOWN) {
        if (n == REPORTS_SHOWN + 1) fprintf(stderr, "SIM %s: (further %s reports counted, not shown)\n", kind, kind);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "SIM %s: ", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

SIM_EXPORT void sim_fault(const char* fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sim_lock();
    sim_report("FAULT", "%s", text);
    sim_unlock();
}

SIM_EXPORT void sim_get_counts(sim_counts* out) {
    sim_lock();
    *out = sim_count;
    sim_unlock();
}

static const char* schedule_at_start;
static long live_events;

static void summary(void) {
    /* At exit other threads may still hold the lock: nothing here takes it. */
    size_t dev_bytes, pinned_bytes, reg_bytes;
    size_t dev = mem_live(MEM_DEVICE, &dev_bytes), pinned = mem_live(MEM_PINNED, &pinned_bytes);
    size_t reg = mem_live(MEM_REGISTERED, &reg_bytes);
    long streams = 0;
    for (int i = 0; i < queue_stream_count(); i++) streams += !queue_stream_at(i)->legacy && !queue_stream_at(i)->destroyed;
    long graphs, execs;
    graph_live(&graphs, &execs);
    fprintf(stderr,
            "SIM SUMMARY: simulated CUDA on the CPU, not a GPU run: schedule %s, %ld operations run, %ld races, "
            "%ld hazards, %ld faults, %.3f ms simulated time; left at exit: %zu device allocations (%zu bytes), "
            "%zu pinned (%zu bytes), %zu registered (%zu bytes), %ld streams, %ld events, %ld graphs, %ld graph execs\n",
            schedule_at_start, sim_count.ops, sim_count.races, sim_count.hazards, sim_count.faults,
            queue_clock_ns() / 1e6, dev, dev_bytes, pinned, pinned_bytes, reg, reg_bytes, streams, live_events, graphs,
            execs);
}

__attribute__((constructor)) static void banner(void) {
    schedule_at_start = sim_schedule();
    int devices = dev_count(); /* a bad SIM_DEVICES aborts here, before the banner */
    fprintf(stderr, "SIM: simulated CUDA on the CPU (tests/cuda-sim), NOT a GPU run: cudart, cuBLAS and libengram's "
                    "kernels are CPU stand-ins; schedule %s", schedule_at_start);
    if (devices > 1) fprintf(stderr, "; %d simulated devices (SIM_DEVICES)", devices);
    fputc('\n', stderr);
    atexit(summary);
}

/* Most calls return a sticky error (a failed operation) until the process ends, as on a GPU. */
#define STICKY_CHECK()                                    \
    do {                                                  \
        if (sim_sticky) {                                 \
            cudaError_t e_ = sim_sticky;                  \
            sim_unlock();                                 \
            return sim_set_error(e_);                     \
        }                                                 \
    } while (0)

static cudaError_t done(cudaError_t e) {
    sim_unlock();
    return sim_set_error(e);
}

cudaError_t sim_done(cudaError_t e) { return done(e); }

/* An API call that CUDA prohibits while a capture sees it (capture_unsafe_call): refused before it does
 * anything. Caller holds the lock. */
#define CAPTURE_CHECK(call)                                 \
    do {                                                    \
        cudaError_t c_ = capture_unsafe_call(call);         \
        if (c_) return done(c_);                            \
    } while (0)

/* ---------------------------------------------------------------- errors, versions, device */

SIM_EXPORT const char* cudaGetErrorName(cudaError_t e) {
    switch ((int)e) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
        case cudaErrorNoDevice: return "cudaErrorNoDevice";
        case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
        case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
        case cudaErrorNotReady: return "cudaErrorNotReady";
        case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
        case cudaErrorHostMemoryAlreadyRegistered: return "cudaErrorHostMemoryAlreadyRegistered";
        case cudaErrorHostMemoryNotRegistered: return "cudaErrorHostMemoryNotRegistered";
        case cudaErrorIllegalState: return "cudaErrorIllegalState";
        case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
        case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
        case cudaErrorStreamCaptureMerge: return "cudaErrorStreamCaptureMerge";
        case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
        case cudaErrorStreamCaptureUnjoined: return "cudaErrorStreamCaptureUnjoined";
        case cudaErrorStreamCaptureIsolation: return "cudaErrorStreamCaptureIsolation";
        case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
        case cudaErrorCapturedEvent: return "cudaErrorCapturedEvent";
        case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
        default: return "unrecognized error code";
    }
}

SIM_EXPORT const char* cudaGetErrorString(cudaError_t e) {
    switch ((int)e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidDevice: return "invalid device ordinal";
        case cudaErrorInvalidResourceHandle: return "invalid resource handle";
        case cudaErrorNotReady: return "device not ready";
        case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
        case cudaErrorHostMemoryAlreadyRegistered: return "part or all of the requested memory range is already mapped";
        case cudaErrorHostMemoryNotRegistered: return "pointer does not correspond to a registered memory region";
        case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
        case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
        case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
        case cudaErrorStreamCaptureMerge: return "operation would result in a merge of separate capture sequences";
        case cudaErrorStreamCaptureUnmatched: return "capture was not ended in the same stream as it began";
        case cudaErrorStreamCaptureUnjoined: return "capturing stream has unjoined work";
        case cudaErrorStreamCaptureIsolation: return "dependency created on uncaptured work in another stream";
        case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream depend on a capturing blocking stream";
        case cudaErrorCapturedEvent: return "operation not permitted on an event last recorded in a capturing stream";
        case cudaErrorStreamCaptureWrongThread: return "attempt to terminate a thread-local capture sequence from another thread";
        default: return "unrecognized error code";
    }
}

SIM_EXPORT cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return sim_sticky ? sim_sticky : e;
}

SIM_EXPORT cudaError_t cudaPeekAtLastError(void) { return sim_sticky ? sim_sticky : last_error; }

SIM_EXPORT cudaError_t cudaRuntimeGetVersion(int* v) {
    if (!v) return sim_set_error(cudaErrorInvalidValue);
    *v = 13000;
    return cudaSuccess;
}

SIM_EXPORT cudaError_t cudaDriverGetVersion(int* v) {
    if (!v) return sim_set_error(cudaErrorInvalidValue);
    *v = 13000;
    return cudaSuccess;
}

/* Waits for the current device only, as CUDA does: another device's streams stay unordered. */
SIM_EXPORT cudaError_t cudaDeviceSynchronize(void) {
    sync_count_device();
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaDeviceSynchronize");
    int device = dev_current();
    queue_force_device(device);
    for (int i = 0; i < queue_stream_count(); i++) {
        Stream* s = queue_stream_at(i);
        if (s->device == device) order_host_sync(&s->vc);
    }
    return done(sim_sticky);
}

SIM_EXPORT cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
    if (!free_bytes || !total) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    size_t used = mem_device_bytes(dev_current()); /* the current device's, each has SIM_DEVICE_BYTES */
    *total = SIM_DEVICE_BYTES;
    *free_bytes = used < SIM_DEVICE_BYTES ? SIM_DEVICE_BYTES - used : 0;
    return done(cudaSuccess);
}

/* ---------------------------------------------------------------- memory */

/* cudaMalloc and cudaMallocHost: contents poisoned (0xFF reads as NaN / -1, never as plausible zeros),
 * the allocation tracked. Caller holds the lock. */
static cudaError_t allocate_tracked(void** p, size_t n, size_t align, int kind) {
    if (n == 0) {
        *p = NULL;
        return done(cudaSuccess);
    }
    int device = dev_current();
    if (kind == MEM_DEVICE && n > SIM_DEVICE_BYTES - mem_device_bytes(device)) return done(cudaErrorMemoryAllocation);
    void* m = aligned_alloc(align, (n + align - 1) / align * align);
    if (!m) return done(cudaErrorMemoryAllocation);
    memset(m, 0xFF, n);
    mem_add(m, n, kind, device);
    *p = m;
    return done(cudaSuccess);
}

/* cudaFree, cudaFreeHost and cudaHostUnregister of the live allocation starting at p: order_release reports
 * queued work the host has not synchronized with, then that work runs (the simulator must not free memory
 * queued work still uses), then the memory is poisoned and freed (owned) or only untracked (registered).
 * Caller holds the lock. */
static cudaError_t release_tracked(void* p, const char* call, int owned) {
    Alloc* a = mem_find(p);
    order_release(a->p, a->n, call);
    queue_force_all();
    a = mem_find(p); /* running queued work may have changed the table */
    if (owned) {
        memset(a->p, 0xEE, a->n);
        free(a->p);
    }
    mem_remove(a);
    return done(sim_sticky);
}

SIM_EXPORT cudaError_t cudaMalloc(void** p, size_t n) {
    if (!p) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaMalloc");
    return allocate_tracked(p, n, 256, MEM_DEVICE);
}

SIM_EXPORT cudaError_t cudaFree(void* p) {
    if (!p) return cudaSuccess;
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaFree");
    Alloc* a = mem_find(p);
    if (!a || a->kind != MEM_DEVICE || a->p != p) {
        sim_report("FAULT", "cudaFree(%p): not the start of a live cudaMalloc allocation", p);
        return done(cudaErrorInvalidValue);
    }
    return release_tracked(p, "cudaFree", 1);
}

SIM_EXPORT cudaError_t cudaMallocHost(void** p, size_t n) {
    if (!p) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaMallocHost");
    return allocate_tracked(p, n, 4096, MEM_PINNED);
}

SIM_EXPORT cudaError_t cudaFreeHost(void* p) {
    if (!p) return cudaSuccess;
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaFreeHost");
    Alloc* a = mem_find(p);
    if (!a || a->kind != MEM_PINNED || a->p != p) {
        sim_report("FAULT", "cudaFreeHost(%p): not the start of a live cudaMallocHost allocation", p);
        return done(cudaErrorInvalidValue);
    }
    return release_tracked(p, "cudaFreeHost", 1);
}

SIM_EXPORT cudaError_t cudaHostRegister(void* p, size_t n, unsigned int flags) {
    if (!p || n == 0 || (flags & ~0x0Fu)) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaHostRegister");
    Alloc* first = mem_find(p);
    Alloc* last = mem_find((char*)p + n - 1);
    if (first || last) return done(cudaErrorHostMemoryAlreadyRegistered);
    /* With unified addressing registered memory is mapped at its host address. */
    mem_add(p, n, MEM_REGISTERED, dev_current());
    return done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaHostUnregister(void* p) {
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaHostUnregister");
    Alloc* a = p ? mem_find(p) : NULL;
    if (!a || a->kind != MEM_REGISTERED || a->p != p) return done(cudaErrorHostMemoryNotRegistered);
    return release_tracked(p, "cudaHostUnregister", 0);
}

SIM_EXPORT cudaError_t cudaHostGetDevicePointer(void** device, void* host, unsigned int flags) {
    if (!device || !host || flags != 0) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    if (!mem_is_pinned(host, 1)) return done(cudaErrorInvalidValue);
    *device = host;
    return done(cudaSuccess);
}

/* ---------------------------------------------------------------- copies */

typedef struct CopyArg {
    void* dst;
    const void* src;
    size_t n;
    unsigned char staged[]; /* the pageable source, copied at the call (CUDA's staging buffer) */
} CopyArg;

static void run_copy(void* p) {
    CopyArg* c = p;
    memmove(c->dst, c->src, c->n);
}

typedef struct SetArg {
    void* p;
    int value;
    size_t n;
} SetArg;

static void run_set(void* p) {
    SetArg* a = p;
    memset(a->p, a->value, a->n);
}

static double copy_cost(size_t n) { return 1000.0 + (double)n / 20.0; } /* nominal 20 GB/s, not measured */

/* Resolves cudaMemcpyDefault and checks the pointers against the direction: device sides inside one
 * cudaMalloc allocation, host sides outside device memory. CUDA calls a mismatch undefined behaviour;
 * the simulator reports it ("SIM FAULT") and fails the call with cudaErrorInvalidValue. */
static int check_kind(const char* call, void* dst, const void* src, size_t n, int* kind) {
    int d_dev = mem_is_device(dst, n), s_dev = mem_is_device(src, n);
    const Alloc* da = mem_find(dst);
    const Alloc* sa = mem_find(src);
    int d_in_dev = da && da->kind == MEM_DEVICE, s_in_dev = sa && sa->kind == MEM_DEVICE; /* start in device memory */
    if (*kind == cudaMemcpyDefault) {
        *kind = s_dev ? (d_dev ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                      : (d_dev ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
    }
    int ok;
    switch (*kind) {
        case cudaMemcpyHostToHost: ok = !d_in_dev && !s_in_dev; break;
        case cudaMemcpyHostToDevice: ok = d_dev && !s_in_dev; break;
        case cudaMemcpyDeviceToHost: ok = s_dev && !d_in_dev; break;
        case cudaMemcpyDeviceToDevice: ok = d_dev && s_dev; break;
        default:
            sim_report("FAULT", "%s: unknown cudaMemcpyKind %d", call, *kind);
            return 0;
    }
    if (!ok) {
        static const char* names[] = {"HostToHost", "HostToDevice", "DeviceToHost", "DeviceToDevice"};
        sim_report("FAULT", "%s(dst %p, src %p, %zu bytes, cudaMemcpy%s): dst is %s, src is %s", call, dst, src, n,
                   names[*kind], d_dev ? "device memory" : d_in_dev ? "partly past its device allocation" : "host memory",
                   s_dev ? "device memory" : s_in_dev ? "partly past its device allocation" : "host memory");
    }
    return ok;
}

int cudart_check_copy(const char* call, void* dst, const void* src, size_t n, int* kind) {
    return check_kind(call, dst, src, n, kind);
}

static const char* copy_name(int kind) {
    static const char* names[] = {"memcpy HtoH", "memcpy HtoD", "memcpy DtoH", "memcpy DtoD"};
    return names[kind];
}

/* Queues one copy on s. A pageable host source is staged now; a pinned one is read when the copy runs
 * (and guarded: the host must not write it before synchronizing with the copy). Host-side ranges are
 * tracked only when pinned (pageable ones are staged or waited for by the call itself). */
static long queue_copy(Stream* s, void* dst, const void* src, size_t n, int kind, int stage) {
    CopyArg* c = malloc(sizeof *c + (stage ? n : 0));
    if (!c) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    c->dst = dst;
    c->n = n;
    c->src = src;
    if (stage) {
        memcpy(c->staged, src, n);
        c->src = c->staged;
    }
    int dst_tracked = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice || mem_is_pinned(dst, n);
    int src_tracked = !stage && (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice ||
                                 mem_is_pinned(src, n));
    sim_range r[2] = {{dst, dst_tracked ? n : 0, 1}, {src, src_tracked ? n : 0, 0}};
    Op op = {0};
    op.kind = OP_FN;
    op.fn = run_copy;
    op.arg = c;
    op.name = copy_name(kind);
    op.cost_ns = copy_cost(n);
    long pos = queue_push(s, op);
    order_access(s, op.name, pos, r, 2);
    if (src_tracked && kind == cudaMemcpyHostToDevice) order_guard(src, n, order_checksum(src, n), s, op.name);
    return pos;
}

long cudart_queue_copy(Stream* s, void* dst, const void* src, size_t n, int kind, int stage) {
    return queue_copy(s, dst, src, n, kind, stage);
}

static void host_waits_for(Stream* s, long pos) {
    queue_force(s, pos);
    order_host_sync(&s->vc);
    queue_progress(); /* eager streams waiting for what just ran go on */
}

/* Work queued on a stream of another device than the current one fails on a GPU (the stream is not in
 * the current device's context); the simulator reports it and answers as CUDA does. */
static int on_current_device(const Stream* s, const char* what) {
    int current = dev_current();
    if (s->device == current) return 1;
    sim_report("FAULT", "%s on stream #%d of device %d while device %d is current: cudaErrorInvalidResourceHandle",
               what, s->id, s->device, current);
    return 0;
}

int cudart_on_current_device(const Stream* s, const char* what) { return on_current_device(s, what); }

SIM_EXPORT cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, enum cudaMemcpyKind kind_in) {
    sync_count_legacy(); /* on the legacy stream: ordered after every blocking stream's earlier work */
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaMemcpy");
    cudaError_t ce = capture_legacy_use(queue_legacy(), "cudaMemcpy");
    if (ce) return done(ce);
    if (n == 0) return done(cudaSuccess);
    int kind = (int)kind_in;
    if (!dst || !src || !check_kind("cudaMemcpy", dst, src, n, &kind)) return done(cudaErrorInvalidValue);
    Stream* s = queue_legacy();
    if (kind == cudaMemcpyHostToDevice && !mem_is_pinned(src, n)) {
        /* Pageable source: the legacy stream is synchronized first, the source is staged, and the call
         * returns before the DMA to the device is known to be done: it lands later. */
        host_waits_for(s, s->n - 1);
        queue_copy(s, dst, src, n, kind, 1);
        queue_progress();
    } else if (kind == cudaMemcpyDeviceToDevice) {
        queue_copy(s, dst, src, n, kind, 0); /* no host synchronization for device-to-device */
        queue_progress();
    } else {
        long pos = queue_copy(s, dst, src, n, kind, 0);
        host_waits_for(s, pos);
    }
    return done(sim_sticky);
}

SIM_EXPORT cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, enum cudaMemcpyKind kind_in,
                                       cudaStream_t stream) {
    if (!stream) sync_count_legacy();
    sim_lock();
    STICKY_CHECK();
    Stream* s = queue_stream(stream);
    if (s->destroyed) {
        sim_report("FAULT", "cudaMemcpyAsync on destroyed stream #%d", s->id);
        return done(cudaErrorInvalidResourceHandle);
    }
    if (!on_current_device(s, "cudaMemcpyAsync")) return done(cudaErrorInvalidResourceHandle);
    cudaError_t ce = capture_legacy_use(s, "cudaMemcpyAsync");
    if (ce) return done(ce);
    if (n == 0) return done(cudaSuccess);
    int kind = (int)kind_in;
    if (!dst || !src || !check_kind("cudaMemcpyAsync", dst, src, n, &kind)) return done(cudaErrorInvalidValue);
    if (s->capture) return done(capture_copy(s, dst, src, n, kind)); /* recorded, run by graph launches */
    if (kind == cudaMemcpyHostToHost) {
        long pos = queue_copy(s, dst, src, n, kind, 0);
        host_waits_for(s, pos);
    } else if (kind == cudaMemcpyHostToDevice) {
        queue_copy(s, dst, src, n, kind, !mem_is_pinned(src, n)); /* pageable: staged at the call */
        queue_progress();
    } else if (kind == cudaMemcpyDeviceToHost && !mem_is_pinned(dst, n)) {
        long pos = queue_copy(s, dst, src, n, kind, 0);     /* pageable destination: returns when done */
        host_waits_for(s, pos);
    } else {
        /* A pinned destination is undefined until the copy completes: poison it (when nothing queued
         * uses it), so a host read before synchronizing sees garbage, not plausible old data. */
        if (kind == cudaMemcpyDeviceToHost && !order_in_use(dst, n)) memset(dst, 0xFF, n);
        queue_copy(s, dst, src, n, kind, 0);
        queue_progress();
    }
    return done(sim_sticky);
}

/* Queues memset(p, value, n) on s. */
static long queue_memset(Stream* s, void* p, int value, size_t n);
long cudart_queue_memset(Stream* s, void* p, int value, size_t n) { return queue_memset(s, p, value, n); }

static long queue_memset(Stream* s, void* p, int value, size_t n) {
    SetArg* a = malloc(sizeof *a);
    if (!a) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    *a = (SetArg){p, value, n};
    sim_range r[1] = {{p, n, 1}};
    Op op = {0};
    op.kind = OP_FN;
    op.fn = run_set;
    op.arg = a;
    op.name = "memset";
    op.cost_ns = copy_cost(n) / 10;
    long pos = queue_push(s, op);
    order_access(s, op.name, pos, r, 1);
    return pos;
}

SIM_EXPORT cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t stream) {
    if (!stream) sync_count_legacy();
    sim_lock();
    STICKY_CHECK();
    Stream* s = queue_stream(stream);
    if (s->destroyed) {
        sim_report("FAULT", "cudaMemsetAsync on destroyed stream #%d", s->id);
        return done(cudaErrorInvalidResourceHandle);
    }
    if (!on_current_device(s, "cudaMemsetAsync")) return done(cudaErrorInvalidResourceHandle);
    cudaError_t ce = capture_legacy_use(s, "cudaMemsetAsync");
    if (ce) return done(ce);
    if (n == 0) return done(cudaSuccess);
    if (!p || !mem_contains(p, n)) return done(cudaErrorInvalidValue);
    if (s->capture) return done(capture_memset(s, p, value, n));
    queue_memset(s, p, value, n);
    queue_progress();
    return done(cudaSuccess);
}

/* On the current device's legacy stream. CUDA: "asynchronous with respect to the host unless devPtr
 * refers to pinned host memory". */
SIM_EXPORT cudaError_t cudaMemset(void* p, int value, size_t n) {
    sync_count_legacy();
    sim_lock();
    STICKY_CHECK();
    CAPTURE_CHECK("cudaMemset");
    cudaError_t ce = capture_legacy_use(queue_legacy(), "cudaMemset");
    if (ce) return done(ce);
    if (n == 0) return done(cudaSuccess);
    if (!p || !mem_contains(p, n)) return done(cudaErrorInvalidValue);
    Stream* s = queue_legacy();
    long pos = queue_memset(s, p, value, n);
    if (mem_is_pinned(p, n)) host_waits_for(s, pos);
    else queue_progress();
    return done(cudaSuccess);
}

/* ---------------------------------------------------------------- device operations of cuBLAS and libengram */

SIM_EXPORT int sim_enqueue(void* stream, const char* name, sim_fn fn, void* arg, const sim_range* r, int nr,
                           double cost_ns) {
    if (!stream) sync_count_legacy();
    sim_lock();
    if (sim_sticky) {
        free(arg);
        STICKY_CHECK();
    }
    Stream* s = queue_stream(stream);
    if (s->destroyed) {
        sim_report("FAULT", "'%s' queued on destroyed stream #%d", name, s->id);
        free(arg);
        return done(cudaErrorInvalidResourceHandle);
    }
    char what[160];
    snprintf(what, sizeof what, "'%s'", name);
    if (!on_current_device(s, what)) {
        free(arg);
        return done(cudaErrorInvalidResourceHandle);
    }
    cudaError_t ce = capture_legacy_use(s, what);
    if (ce) {
        free(arg);
        return done(ce);
    }
    if (s->capture) { /* recorded with its ranges; checked and run at each graph launch */
        ce = capture_kernel(s, name, fn, arg, r, nr, cost_ns);
        if (ce) free(arg);
        return done(ce);
    }
    Op op = {0};
    op.kind = OP_FN;
    op.fault = cudart_ranges_fault(s, name, r, nr);
    op.fn = fn;
    op.arg = arg;
    op.name = name;
    op.cost_ns = cost_ns;
    long pos = queue_push(s, op);
    order_access(s, name, pos, r, nr);
    queue_progress();
    return done(cudaSuccess);
}

/* Reports the ranges a kernel on s may not touch (not device-accessible, or another device's memory);
 * 1 when there is one: the operation then fails when it runs, as a GPU's bad access would. */
int cudart_ranges_fault(const Stream* s, const char* name, const sim_range* r, int nr) {
    int fault = 0;
    for (int i = 0; i < nr; i++) {
        if (r[i].bytes == 0) continue;
        Alloc* a = r[i].ptr ? mem_find(r[i].ptr) : NULL;
        if (r[i].ptr && mem_contains(r[i].ptr, r[i].bytes)) {
            /* Pinned memory is portable; another device's memory needs peer access, which is not simulated. */
            if (a->kind == MEM_DEVICE && a->device != s->device) {
                sim_report("FAULT",
                           "'%s' (stream #%d, device %d) %s [%p, +%zu): memory of device %d; on a GPU without peer "
                           "access this is an illegal address",
                           name, s->id, s->device, r[i].write ? "writes" : "reads", r[i].ptr, r[i].bytes, a->device);
                fault = 1;
            }
            continue;
        }
        sim_report("FAULT", "'%s' (stream #%d) %s [%p, +%zu): %s; on a GPU this is an illegal address", name, s->id,
                   r[i].write ? "writes" : "reads", r[i].ptr, r[i].bytes,
                   a ? "the range runs past the end of its allocation"
                     : "not device memory or pinned host memory (freed, pageable, or never allocated)");
        fault = 1;
    }
    return fault;
}

/* ---------------------------------------------------------------- streams */

/* Streams belong to the device current when they are created. */
SIM_EXPORT cudaError_t cudaStreamCreateWithFlags(cudaStream_t* out, unsigned int flags) {
    if (!out || (flags & ~(unsigned)cudaStreamNonBlocking)) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    Stream* s = queue_new_stream(!(flags & cudaStreamNonBlocking));
    if (!s) return done(cudaErrorMemoryAllocation);
    *out = (cudaStream_t)s;
    return done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaStreamCreate(cudaStream_t* out) { return cudaStreamCreateWithFlags(out, cudaStreamDefault); }

/* A destroyed stream's queued work still runs; using its handle afterwards is an error. */
static Stream* live_stream(cudaStream_t h, const char* call) {
    Stream* s = queue_stream(h);
    if (s->destroyed) {
        sim_report("FAULT", "%s on destroyed stream #%d", call, s->id);
        return NULL;
    }
    return s;
}

SIM_EXPORT cudaError_t cudaStreamDestroy(cudaStream_t h) {
    sim_lock();
    if (!h) return done(cudaErrorInvalidResourceHandle); /* the legacy stream cannot be destroyed */
    Stream* s = live_stream(h, "cudaStreamDestroy");
    if (!s) return done(cudaErrorInvalidResourceHandle);
    if (s->capture) return done(capture_sync_refused(s, "cudaStreamDestroy")); /* end the capture first */
    s->destroyed = 1;
    return done(cudaSuccess);
}

/* The stream's device; NULL is the current device's legacy stream. The handle is only compared with
 * the streams this runtime made, never read through, so a stale or foreign one is an error, not a crash. */
SIM_EXPORT cudaError_t cudaStreamGetDevice(cudaStream_t h, int* device) {
    if (!device) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    Stream* s = queue_lookup(h);
    if (!s) {
        sim_report("FAULT", "cudaStreamGetDevice: %p is not a stream this runtime created", (void*)h);
        return done(cudaErrorInvalidResourceHandle);
    }
    if (s->destroyed) {
        sim_report("FAULT", "cudaStreamGetDevice on destroyed stream #%d", s->id);
        return done(cudaErrorInvalidResourceHandle);
    }
    *device = s->device;
    return done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaStreamSynchronize(cudaStream_t h) {
    if (!h) sync_count_legacy();
    sim_lock();
    STICKY_CHECK();
    Stream* s = live_stream(h, "cudaStreamSynchronize");
    if (!s) return done(cudaErrorInvalidResourceHandle);
    if (s->capture) return done(capture_sync_refused(s, "cudaStreamSynchronize"));
    cudaError_t ce = capture_legacy_use(s, "cudaStreamSynchronize");
    if (ce) return done(ce);
    host_waits_for(s, s->n - 1);
    return done(sim_sticky);
}

static Event* live_event(cudaEvent_t h, const char* call) {
    Event* e = (Event*)h;
    if (!e || e->magic != SIM_EVENT_MAGIC) {
        fprintf(stderr, "SIM FAULT: %s: %p is not an event this runtime created\n", call, (void*)h);
        abort();
    }
    if (e->destroyed) {
        sim_report("FAULT", "%s on a destroyed event", call);
        return NULL;
    }
    return e;
}

SIM_EXPORT cudaError_t cudaStreamWaitEvent(cudaStream_t h, cudaEvent_t ev, unsigned int flags) {
    if (!h) sync_count_legacy();
    sim_lock();
    STICKY_CHECK();
    Stream* s = live_stream(h, "cudaStreamWaitEvent");
    Event* e = live_event(ev, "cudaStreamWaitEvent");
    if (!s || !e) return done(cudaErrorInvalidResourceHandle);
    if (flags != 0) return done(cudaErrorInvalidValue);
    int handled;
    cudaError_t ce = capture_event_wait(s, e, &handled);
    if (handled) return done(ce);
    if ((ce = capture_legacy_use(s, "cudaStreamWaitEvent"))) return done(ce);
    if (e->s) { /* waiting for a never-recorded event waits for nothing */
        Op w = {0};
        w.kind = OP_WAIT;
        w.name = "cudaStreamWaitEvent";
        w.ws = e->s;
        w.wpos = e->pos;
        queue_push(s, w);
        order_join(&s->vc, &e->vc);
        queue_progress();
    }
    return done(cudaSuccess);
}

/* ---------------------------------------------------------------- events */

SIM_EXPORT cudaError_t cudaEventCreateWithFlags(cudaEvent_t* out, unsigned int flags) {
    if (!out || (flags & ~0x0Fu)) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    Event* e = calloc(1, sizeof *e);
    if (!e) return done(cudaErrorMemoryAllocation);
    e->magic = SIM_EVENT_MAGIC;
    e->timing = !(flags & cudaEventDisableTiming);
    e->device = dev_current();
    live_events++;
    *out = (cudaEvent_t)e;
    return done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaEventCreate(cudaEvent_t* out) { return cudaEventCreateWithFlags(out, cudaEventDefault); }

SIM_EXPORT cudaError_t cudaEventDestroy(cudaEvent_t ev) {
    sim_lock();
    Event* e = live_event(ev, "cudaEventDestroy");
    if (!e) return done(cudaErrorInvalidResourceHandle);
    e->destroyed = 1; /* kept, so later use of the handle is reported, not a crash */
    live_events--;
    return done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t h) {
    if (!h) sync_count_legacy();
    sim_lock();
    STICKY_CHECK();
    Event* e = live_event(ev, "cudaEventRecord");
    Stream* s = live_stream(h, "cudaEventRecord");
    if (!s || !e) return done(cudaErrorInvalidResourceHandle);
    if (e->device != s->device) { /* "event and stream must be on the same CUDA context" */
        sim_report("FAULT", "cudaEventRecord of an event of device %d on stream #%d of device %d", e->device, s->id,
                   s->device);
        return done(cudaErrorInvalidResourceHandle);
    }
    if (s->capture) return done(capture_event_record(s, e)); /* orders the capture; no node */
    cudaError_t ce = capture_legacy_use(s, "cudaEventRecord");
    if (ce) return done(ce);
    e->cap_id = 0;
    Op op = {0};
    op.kind = OP_RECORD;
    op.name = "cudaEventRecord";
    op.ev = e;
    e->pos = queue_push(s, op);
    e->s = s;
    order_join(&s->vc, &order_host);
    e->vc = s->vc;
    queue_progress();
    return done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaEventSynchronize(cudaEvent_t ev) {
    sim_lock();
    STICKY_CHECK();
    Event* e = live_event(ev, "cudaEventSynchronize");
    if (!e) return done(cudaErrorInvalidResourceHandle);
    if (capture_event_captured(e)) return done(cudaErrorCapturedEvent);
    if (e->s) {
        queue_force(e->s, e->pos);
        order_host_sync(&e->vc);
        queue_progress();
    }
    return done(sim_sticky);
}

/* Simulated time: queue.c's clock, advanced by each operation's nominal cost when it runs on the CPU.
 * Positive and monotonic along a stream; NOT a measurement of anything. */
SIM_EXPORT cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
    if (!ms) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    STICKY_CHECK();
    Event* a = live_event(start, "cudaEventElapsedTime");
    Event* b = live_event(end, "cudaEventElapsedTime");
    if (!a || !b) return done(cudaErrorInvalidResourceHandle);
    if (capture_event_captured(a) || capture_event_captured(b)) return done(cudaErrorCapturedEvent);
    if (!a->timing || !b->timing || !a->s || !b->s) return done(cudaErrorInvalidResourceHandle);
    if (!queue_event_done(a) || !queue_event_done(b)) return done(cudaErrorNotReady);
    if (a->stamped_s != a->s || a->stamped_pos != a->pos || b->stamped_s != b->s || b->stamped_pos != b->pos) {
        return done(cudaErrorNotReady);
    }
    *ms = (float)((b->time_ns - a->time_ns) / 1e6);
    return done(cudaSuccess);
}
