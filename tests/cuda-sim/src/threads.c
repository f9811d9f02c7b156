/* sim_parallel_for: the simulated kernels' bodies split over CPU threads (SIM_THREADS, default the
 * online CPUs). Threads are started per call and joined before it returns, so nothing spins while
 * the JVM runs; small ranges run on the calling thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime.h"

#define MAX_THREADS 64

typedef struct Piece {
    void (*body)(void*, int64_t, int64_t);
    void* ctx;
    int64_t begin, end;
} Piece;

static void* run_piece(void* p) {
    Piece* x = p;
    x->body(x->ctx, x->begin, x->end);
    return NULL;
}

static int thread_count(void) {
    static int n;
    if (!n) {
        const char* v = getenv("SIM_THREADS");
        long t = v ? strtol(v, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
        n = t < 1 ? 1 : t > MAX_THREADS ? MAX_THREADS : (int)t;
    }
    return n;
}

SIM_EXPORT void sim_parallel_for(int64_t n, int64_t min_piece, void (*body)(void* ctx, int64_t begin, int64_t end),
                                 void* ctx) {
    if (n <= 0) return;
    int64_t t = thread_count();
    if (min_piece < 1) min_piece = 1;
    if (t > n / min_piece) t = n / min_piece;
    if (t <= 1) {
        body(ctx, 0, n);
        return;
    }
    Piece pieces[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int64_t i = 0; i < t; i++) pieces[i] = (Piece){body, ctx, n * i / t, n * (i + 1) / t};
    for (int64_t i = 1; i < t; i++) started[i] = pthread_create(&ids[i], NULL, run_piece, &pieces[i]) == 0;
    run_piece(&pieces[0]);
    for (int64_t i = 1; i < t; i++) {
        if (started[i]) pthread_join(ids[i], NULL);
        else run_piece(&pieces[i]); /* could not start a thread: do it here */
    }
}
