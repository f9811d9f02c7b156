/* Private to the simulator's libcudart.so.13: streams, events, allocations and the happens-before
 * bookkeeping shared by queue.c, order.c, memory.c and cudart.c. Every function here expects the
 * global lock (sim_lock) to be held. */
#ifndef SIM_RUNTIME_H
#define SIM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"
#include "sim_cuda_types.h"

#define SIM_EXPORT __attribute__((visibility("default")))

/* Simulated devices: SIM_DEVICES (default 1) of them, numbered from 0. */
#define SIM_MAX_DEVICES 8

/* Vector clocks: one component per stream slot (slots of destroyed, fully synchronized streams are
 * reused, so only streams alive at the same time need distinct slots). */
#define SIM_MAX_SLOTS 256
typedef struct VClock {
    uint32_t c[SIM_MAX_SLOTS];
} VClock;

enum { OP_FN, OP_WAIT, OP_RECORD };

struct Stream;
struct Event;
struct Capture;   /* graph.c: a stream capture in progress */
struct GraphBody; /* graph.c: the recorded work of a graph, shared by the graph, its execs and child nodes */

typedef struct Op {
    int kind;
    int fault;              /* OP_FN whose memory was not device-accessible: fails when run */
    sim_fn fn;
    void* arg;
    const char* name;
    double cost_ns;
    struct Stream* ws;      /* OP_WAIT: wait until ws has run its operation wpos */
    long wpos;
    struct Event* ev;       /* OP_RECORD */
    struct GraphBody* body; /* OP_FN replayed from a graph: arg belongs to the body (not freed after fn) */
} Op;

#define SIM_STREAM_MAGIC 0x5354524du
#define SIM_EVENT_MAGIC 0x45564e54u

typedef struct Stream {
    uint32_t magic;
    int id;        /* creation order, 0 = device 0's legacy default stream; printed in reports */
    int slot;      /* vector clock component */
    int device;    /* current when it was created (a legacy stream: its device) */
    int legacy;    /* a device's legacy default stream (the NULL handle while that device is current) */
    int blocking;  /* created without cudaStreamNonBlocking: synchronizes with the legacy stream */
    int eager;
    int destroyed;
    Op* ops;
    long n, cap, done;
    VClock vc;     /* happens-before knowledge of the stream's next operation */
    struct Capture* capture; /* the capture recording this stream's work, NULL when it is not capturing */
    int cap_origin;          /* the stream cudaStreamBeginCapture was called on (else it joined by an event) */
    long cap_nodes;          /* nodes this stream has added to its capture */
    long cap_joined;         /* a joined stream: its nodes the origin has waited for */
} Stream;

typedef struct Event {
    uint32_t magic;
    int timing;
    int destroyed;
    int device;    /* current when it was created; recorded only on streams of this device */
    Stream* s;     /* latest record, NULL when never recorded */
    long pos;
    VClock vc;
    Stream* stamped_s; /* the record whose simulated time time_ns holds */
    long stamped_pos;
    double time_ns;
    unsigned long cap_id; /* last recorded in a capturing stream: that capture's id (0: recorded eagerly) */
    Stream* cap_stream;   /* ... on this stream, */
    long cap_count;       /* ... after that stream's first cap_count nodes */
} Event;

/* ---- lock, errors, counters (cudart.c) ---- */
void sim_lock(void);
void sim_unlock(void);
cudaError_t sim_set_error(cudaError_t e); /* records this thread's last error, returns e */
extern cudaError_t sim_sticky;            /* set by a failed operation; every later call returns it */
extern sim_counts sim_count;
void sim_report(const char* kind, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

cudaError_t sim_done(cudaError_t e);       /* unlocks, records e as this thread's last error, returns e */

/* ---- synchronization counters (sync_counters.c; no lock needed) ---- */
void sync_count_device(void);                 /* a cudaDeviceSynchronize call */
void sync_count_legacy(void);                 /* a call that queues on or waits for a legacy default stream */

/* ---- devices (devices.c) ---- */
int dev_count(void);                          /* SIM_DEVICES, 1 to SIM_MAX_DEVICES; no lock needed */
int dev_current(void);                        /* the calling thread's current device (cudaSetDevice) */

/* ---- streams and scheduling (queue.c) ---- */
Stream* queue_legacy(void);                   /* the current device's legacy default stream */
Stream* queue_stream(void* handle);           /* NULL -> legacy; a handle we never made aborts */
Stream* queue_lookup(void* handle);           /* like queue_stream, but NULL for a handle we never made */
Stream* queue_new_stream(int blocking);
long queue_push(Stream* s, Op op);            /* appends, returns its position; applies legacy-stream sync */
void queue_progress(void);                    /* runs what eager streams can run */
void queue_force(Stream* s, long upto);       /* runs s (and what it waits for) through position upto */
void queue_force_all(void);
void queue_force_device(int device);          /* runs every stream of the device (and what they wait for) */
int queue_event_done(const Event* e);
double queue_clock_ns(void);
int queue_stream_count(void);
Stream* queue_stream_at(int i);

/* ---- cudart.c helpers the graph replay shares with eager calls ---- */
int cudart_ranges_fault(const Stream* s, const char* name, const sim_range* r, int nr); /* reports; 1 = fault */
int cudart_check_copy(const char* call, void* dst, const void* src, size_t n, int* kind); /* 0: reported */
long cudart_queue_copy(Stream* s, void* dst, const void* src, size_t n, int kind, int stage);
long cudart_queue_memset(Stream* s, void* p, int value, size_t n);
int cudart_on_current_device(const Stream* s, const char* what);

/* ---- stream capture and graphs (graph.c) ---- */
/* Whether work queued on s is recorded into a capture instead of run: then the capture_* calls below
 * record it (or refuse it with the capture's error, cudaErrorStreamCaptureInvalidated once invalidated). */
cudaError_t capture_kernel(Stream* s, const char* name, sim_fn fn, void* arg, const sim_range* r, int nr,
                           double cost_ns);
cudaError_t capture_copy(Stream* s, void* dst, const void* src, size_t n, int kind);
cudaError_t capture_memset(Stream* s, void* p, int value, size_t n);
cudaError_t capture_event_record(Stream* s, Event* e);
/* cudaStreamWaitEvent with a capture on either side; *handled = 0 when neither is involved. */
cudaError_t capture_event_wait(Stream* s, Event* e, int* handled);
/* An API call CUDA prohibits while a capture of the caller's sees it (global mode: any thread's; thread-local:
 * this thread's): invalidates those captures and answers cudaErrorStreamCaptureUnsupported, else cudaSuccess. */
cudaError_t capture_unsafe_call(const char* call);
/* Work on, or a wait for, a legacy stream while a blocking stream of its device captures:
 * cudaErrorStreamCaptureImplicit (the capture is invalidated), else cudaSuccess. */
cudaError_t capture_legacy_use(const Stream* s, const char* call);
/* cudaStreamSynchronize (and friends) of a capturing stream: invalidates it, cudaErrorStreamCaptureUnsupported. */
cudaError_t capture_sync_refused(Stream* s, const char* call);
int capture_event_captured(const Event* e);    /* last recorded in a capture (cudaErrorCapturedEvent for queries) */
void graph_op_done(struct GraphBody* b);       /* queue.c: a replayed operation of b ran */
void graph_live(long* graphs, long* execs);    /* for the exit summary */

/* ---- happens-before, races, hazards (order.c) ---- */
extern VClock order_host;                     /* what the host has synchronized with */
int order_alloc_slot(void);
void order_join(VClock* into, const VClock* from);
/* Gives the operation just queued on s (at position pos) its tick, reports races of its ranges with
 * other streams' operations and records them. */
void order_access(Stream* s, const char* name, long pos, const sim_range* r, int nr);
void order_host_sync(const VClock* learned);  /* the host now knows these operations completed */
/* The host frees/unpins [p, p+n): reports operations it has not synchronized with that use it, and
 * forgets the range. */
void order_release(const void* p, size_t n, const char* what);
/* Guards a pinned host source of a queued copy: the host must not write it before synchronizing. */
void order_guard(const void* p, size_t n, uint64_t sum, const Stream* s, const char* name);
/* Whether operations the host has not synchronized with touch [p, p+n). */
int order_in_use(const void* p, size_t n);
uint64_t order_checksum(const void* p, size_t n);

/* ---- allocations (memory.c) ---- */
enum { MEM_DEVICE = 1, MEM_PINNED = 2, MEM_REGISTERED = 3 };
typedef struct Alloc {
    char* p;
    size_t n;
    int kind;
    int device; /* current when it was allocated or registered (where MEM_DEVICE memory lives) */
} Alloc;
Alloc* mem_find(const void* p);                 /* the allocation containing p, or NULL */
int mem_contains(const void* p, size_t n);       /* [p, p+n) inside one allocation of any kind */
int mem_is_pinned(const void* p, size_t n);      /* inside one pinned or registered allocation */
int mem_is_device(const void* p, size_t n);      /* inside one cudaMalloc allocation */
void mem_add(void* p, size_t n, int kind, int device);
void mem_remove(Alloc* a);
size_t mem_device_bytes(int device);             /* cudaMalloc bytes live on the device */
size_t mem_live(int kind, size_t* bytes);        /* live allocations of a kind (and their bytes) */

#endif /* SIM_RUNTIME_H */
