/* Stream capture and CUDA graphs in the simulator's libcudart.so.13 (SIMULATED ON THE CPU, NOT A GPU):
 * cudaStreamBeginCapture / EndCapture / IsCapturing, cudaGraphInstantiate / Launch, cudaGraphExecDestroy,
 * cudaGraphDestroy, and the hooks cudart.c calls while a stream captures.
 *
 * A capture records, in call order, what is queued on its streams (kernels via sim_enqueue, cudaMemcpyAsync,
 * cudaMemsetAsync, graph launches as child graphs) into a graph body instead of running it. Event records
 * and waits inside the capture add no node: they only order the capture (and a non-capturing stream that
 * waits for an event recorded in a capture joins it, as in CUDA; its work is appended to the same list).
 * A graph launch replays the body's nodes in order on the launch stream as ordinary operations, so the
 * race detector, hazard checks and faults apply to them as to eager work (the ranges are re-checked at each
 * launch: memory freed since the capture is a fault). Kernel argument structs stay owned by the body and
 * are reused by every replay; the body is freed when its graph, its execs and the queued replays are gone.
 * Simplification: the replay is one sequence, so two branches of a forked capture that race with each
 * other are not reported.
 *
 * Errors, as CUDA answers them: an operation a capture prohibits invalidates it (cudaStreamEndCapture then
 * answers cudaErrorStreamCaptureInvalidated with a NULL graph and the stream stops capturing):
 *   synchronizing a capturing stream                         cudaErrorStreamCaptureUnsupported
 *   a capturing stream waiting for an event recorded outside cudaErrorStreamCaptureIsolation
 *   ... for an event of another capture in progress          cudaErrorStreamCaptureMerge
 *   cudaMalloc & co. (capture_unsafe_call) under a global
 *   capture (any thread) or a thread-local one (this thread) cudaErrorStreamCaptureUnsupported
 *   the legacy stream while a blocking stream captures       cudaErrorStreamCaptureImplicit
 *   work queued into an invalidated capture                  cudaErrorStreamCaptureInvalidated
 * and without invalidating: cudaStreamEndCapture of a stream that is not capturing (cudaErrorIllegalState),
 * of a stream that joined a capture it did not begin (cudaErrorStreamCaptureUnmatched), from another thread
 * than a non-relaxed capture's (cudaErrorStreamCaptureWrongThread); cudaEventSynchronize/ElapsedTime of an
 * event last recorded in a capture, or an eager wait for one whose capture has ended (cudaErrorCapturedEvent).
 * A forked stream that did not rejoin the origin before the end: cudaErrorStreamCaptureUnjoined. Host
 * copies in a capture (pageable memory, host to host) are refused with cudaErrorStreamCaptureUnsupported:
 * a replay would read the pageable source when it runs, not at the call (CUDA refuses at least the
 * synchronizing ones; the simulator refuses all of them so the Java side uses pinned memory in graphs). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define GRAPH_MAGIC 0x47525048u
#define EXEC_MAGIC 0x47455845u

enum { NODE_KERNEL, NODE_COPY, NODE_SET, NODE_CHILD };

typedef struct Node {
    int kind;
    const char* name;
    /* NODE_KERNEL */
    sim_fn fn;
    void* arg; /* owned by the body */
    double cost_ns;
    sim_range* r;
    int nr;
    /* NODE_COPY, NODE_SET */
    void* dst;
    const void* src;
    size_t n;
    int copy_kind;
    int value;
    /* NODE_CHILD */
    struct GraphBody* child;
} Node;

typedef struct GraphBody {
    long refs;    /* the capture or graph, its execs, child nodes of other bodies */
    long pending; /* replayed operations queued and not yet run (they use the kernels' args) */
    Node* nodes;
    long n, cap;
} GraphBody;

typedef struct Capture {
    unsigned long id;
    int mode;
    pthread_t thread;
    int invalid;
    cudaError_t why; /* the error that invalidated it */
    Stream* origin;
    GraphBody* body;
} Capture;

typedef struct SimGraph {
    uint32_t magic;
    int destroyed;
    GraphBody* body;
} SimGraph;

typedef struct SimExec {
    uint32_t magic;
    int destroyed;
    GraphBody* body;
} SimExec;

static unsigned long next_capture_id;
static long live_graphs, live_execs;

static void* xmalloc(size_t n) {
    void* p = malloc(n);
    if (!p) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    return p;
}

/* ---------------------------------------------------------------- bodies */

static GraphBody* body_new(void) {
    GraphBody* b = calloc(1, sizeof *b);
    if (!b) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    b->refs = 1;
    return b;
}

static void body_unref(GraphBody* b);

static void body_free_if_unused(GraphBody* b) {
    if (b->refs > 0 || b->pending > 0) return;
    for (long i = 0; i < b->n; i++) {
        Node* x = &b->nodes[i];
        if (x->kind == NODE_KERNEL) {
            free(x->arg);
            free(x->r);
        } else if (x->kind == NODE_CHILD) {
            body_unref(x->child);
        }
    }
    free(b->nodes);
    free(b);
}

static void body_unref(GraphBody* b) {
    b->refs--;
    body_free_if_unused(b);
}

void graph_op_done(GraphBody* b) {
    b->pending--;
    body_free_if_unused(b);
}

static Node* body_append(GraphBody* b) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->nodes = realloc(b->nodes, (size_t)b->cap * sizeof *b->nodes);
        if (!b->nodes) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    }
    Node* x = &b->nodes[b->n++];
    memset(x, 0, sizeof *x);
    return x;
}

void graph_live(long* graphs, long* execs) {
    *graphs = live_graphs;
    *execs = live_execs;
}

/* ---------------------------------------------------------------- captures */

static Capture* find_capture(unsigned long id) {
    if (!id) return NULL;
    for (int i = 0; i < queue_stream_count(); i++) {
        Stream* s = queue_stream_at(i);
        if (s->capture && s->capture->id == id) return s->capture;
    }
    return NULL;
}

static void invalidate(Capture* c, cudaError_t why) {
    if (!c->invalid) {
        c->invalid = 1;
        c->why = why;
    }
}

/* Takes every stream of c out of capture mode and frees c (not its body). */
static void finish_capture(Capture* c) {
    for (int i = 0; i < queue_stream_count(); i++) {
        Stream* s = queue_stream_at(i);
        if (s->capture == c) {
            s->capture = NULL;
            s->cap_origin = 0;
            s->cap_nodes = s->cap_joined = 0;
        }
    }
    free(c);
}

/* The node the next piece of work on s goes to, or the error when s's capture is invalidated. */
static cudaError_t add_node(Stream* s, Node** out) {
    Capture* c = s->capture;
    if (c->invalid) return cudaErrorStreamCaptureInvalidated;
    *out = body_append(c->body);
    s->cap_nodes++;
    return cudaSuccess;
}

cudaError_t capture_kernel(Stream* s, const char* name, sim_fn fn, void* arg, const sim_range* r, int nr,
                           double cost_ns) {
    Node* x;
    cudaError_t e = add_node(s, &x);
    if (e) return e;
    x->kind = NODE_KERNEL;
    x->name = name;
    x->fn = fn;
    x->arg = arg;
    x->cost_ns = cost_ns;
    x->nr = nr;
    x->r = xmalloc((size_t)(nr > 0 ? nr : 1) * sizeof *r);
    if (nr > 0) memcpy(x->r, r, (size_t)nr * sizeof *r);
    return cudaSuccess;
}

cudaError_t capture_copy(Stream* s, void* dst, const void* src, size_t n, int kind) {
    if (s->capture->invalid) return cudaErrorStreamCaptureInvalidated;
    int host_side = kind == cudaMemcpyHostToDevice ? 1 : kind == cudaMemcpyDeviceToHost ? 0 : -1;
    if (kind == cudaMemcpyHostToHost ||
        (host_side >= 0 && !mem_is_pinned(host_side ? src : dst, n))) {
        invalidate(s->capture, cudaErrorStreamCaptureUnsupported);
        return cudaErrorStreamCaptureUnsupported;
    }
    Node* x;
    cudaError_t e = add_node(s, &x);
    if (e) return e;
    x->kind = NODE_COPY;
    x->name = "memcpy (graph)";
    x->dst = dst;
    x->src = src;
    x->n = n;
    x->copy_kind = kind;
    return cudaSuccess;
}

cudaError_t capture_memset(Stream* s, void* p, int value, size_t n) {
    Node* x;
    cudaError_t e = add_node(s, &x);
    if (e) return e;
    x->kind = NODE_SET;
    x->name = "memset (graph)";
    x->dst = p;
    x->value = value;
    x->n = n;
    return cudaSuccess;
}

cudaError_t capture_event_record(Stream* s, Event* e) {
    Capture* c = s->capture;
    if (c->invalid) return cudaErrorStreamCaptureInvalidated;
    e->cap_id = c->id;
    e->cap_stream = s;
    e->cap_count = s->cap_nodes;
    return cudaSuccess;
}

int capture_event_captured(const Event* e) { return e->cap_id != 0; }

cudaError_t capture_event_wait(Stream* s, Event* e, int* handled) {
    Capture* c = s->capture;
    Capture* ec = find_capture(e->cap_id);
    *handled = 1;
    if (c) {
        if (c->invalid) return cudaErrorStreamCaptureInvalidated;
        if (e->cap_id == c->id) {
            /* Inside one capture the replay is sequential: the wait only tracks the origin rejoining a fork. */
            Stream* f = e->cap_stream;
            if (s == c->origin && f != s && f->capture == c && e->cap_count > f->cap_joined) f->cap_joined = e->cap_count;
            return cudaSuccess;
        }
        if (ec) {
            invalidate(c, cudaErrorStreamCaptureMerge);
            return cudaErrorStreamCaptureMerge;
        }
        if (e->cap_id || e->s) { /* recorded outside this capture (eagerly, or in one that has ended) */
            invalidate(c, cudaErrorStreamCaptureIsolation);
            return cudaErrorStreamCaptureIsolation;
        }
        return cudaSuccess; /* never recorded: waits for nothing */
    }
    if (ec) { /* a non-capturing stream waits for captured work: it joins that capture (a fork) */
        if (ec->invalid) return cudaErrorStreamCaptureInvalidated;
        if (s->legacy) {
            invalidate(ec, cudaErrorStreamCaptureImplicit);
            return cudaErrorStreamCaptureImplicit;
        }
        s->capture = ec;
        s->cap_origin = 0;
        s->cap_nodes = s->cap_joined = 0;
        return cudaSuccess;
    }
    if (e->cap_id) return cudaErrorCapturedEvent; /* recorded in a capture that has ended */
    *handled = 0;
    return cudaSuccess;
}

cudaError_t capture_unsafe_call(const char* call) {
    (void)call;
    pthread_t self = pthread_self();
    cudaError_t e = cudaSuccess;
    for (int i = 0; i < queue_stream_count(); i++) {
        Stream* s = queue_stream_at(i);
        Capture* c = s->cap_origin ? s->capture : NULL;
        if (!c) continue;
        if (c->mode == cudaStreamCaptureModeGlobal ||
            (c->mode == cudaStreamCaptureModeThreadLocal && pthread_equal(c->thread, self))) {
            invalidate(c, cudaErrorStreamCaptureUnsupported);
            e = cudaErrorStreamCaptureUnsupported;
        }
    }
    return e;
}

cudaError_t capture_legacy_use(const Stream* s, const char* call) {
    (void)call;
    if (!s->legacy) return cudaSuccess;
    cudaError_t e = cudaSuccess;
    for (int i = 0; i < queue_stream_count(); i++) {
        Stream* x = queue_stream_at(i);
        if (x->capture && x->blocking && x->device == s->device) {
            invalidate(x->capture, cudaErrorStreamCaptureImplicit);
            e = cudaErrorStreamCaptureImplicit;
        }
    }
    return e;
}

cudaError_t capture_sync_refused(Stream* s, const char* call) {
    (void)call;
    invalidate(s->capture, cudaErrorStreamCaptureUnsupported);
    return cudaErrorStreamCaptureUnsupported;
}

/* ---------------------------------------------------------------- replay */

/* Queues b's nodes on s in order, as eager work would be queued (caller holds the lock). */
static void replay(Stream* s, GraphBody* b) {
    for (long i = 0; i < b->n; i++) {
        Node* x = &b->nodes[i];
        if (x->kind == NODE_CHILD) {
            replay(s, x->child);
            continue;
        }
        if (x->kind == NODE_KERNEL) {
            Op op = {0};
            op.kind = OP_FN;
            op.fault = cudart_ranges_fault(s, x->name, x->r, x->nr);
            op.fn = x->fn;
            op.arg = x->arg;
            op.name = x->name;
            op.cost_ns = x->cost_ns;
            op.body = b;
            b->pending++;
            long pos = queue_push(s, op);
            order_access(s, x->name, pos, x->r, x->nr);
            continue;
        }
        int kind = x->copy_kind;
        int ok = x->kind == NODE_COPY ? cudart_check_copy("cudaGraphLaunch (memcpy node)", x->dst, x->src, x->n, &kind)
                                      : mem_contains(x->dst, x->n);
        if (!ok) { /* memory freed since the capture: the node faults when it runs, as on a GPU */
            if (x->kind == NODE_SET) {
                sim_report("FAULT", "cudaGraphLaunch: memset node writes [%p, +%zu), which is no longer allocated",
                           x->dst, x->n);
            }
            Op op = {0};
            op.kind = OP_FN;
            op.fault = 1;
            op.name = x->name;
            queue_push(s, op);
            continue;
        }
        if (x->kind == NODE_SET) {
            cudart_queue_memset(s, x->dst, x->value, x->n);
        } else {
            /* A pinned copy target is undefined until the copy runs (as for an eager cudaMemcpyAsync). */
            if (kind == cudaMemcpyDeviceToHost && !order_in_use(x->dst, x->n)) memset(x->dst, 0xFF, x->n);
            cudart_queue_copy(s, x->dst, x->src, x->n, kind, 0);
        }
    }
}

/* ---------------------------------------------------------------- API */

static Stream* capture_stream(cudaStream_t h, const char* call, cudaError_t* err) {
    Stream* s = queue_lookup(h);
    if (!s) {
        sim_report("FAULT", "%s: %p is not a stream this runtime created", call, (void*)h);
        *err = cudaErrorInvalidResourceHandle;
        return NULL;
    }
    if (s->destroyed) {
        sim_report("FAULT", "%s on destroyed stream #%d", call, s->id);
        *err = cudaErrorInvalidResourceHandle;
        return NULL;
    }
    return s;
}

SIM_EXPORT cudaError_t cudaStreamBeginCapture(cudaStream_t h, enum cudaStreamCaptureMode mode) {
    sim_lock();
    if (sim_sticky) return sim_done(sim_sticky);
    cudaError_t err = cudaSuccess;
    Stream* s = capture_stream(h, "cudaStreamBeginCapture", &err);
    if (!s) return sim_done(err);
    if ((int)mode < cudaStreamCaptureModeGlobal || (int)mode > cudaStreamCaptureModeRelaxed) {
        return sim_done(cudaErrorInvalidValue);
    }
    if (s->legacy) return sim_done(cudaErrorStreamCaptureUnsupported); /* the legacy stream cannot capture */
    if (s->capture) return sim_done(cudaErrorIllegalState);
    Capture* c = calloc(1, sizeof *c);
    if (!c) return sim_done(cudaErrorMemoryAllocation);
    c->id = ++next_capture_id;
    c->mode = (int)mode;
    c->thread = pthread_self();
    c->origin = s;
    c->body = body_new();
    s->capture = c;
    s->cap_origin = 1;
    s->cap_nodes = s->cap_joined = 0;
    return sim_done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaStreamEndCapture(cudaStream_t h, cudaGraph_t* graph) {
    if (!graph) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    cudaError_t err = cudaSuccess;
    Stream* s = capture_stream(h, "cudaStreamEndCapture", &err);
    if (!s) return sim_done(err);
    Capture* c = s->capture;
    if (!c) return sim_done(cudaErrorIllegalState);
    if (!s->cap_origin) {
        invalidate(c, cudaErrorStreamCaptureUnmatched);
        return sim_done(cudaErrorStreamCaptureUnmatched);
    }
    if (c->mode != cudaStreamCaptureModeRelaxed && !pthread_equal(c->thread, pthread_self())) {
        return sim_done(cudaErrorStreamCaptureWrongThread);
    }
    cudaError_t result = c->invalid ? cudaErrorStreamCaptureInvalidated : cudaSuccess;
    for (int i = 0; i < queue_stream_count() && !result; i++) {
        Stream* x = queue_stream_at(i);
        if (x->capture == c && x != s && x->cap_joined < x->cap_nodes) result = cudaErrorStreamCaptureUnjoined;
    }
    GraphBody* body = c->body;
    finish_capture(c);
    *graph = NULL;
    if (result) {
        body_unref(body);
        return sim_done(result);
    }
    SimGraph* g = calloc(1, sizeof *g);
    if (!g) {
        body_unref(body);
        return sim_done(cudaErrorMemoryAllocation);
    }
    g->magic = GRAPH_MAGIC;
    g->body = body; /* the capture's reference becomes the graph's */
    live_graphs++;
    *graph = (cudaGraph_t)g;
    return sim_done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaStreamIsCapturing(cudaStream_t h, enum cudaStreamCaptureStatus* status) {
    if (!status) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    cudaError_t err = cudaSuccess;
    Stream* s = capture_stream(h, "cudaStreamIsCapturing", &err);
    if (!s) return sim_done(err);
    if (s->legacy) {
        /* CUDA: asking about the legacy stream while a blocking stream captures is an implicit dependency. */
        for (int i = 0; i < queue_stream_count(); i++) {
            Stream* x = queue_stream_at(i);
            if (x->capture && x->blocking && x->device == s->device) return sim_done(cudaErrorStreamCaptureImplicit);
        }
    }
    *status = !s->capture ? cudaStreamCaptureStatusNone
              : s->capture->invalid ? cudaStreamCaptureStatusInvalidated
                                    : cudaStreamCaptureStatusActive;
    return sim_done(cudaSuccess);
}

static SimGraph* live_graph(cudaGraph_t h, const char* call) {
    SimGraph* g = (SimGraph*)h;
    if (!g) return NULL;
    if (g->magic != GRAPH_MAGIC) {
        fprintf(stderr, "SIM FAULT: %s: %p is not a graph this runtime created\n", call, (void*)h);
        abort();
    }
    if (g->destroyed) {
        sim_report("FAULT", "%s on a destroyed graph", call);
        return NULL;
    }
    return g;
}

static SimExec* live_exec(cudaGraphExec_t h, const char* call) {
    SimExec* x = (SimExec*)h;
    if (!x) return NULL;
    if (x->magic != EXEC_MAGIC) {
        fprintf(stderr, "SIM FAULT: %s: %p is not a graph exec this runtime created\n", call, (void*)h);
        abort();
    }
    if (x->destroyed) {
        sim_report("FAULT", "%s on a destroyed graph exec", call);
        return NULL;
    }
    return x;
}

SIM_EXPORT cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags) {
    if (!exec) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    if (sim_sticky) return sim_done(sim_sticky);
    SimGraph* g = live_graph(graph, "cudaGraphInstantiate");
    /* cudaGraphInstantiateFlag{AutoFreeOnLaunch, Upload, DeviceLaunch, UseNodePriority} */
    if (!g || (flags & ~0xFull)) return sim_done(cudaErrorInvalidValue);
    SimExec* x = calloc(1, sizeof *x);
    if (!x) return sim_done(cudaErrorMemoryAllocation);
    x->magic = EXEC_MAGIC;
    x->body = g->body;
    g->body->refs++;
    live_execs++;
    *exec = (cudaGraphExec_t)x;
    return sim_done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t h) {
    if (!h) sync_count_legacy();
    sim_lock();
    if (sim_sticky) return sim_done(sim_sticky);
    SimExec* x = live_exec(exec, "cudaGraphLaunch");
    if (!x) return sim_done(exec ? cudaErrorInvalidResourceHandle : cudaErrorInvalidValue);
    cudaError_t err = cudaSuccess;
    Stream* s = capture_stream(h, "cudaGraphLaunch", &err);
    if (!s) return sim_done(err);
    if (!cudart_on_current_device(s, "cudaGraphLaunch")) return sim_done(cudaErrorInvalidResourceHandle);
    if ((err = capture_legacy_use(s, "cudaGraphLaunch"))) return sim_done(err);
    if (s->capture) { /* launching into a capture adds the graph as a child node */
        Node* node;
        if ((err = add_node(s, &node))) return sim_done(err);
        node->kind = NODE_CHILD;
        node->name = "child graph";
        node->child = x->body;
        x->body->refs++;
        return sim_done(cudaSuccess);
    }
    replay(s, x->body);
    queue_progress();
    return sim_done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    sim_lock();
    SimExec* x = live_exec(exec, "cudaGraphExecDestroy");
    if (!x) return sim_done(exec ? cudaErrorInvalidResourceHandle : cudaErrorInvalidValue);
    x->destroyed = 1; /* kept, so a later use is reported, not a crash; queued replays keep the body alive */
    live_execs--;
    body_unref(x->body);
    x->body = NULL;
    return sim_done(cudaSuccess);
}

SIM_EXPORT cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    sim_lock();
    SimGraph* g = live_graph(graph, "cudaGraphDestroy");
    if (!g) return sim_done(graph ? cudaErrorInvalidResourceHandle : cudaErrorInvalidValue);
    g->destroyed = 1;
    live_graphs--;
    body_unref(g->body); /* execs instantiated from it keep their reference */
    g->body = NULL;
    return sim_done(cudaSuccess);
}
