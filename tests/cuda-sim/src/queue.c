/* Streams as queues and the schedule that decides when queued operations run on the CPU.
 *
 * Schedules (environment variable SIM_SCHEDULE):
 *   lazy      (default) nothing runs until the host forces it: a stream/event/device synchronize or a
 *             synchronous copy runs the forced stream, and what it waits for, and nothing else. Work
 *             the host forgot to wait for runs late (or never), so its results are missing or stale.
 *   rr        like lazy, but forcing a stream interleaves it step by step with every other stream that
 *             has runnable work (round robin), so independent streams run "concurrently".
 *   eager     every stream runs each operation as soon as its waits allow (permissive baseline).
 *   random:N  each stream is eager or lazy by a hash of N and its creation number.
 * Whatever the schedule, operations of one stream run in order and a wait runs only after the
 * recorded work it waits for; the race detector (order.c) does not depend on the schedule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

enum { SCHED_LAZY, SCHED_RR, SCHED_EAGER, SCHED_RANDOM };
static int schedule = -1;
static unsigned long random_seed;
static char schedule_name[64];

static Stream legacy_s[SIM_MAX_DEVICES]; /* one legacy default stream per device */
static int legacy_ready;
static Stream** streams;
static int nstreams, cap;
static double clock_ns;

static void init_schedule(void) {
    if (schedule >= 0) return;
    const char* v = getenv("SIM_SCHEDULE");
    if (!v || !*v || !strcmp(v, "lazy")) {
        schedule = SCHED_LAZY;
    } else if (!strcmp(v, "rr")) {
        schedule = SCHED_RR;
    } else if (!strcmp(v, "eager")) {
        schedule = SCHED_EAGER;
    } else if (!strncmp(v, "random:", 7) && v[7]) {
        char* end;
        random_seed = strtoul(v + 7, &end, 10);
        if (*end) { fprintf(stderr, "SIM: bad SIM_SCHEDULE=%s (random:N takes a number)\n", v); abort(); }
        schedule = SCHED_RANDOM;
    } else {
        fprintf(stderr, "SIM: unknown SIM_SCHEDULE=%s (lazy, rr, eager, random:N)\n", v);
        abort();
    }
    snprintf(schedule_name, sizeof schedule_name, "%s", v && *v ? v : "lazy");
}

SIM_EXPORT const char* sim_schedule(void) {
    sim_lock();
    init_schedule();
    sim_unlock();
    return schedule_name;
}

static int initially_eager(int id) {
    init_schedule();
    if (schedule == SCHED_EAGER) return 1;
    if (schedule != SCHED_RANDOM) return 0;
    unsigned long h = (random_seed + 1) * 0x9E3779B97F4A7C15ul ^ ((unsigned long)id * 0xBF58476D1CE4E5B9ul);
    h ^= h >> 31;
    h *= 0x94D049BB133111EBul;
    return (int)((h >> 29) & 1);
}

static void add(Stream* s) {
    if (nstreams == cap) {
        cap = cap ? 2 * cap : 64;
        streams = realloc(streams, (size_t)cap * sizeof *streams);
        if (!streams) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    }
    streams[nstreams++] = s;
}

/* The devices' legacy streams are made together, first, so device d's is stream #d (with one device,
 * #0 as before) and the schedule's per-stream choices do not depend on which device was used first. */
static void make_legacy_streams(void) {
    if (legacy_ready) return;
    legacy_ready = 1;
    for (int d = 0; d < dev_count(); d++) {
        Stream* s = &legacy_s[d];
        s->magic = SIM_STREAM_MAGIC;
        s->id = nstreams;
        s->slot = order_alloc_slot();
        s->device = d;
        s->legacy = 1;
        s->eager = initially_eager(s->id);
        add(s);
    }
}

Stream* queue_legacy(void) {
    make_legacy_streams();
    return &legacy_s[dev_current()];
}

Stream* queue_stream(void* handle) {
    if (!handle) return queue_legacy();
    Stream* s = handle;
    if (s->magic != SIM_STREAM_MAGIC) {
        fprintf(stderr, "SIM FAULT: %p is not a stream this runtime created\n", handle);
        abort();
    }
    return s;
}

/* Compares handles only (never reads through one), so any value is safe to pass. */
Stream* queue_lookup(void* handle) {
    if (!handle) return queue_legacy();
    for (int i = 0; i < nstreams; i++)
        if (streams[i] == handle) return streams[i];
    return NULL;
}

Stream* queue_new_stream(int blocking) {
    make_legacy_streams();
    Stream* s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->magic = SIM_STREAM_MAGIC;
    s->id = nstreams;
    s->slot = order_alloc_slot();
    s->device = dev_current();
    s->blocking = blocking;
    s->eager = initially_eager(s->id);
    s->vc = order_host;
    add(s);
    return s;
}

int queue_stream_count(void) { return nstreams; }
Stream* queue_stream_at(int i) { return streams[i]; }

static long append(Stream* s, Op op) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->ops = realloc(s->ops, (size_t)s->cap * sizeof *s->ops);
        if (!s->ops) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    }
    s->ops[s->n] = op;
    return s->n++;
}

static void wait_for_tail(Stream* s, Stream* other) {
    if (other->n == 0) return;
    Op w = {0};
    w.kind = OP_WAIT;
    w.name = "implicit legacy-stream wait";
    w.ws = other;
    w.wpos = other->n - 1;
    append(s, w);
    order_join(&s->vc, &other->vc);
}

long queue_push(Stream* s, Op op) {
    if (op.kind != OP_WAIT) {
        /* Legacy default stream semantics, per device: its work waits for all work queued before on the
         * device's blocking streams, and work on a blocking stream waits for its device's legacy stream. */
        if (s->legacy) {
            for (int i = 0; i < nstreams; i++)
                if (streams[i]->blocking && streams[i]->device == s->device) wait_for_tail(s, streams[i]);
        } else if (s->blocking) {
            wait_for_tail(s, &legacy_s[s->device]);
        }
    }
    return append(s, op);
}

static int blocked(const Stream* s) {
    const Op* op = &s->ops[s->done];
    return op->kind == OP_WAIT && op->ws->done <= op->wpos;
}

static void run_one(Stream* s) {
    Op* op = &s->ops[s->done];
    if (op->kind == OP_FN) {
        if (op->fault) {
            sim_sticky = cudaErrorIllegalAddress;  /* what the bad access of a kernel leaves behind */
        } else if (!sim_sticky) {
            op->fn(op->arg);                      /* after a fault, nothing runs any more (as on a GPU) */
        }
        if (op->body) graph_op_done(op->body);   /* a graph's argument: its body frees it */
        else free(op->arg);
        op->arg = NULL;
        op->body = NULL;
        clock_ns += op->cost_ns > 1.0 ? op->cost_ns : 1.0;
        sim_count.ops++;
    } else if (op->kind == OP_RECORD) {
        op->ev->stamped_s = s;
        op->ev->stamped_pos = s->done;
        op->ev->time_ns = clock_ns;
        clock_ns += 1.0;
    }
    s->done++;
}

void queue_force(Stream* s, long upto) {
    init_schedule();
    while (schedule == SCHED_RR && s->done <= upto && s->done < s->n) {
        /* Every other stream with runnable work takes one step, then s (if runnable). */
        for (int i = 0; i < nstreams; i++) {
            Stream* x = streams[i];
            if (x != s && x->done < x->n && !blocked(x)) run_one(x);
        }
        if (s->done <= upto && s->done < s->n && !blocked(s)) run_one(s);
        else if (s->done <= upto && s->done < s->n) {
            Op* w = &s->ops[s->done];
            queue_force(w->ws, w->wpos);
        }
    }
    while (s->done <= upto && s->done < s->n) {
        if (blocked(s)) {
            Op* w = &s->ops[s->done];
            queue_force(w->ws, w->wpos);
        }
        run_one(s);
    }
}

void queue_progress(void) {
    int moved = 1;
    while (moved) {
        moved = 0;
        for (int i = 0; i < nstreams; i++) {
            Stream* s = streams[i];
            if (!s->eager) continue;
            while (s->done < s->n && !blocked(s)) {
                run_one(s);
                moved = 1;
            }
        }
    }
}

void queue_force_all(void) {
    make_legacy_streams();
    for (int i = 0; i < nstreams; i++) queue_force(streams[i], streams[i]->n - 1);
}

void queue_force_device(int device) {
    make_legacy_streams();
    for (int i = 0; i < nstreams; i++)
        if (streams[i]->device == device) queue_force(streams[i], streams[i]->n - 1);
}

int queue_event_done(const Event* e) { return e->s == NULL || e->s->done > e->pos; }

double queue_clock_ns(void) { return clock_ns; }

SIM_EXPORT void sim_set_eager(void* stream, int eager) {
    sim_lock();
    queue_stream(stream)->eager = eager;
    queue_progress();
    sim_unlock();
}
