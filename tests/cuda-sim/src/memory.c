/* Allocation registry of the simulator: cudaMalloc, cudaMallocHost and cudaHostRegister ranges, kept
 * sorted by address for range lookups, each with the device current when it was made. Caller holds
 * the lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static Alloc* allocs;
static size_t nallocs, cap;
static size_t device_bytes[SIM_MAX_DEVICES]; /* per device: cudaMemGetInfo answers per device */

/* Index of the first allocation starting after p. */
static size_t upper(const void* p) {
    size_t lo = 0, hi = nallocs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((const char*)allocs[mid].p <= (const char*)p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

Alloc* mem_find(const void* p) {
    size_t i = upper(p);
    if (i == 0) return NULL;
    Alloc* a = &allocs[i - 1];
    return (const char*)p < a->p + a->n ? a : NULL;
}

static Alloc* find_range(const void* p, size_t n) {
    Alloc* a = mem_find(p);
    if (!a) return NULL;
    return (size_t)(a->p + a->n - (const char*)p) >= n ? a : NULL;
}

int mem_contains(const void* p, size_t n) { return find_range(p, n) != NULL; }

int mem_is_pinned(const void* p, size_t n) {
    Alloc* a = find_range(p, n);
    return a && (a->kind == MEM_PINNED || a->kind == MEM_REGISTERED);
}

int mem_is_device(const void* p, size_t n) {
    Alloc* a = find_range(p, n);
    return a && a->kind == MEM_DEVICE;
}

void mem_add(void* p, size_t n, int kind, int device) {
    if (nallocs == cap) {
        cap = cap ? 2 * cap : 256;
        allocs = realloc(allocs, cap * sizeof *allocs);
        if (!allocs) { fprintf(stderr, "SIM: out of memory\n"); abort(); }
    }
    size_t i = upper(p);
    memmove(&allocs[i + 1], &allocs[i], (nallocs - i) * sizeof *allocs);
    allocs[i] = (Alloc){(char*)p, n, kind, device};
    nallocs++;
    if (kind == MEM_DEVICE) device_bytes[device] += n;
}

void mem_remove(Alloc* a) {
    if (a->kind == MEM_DEVICE) device_bytes[a->device] -= a->n;
    size_t i = (size_t)(a - allocs);
    memmove(&allocs[i], &allocs[i + 1], (nallocs - i - 1) * sizeof *allocs);
    nallocs--;
}

size_t mem_device_bytes(int device) { return device_bytes[device]; }

size_t mem_live(int kind, size_t* bytes) {
    size_t n = 0, b = 0;
    for (size_t i = 0; i < nallocs; i++) {
        if (allocs[i].kind != kind) continue;
        n++;
        b += allocs[i].n;
    }
    if (bytes) *bytes = b;
    return n;
}
