/* Happens-before bookkeeping: the race and hazard detector of the simulator. Independent of the
 * schedule (queue.c): it reasons about what CUDA guarantees, not about what the CPU happened to run.
 *
 * Every stream carries a vector clock. Queuing an operation on stream s first joins the host's clock
 * (work queued after the host synchronized with something runs after it), then ticks s's component;
 * an event record copies s's clock, cudaStreamWaitEvent joins the event's clock into the waiting
 * stream, and a host synchronization (stream, event, device, synchronous copy) joins into the host's
 * clock. Operation X happens before operation Y iff Y's clock has X's tick in X's component.
 *
 * Each queued operation leaves an access record per memory range. A new operation whose range
 * overlaps a record of another stream, where one of the two writes and the record does not happen
 * before it, is a data race on a GPU: "SIM RACE". Records the host has synchronized with are dropped;
 * freeing or unpinning memory that still has records is "SIM HAZARD" (freed while queued work uses it).
 * Pinned host sources of queued copies are checksummed; if the bytes changed by the time the host
 * synchronizes with the copy (and no device operation wrote them), the host wrote them while the copy
 * could still be reading them: "SIM HAZARD". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

VClock order_host;

typedef struct Rec {
    const char* lo;
    const char* hi;
    int write;
    int slot;
    uint32_t epoch;
    int stream_id;
    long pos;
    const char* name;
} Rec;

typedef struct Guard {
    const char* lo;
    const char* hi;
    uint64_t sum;
    int slot;
    uint32_t epoch;
    int stream_id;
    const char* name;
    int dirty; /* a device operation writes the range too: its content may change legitimately */
} Guard;

static Rec* recs;
static size_t nrecs, rcap;
static Guard* guards;
static size_t nguards, gcap;
static unsigned char slot_used[SIM_MAX_SLOTS];

static void* grow(void* p, size_t* cap, size_t elem) {
    *cap = *cap ? 2 * *cap : 256;
    p = realloc(p, *cap * elem);
    if (!p) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    return p;
}

int order_alloc_slot(void) {
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < SIM_MAX_SLOTS; k++) {
            if (!slot_used[k]) {
                slot_used[k] = 1;
                return k;
            }
        }
        /* Reuse the slots of destroyed streams that have run everything and that the host has
         * synchronized with: their records are gone and their clock component only grows. */
        for (int i = 0; i < queue_stream_count(); i++) {
            Stream* s = queue_stream_at(i);
            if (s->destroyed && s->slot >= 0 && s->done == s->n && order_host.c[s->slot] >= s->vc.c[s->slot]) {
                slot_used[s->slot] = 0;
                s->slot = -1;
            }
        }
    }
    fprintf(stderr, "SIM: more than %d streams alive (or destroyed but never synchronized with)\n", SIM_MAX_SLOTS);
    abort();
}

void order_join(VClock* into, const VClock* from) {
    for (int k = 0; k < SIM_MAX_SLOTS; k++)
        if (from->c[k] > into->c[k]) into->c[k] = from->c[k];
}

static int overlap(const char* lo, const char* hi, const Rec* r) { return lo < r->hi && r->lo < hi; }

void order_access(Stream* s, const char* name, long pos, const sim_range* r, int nr) {
    order_join(&s->vc, &order_host);
    uint32_t epoch = ++s->vc.c[s->slot];
    for (int i = 0; i < nr; i++) {
        if (r[i].bytes == 0) continue;
        const char* lo = r[i].ptr;
        const char* hi = lo + r[i].bytes;
        for (size_t j = 0; j < nrecs; j++) {
            const Rec* x = &recs[j];
            if (!overlap(lo, hi, x) || !(x->write || r[i].write) || s->vc.c[x->slot] >= x->epoch) continue;
            sim_report("RACE",
                       "'%s' (stream #%d, op %ld) %s [%p, +%zu) that '%s' (stream #%d, op %ld) %s, and no event wait "
                       "or host synchronization orders the two",
                       name, s->id, pos, r[i].write ? "writes" : "reads", r[i].ptr, r[i].bytes, x->name, x->stream_id,
                       x->pos, x->write ? "writes" : "reads");
            break; /* one report per range */
        }
        if (r[i].write) {
            for (size_t g = 0; g < nguards; g++)
                if (lo < guards[g].hi && guards[g].lo < hi) guards[g].dirty = 1;
        }
    }
    for (int i = 0; i < nr; i++) {
        if (r[i].bytes == 0) continue;
        if (nrecs == rcap) recs = grow(recs, &rcap, sizeof *recs);
        recs[nrecs++] = (Rec){r[i].ptr, (const char*)r[i].ptr + r[i].bytes, r[i].write, s->slot, epoch, s->id, pos,
                              name};
    }
}

uint64_t order_checksum(const void* p, size_t n) {
    const unsigned char* b = p;
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

void order_guard(const void* p, size_t n, uint64_t sum, const Stream* s, const char* name) {
    if (nguards == gcap) guards = grow(guards, &gcap, sizeof *guards);
    guards[nguards++] = (Guard){p, (const char*)p + n, sum, s->slot, s->vc.c[s->slot], s->id, name, 0};
}

int order_in_use(const void* p, size_t n) {
    const char* lo = p;
    const char* hi = lo + n;
    for (size_t j = 0; j < nrecs; j++)
        if (overlap(lo, hi, &recs[j])) return 1;
    return 0;
}

void order_host_sync(const VClock* learned) {
    order_join(&order_host, learned);
    size_t k = 0;
    for (size_t j = 0; j < nrecs; j++)
        if (order_host.c[recs[j].slot] < recs[j].epoch) recs[k++] = recs[j];
    nrecs = k;
    k = 0;
    for (size_t g = 0; g < nguards; g++) {
        Guard* x = &guards[g];
        if (order_host.c[x->slot] < x->epoch) {
            guards[k++] = *x;
            continue;
        }
        if (!x->dirty && order_checksum(x->lo, (size_t)(x->hi - x->lo)) != x->sum) {
            sim_report("HAZARD",
                       "the host wrote pinned memory [%p, +%zu) that '%s' (stream #%d) reads, before synchronizing "
                       "with it: on a GPU the copy may read either version",
                       (const void*)x->lo, (size_t)(x->hi - x->lo), x->name, x->stream_id);
        }
    }
    nguards = k;
}

void order_release(const void* p, size_t n, const char* what) {
    const char* lo = p;
    const char* hi = lo + n;
    int reported = 0;
    size_t k = 0;
    for (size_t j = 0; j < nrecs; j++) {
        const Rec* x = &recs[j];
        if (!overlap(lo, hi, x)) {
            recs[k++] = *x;
            continue;
        }
        if (!reported) {
            sim_report("HAZARD",
                       "%s of [%p, +%zu) while '%s' (stream #%d, op %ld), which %s it, was not waited for by the host",
                       what, p, n, x->name, x->stream_id, x->pos, x->write ? "writes" : "reads");
            reported = 1;
        }
    }
    nrecs = k;
    k = 0;
    for (size_t g = 0; g < nguards; g++)
        if (!(lo < guards[g].hi && guards[g].lo < hi)) guards[k++] = guards[g];
    nguards = k;
}
