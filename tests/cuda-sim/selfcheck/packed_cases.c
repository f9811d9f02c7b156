/* Self-check cases of the simulated packed entry points (engram_hashed_gather_packed,
 * engram_short_conv_packed, engram_state_commit; engram.h "Packed batches"): sequences run in chunks with
 * their state committed between calls give the bits of one rectangular call on each whole sequence; any
 * descriptor values are memory-safe; the commit's writes are ordered against the kernels that read the
 * state like any other work. Simulated CUDA on the CPU, not a GPU. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfcheck.h"

#define CONV_EPS 1e-5f

/* Gather layer: max_ngram_size 3 (history of 2), 2 heads per n-gram, fp32 rows of 4. */
enum { NG = 3, KH = 2, HEADS = (NG - 1) * KH, D = 4, LUT = 40 };
static const int64_t mult[NG] = {3, 1000003, 998244353}, mods[HEADS] = {13, 17, 19, 23};

/* Three sequences in four slots, run in three calls: chunks[c][s] tokens of sequence s in call c. Call 0
 * starts them all (sequence 2 with no tokens), then sequence 0 decodes one token and finishes with 7,
 * sequence 1 continues with empty chunks, sequence 2 continues its empty start with one token. */
enum { S = 3, SLOTS = 4, CALLS = 3 };
static const int lens[S] = {13, 7, 1};
static const int32_t slot_of[S] = {2, 0, 3};
static const int chunks[CALLS][S] = {{5, 7, 0}, {1, 0, 1}, {7, 0, 0}};

static void* to_device(const void* host, size_t bytes) {
    void* d;
    ck(cudaMalloc(&d, bytes ? bytes : 1), "cudaMalloc");
    if (bytes) ck(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); /* a pageable upload lands before streams read it */
    return d;
}

static void from_device(void* host, const void* d, size_t bytes) {
    if (bytes) ck(cudaMemcpy(host, d, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
}

/* A random value of dtype (0 fp32, 1 bf16) stored at p. */
static void random_value(unsigned char* p, int dtype) {
    float v = uniform(-1, 1);
    if (dtype) {
        uint16_t b = bf16(v);
        memcpy(p, &b, 2);
    } else {
        memcpy(p, &v, 4);
    }
}

/* Runs the three calls and compares every output row (gathered rows, hash ids, conv output) bit for bit
 * with one rectangular call on each whole sequence. */
static void chunked_case(int dtype, int G, int H, int K, int dil) {
    char what[160];
    const size_t es = dtype ? 2 : 4, row = (size_t)G * H * es, grow = (size_t)HEADS * D * 4;
    const int M = NG - 1, W = (K - 1) * dil;
    int64_t lut[LUT], off[HEADS], table_rows = 0;
    for (int h = 0; h < HEADS; h++) off[h] = table_rows, table_rows += mods[h];
    for (int i = 0; i < LUT; i++) lut[i] = (int64_t)uniform(0, 30);
    const int64_t pad = lut[0];
    float* table = upload((size_t)table_rows * D, -1, 1, 0, NULL);
    int64_t* dlut = to_device(lut, sizeof lut);
    void* norm_w = upload((size_t)G * H, .7f, 1.3f, dtype, NULL);
    void* conv_w = upload((size_t)G * H * K, -.5f, .5f, dtype, NULL);
    cudaStream_t st = stream();

    /* Each whole sequence, and its rectangular results. */
    int64_t* ids[S];
    unsigned char *u[S], *conv_whole[S], *rows_whole[S];
    int64_t* hash_whole[S];
    for (int s = 0; s < S; s++) {
        ids[s] = malloc(sizeof(int64_t) * lens[s]);
        u[s] = malloc(row * lens[s]);
        /* Ids inside the table: the commit stores pad for an id outside it (the caller validates ids), where a
         * whole-sequence gather hashes it as invalid, so only valid ids give equal results. */
        for (int t = 0; t < lens[s]; t++) ids[s][t] = (int64_t)uniform(0, LUT);
        for (size_t b = 0; b < (size_t)lens[s] * G * H; b++) random_value(u[s] + b * es, dtype);
        conv_whole[s] = malloc(row * lens[s]);
        rows_whole[s] = malloc(grow * lens[s]);
        hash_whole[s] = malloc(sizeof(int64_t) * HEADS * lens[s]);
        int64_t* did = to_device(ids[s], sizeof(int64_t) * lens[s]);
        void* du = to_device(u[s], row * lens[s]);
        void *dconv, *drows, *dhash;
        ck(cudaMalloc(&dconv, row * lens[s]), "cudaMalloc");
        ck(cudaMalloc(&drows, grow * lens[s]), "cudaMalloc");
        ck(cudaMalloc(&dhash, sizeof(int64_t) * HEADS * lens[s]), "cudaMalloc");
        expect(engram_hashed_gather(did, 1, lens[s], dlut, LUT, pad, mult, NG, mods, off, KH, table, table_rows, D,
                                    ENGRAM_DTYPE_FLOAT32, drows, dhash, st) == 0, "engram_hashed_gather (whole)");
        expect(engram_short_conv(du, norm_w, conv_w, CONV_EPS, 1, lens[s], G, H, K, dil, dtype, dconv, st) == 0,
               "engram_short_conv (whole)");
        ck(cudaStreamSynchronize(st), "cudaStreamSynchronize");
        from_device(conv_whole[s], dconv, row * lens[s]);
        from_device(rows_whole[s], drows, grow * lens[s]);
        from_device(hash_whole[s], dhash, sizeof(int64_t) * HEADS * lens[s]);
        void* bufs[] = {did, du, dconv, drows, dhash};
        for (int i = 0; i < 5; i++) ck(cudaFree(bufs[i]), "cudaFree");
    }

    /* The state: never initialized (cudaMalloc memory reads as -1 / NaN): starts must not read it. */
    void *history, *window;
    ck(cudaMalloc(&history, sizeof(int64_t) * SLOTS * M), "cudaMalloc");
    ck(cudaMalloc(&window, (size_t)SLOTS * W * row + 1), "cudaMalloc");
    int done[S] = {0};
    for (int c = 0; c < CALLS; c++) {
        int32_t cu[S + 1] = {0}, slots[S];
        uint8_t starts[S];
        int tokens = 0;
        for (int s = 0; s < S; s++) {
            cu[s + 1] = cu[s] + chunks[c][s];
            slots[s] = slot_of[s];
            starts[s] = c == 0;
            tokens += chunks[c][s];
        }
        int64_t* cids = malloc(sizeof(int64_t) * (tokens + 1));
        unsigned char* cu_rows = malloc(row * (tokens + 1));
        for (int s = 0; s < S; s++) {
            memcpy(cids + cu[s], ids[s] + done[s], sizeof(int64_t) * chunks[c][s]);
            memcpy(cu_rows + row * cu[s], u[s] + row * done[s], row * chunks[c][s]);
        }
        int64_t* dids = to_device(cids, sizeof(int64_t) * tokens);
        void* du = to_device(cu_rows, row * tokens);
        int32_t* dcu = to_device(cu, sizeof cu);
        int32_t* dslots = to_device(slots, sizeof slots);
        uint8_t* dstarts = to_device(starts, sizeof starts);
        void *dconv, *drows, *dhash;
        ck(cudaMalloc(&dconv, row * tokens + 1), "cudaMalloc");
        ck(cudaMalloc(&drows, grow * tokens + 1), "cudaMalloc");
        ck(cudaMalloc(&dhash, sizeof(int64_t) * HEADS * tokens + 1), "cudaMalloc");
        expect(engram_hashed_gather_packed(dids, tokens, dcu, dslots, dstarts, S, history, SLOTS, dlut, LUT, pad,
                                           mult, NG, mods, off, KH, table, table_rows, D, ENGRAM_DTYPE_FLOAT32, drows,
                                           dhash, st) == 0, "engram_hashed_gather_packed");
        expect(engram_short_conv_packed(du, norm_w, conv_w, CONV_EPS, tokens, dcu, dslots, dstarts, S, window, SLOTS,
                                        G, H, K, dil, dtype, dconv, st) == 0, "engram_short_conv_packed");
        expect(engram_state_commit(dids, tokens, dcu, dslots, dstarts, S, SLOTS, dlut, LUT, pad, NG, history, du, G, H,
                                   K, dil, dtype, window, st) == 0, "engram_state_commit");
        ck(cudaStreamSynchronize(st), "cudaStreamSynchronize");
        unsigned char* got_conv = malloc(row * tokens + 1);
        unsigned char* got_rows = malloc(grow * tokens + 1);
        int64_t* got_hash = malloc(sizeof(int64_t) * HEADS * tokens + 1);
        from_device(got_conv, dconv, row * tokens);
        from_device(got_rows, drows, grow * tokens);
        from_device(got_hash, dhash, sizeof(int64_t) * HEADS * tokens);
        for (int s = 0; s < S; s++) {
            int n = chunks[c][s], at = cu[s], from = done[s];
            snprintf(what, sizeof what, "call %d, sequence %d (dtype %d, K %d, dilation %d): hash ids as whole", c, s,
                     dtype, K, dil);
            expect(!memcmp(got_hash + (size_t)at * HEADS, hash_whole[s] + (size_t)from * HEADS,
                           sizeof(int64_t) * HEADS * n), what);
            snprintf(what, sizeof what, "call %d, sequence %d (dtype %d, K %d, dilation %d): gathered rows as whole", c,
                     s, dtype, K, dil);
            expect(!memcmp(got_rows + grow * at, rows_whole[s] + grow * from, grow * n), what);
            snprintf(what, sizeof what, "call %d, sequence %d (dtype %d, K %d, dilation %d): conv output as whole", c,
                     s, dtype, K, dil);
            expect(!memcmp(got_conv + row * at, conv_whole[s] + row * from, row * n), what);
            done[s] += n;
        }
        free(cids), free(cu_rows), free(got_conv), free(got_rows), free(got_hash);
        void* bufs[] = {dids, du, dcu, dslots, dstarts, dconv, drows, dhash};
        for (int i = 0; i < 8; i++) ck(cudaFree(bufs[i]), "cudaFree");
    }
    /* The state now holds each sequence's last compressed ids and u rows (pad / zeros where shorter). */
    int64_t* hist = malloc(sizeof(int64_t) * SLOTS * M);
    unsigned char* win = malloc((size_t)SLOTS * W * row + 1);
    from_device(hist, history, sizeof(int64_t) * SLOTS * M);
    from_device(win, window, (size_t)SLOTS * W * row);
    int state_ok = 1;
    unsigned char* zeros = calloc(1, row);
    for (int s = 0; s < S; s++) {
        for (int j = 0; j < M; j++) {
            int p = lens[s] - M + j;
            int64_t want = p < 0 ? pad : lut[ids[s][p]];
            state_ok &= hist[slot_of[s] * M + j] == want;
        }
        for (int j = 0; j < W; j++) {
            int p = lens[s] - W + j;
            state_ok &= !memcmp(win + ((size_t)slot_of[s] * W + j) * row, p < 0 ? zeros : u[s] + row * p, row);
        }
    }
    snprintf(what, sizeof what, "the committed state (dtype %d, K %d, dilation %d) is the sequences' tails", dtype, K,
             dil);
    expect(state_ok, what);
    free(hist), free(win), free(zeros);
    for (int s = 0; s < S; s++) free(ids[s]), free(u[s]), free(conv_whole[s]), free(rows_whole[s]), free(hash_whole[s]);
    void* bufs[] = {table, dlut, norm_w, conv_w, history, window};
    for (int i = 0; i < 6; i++) ck(cudaFree(bufs[i]), "cudaFree");
    ck(cudaStreamDestroy(st), "cudaStreamDestroy");
}

int case_packed_chunks(void) {
    chunked_case(0, 2, 24, 4, 2); /* fp32, 16-byte path, window 6 */
    chunked_case(1, 3, 16, 3, 1); /* bf16, 16-byte path, window 2 */
    chunked_case(0, 2, 10, 4, 1); /* fp32, element path (H * 4 not a multiple of 16) */
    chunked_case(0, 1, 8, 1, 3);  /* kernel 1: no window */
    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "packed calls on one stream are not reported");
    return failures;
}

/* Descriptors the caller should have rejected: nothing outside the buffers is touched (no fault), the
 * calls succeed, and slots outside [0, num_slots) or owned by no sequence are not committed. */
int case_packed_garbage(void) {
    enum { T = 4, G = 1, H = 8, K = 3, M = NG - 1, W = K - 1, NS = 3, NSLOTS = 2 };
    const int32_t cus[][NS + 1] = {
        {5, -3, 100, 2},
        {2, INT32_MIN, INT32_MAX, 1},
        {0, 0, 0, 0},
        {0, 1, 2, 4},
    };
    const int32_t slot_sets[][NS] = {{-1, 7, 1}, {5, -7, 9}, {1, 1, 1}, {1, INT32_MIN, INT32_MAX}};
    const uint8_t start_sets[][NS] = {{0, 0, 0}, {0, 2, 255}, {0, 0, 1}, {0, 0, 0}};
    int64_t ids[T] = {1, 2, 3, 4}, lut[LUT], off[HEADS], rows = 0;
    for (int h = 0; h < HEADS; h++) off[h] = rows, rows += mods[h];
    for (int i = 0; i < LUT; i++) lut[i] = i;
    float* table = upload((size_t)rows * D, -1, 1, 0, NULL);
    float* value = upload((size_t)T * G * H, -1, 1, 0, NULL);
    float* norm_w = upload((size_t)G * H, .7f, 1.3f, 0, NULL);
    float* conv_w = upload((size_t)G * H * K, -.5f, .5f, 0, NULL);
    int64_t* dids = to_device(ids, sizeof ids);
    int64_t* dlut = to_device(lut, sizeof lut);
    float* out = dmalloc((size_t)T * G * H);
    float* gathered = dmalloc((size_t)T * HEADS * D);
    int64_t hist0[NSLOTS * M] = {11, 12, 13, 14};
    float win0[NSLOTS * W * G * H];
    for (int i = 0; i < NSLOTS * W * G * H; i++) win0[i] = (float)i;
    int64_t* history = to_device(hist0, sizeof hist0);
    float* window = to_device(win0, sizeof win0);
    cudaStream_t st = stream();
    for (size_t k = 0; k < sizeof cus / sizeof *cus; k++) {
        int32_t* dcu = to_device(cus[k], sizeof cus[k]);
        int32_t* dslots = to_device(slot_sets[k], sizeof slot_sets[k]);
        uint8_t* dstarts = to_device(start_sets[k], sizeof start_sets[k]);
        expect(engram_hashed_gather_packed(dids, T, dcu, dslots, dstarts, NS, history, NSLOTS, dlut, LUT, 0, mult, NG,
                                           mods, off, KH, table, rows, D, ENGRAM_DTYPE_FLOAT32, gathered, NULL,
                                           st) == 0, "engram_hashed_gather_packed with bad descriptors");
        expect(engram_short_conv_packed(value, norm_w, conv_w, CONV_EPS, T, dcu, dslots, dstarts, NS, window, NSLOTS,
                                        G, H, K, 1, ENGRAM_DTYPE_FLOAT32, out, st) == 0,
               "engram_short_conv_packed with bad descriptors");
        expect(engram_state_commit(dids, T, dcu, dslots, dstarts, NS, NSLOTS, dlut, LUT, 0, NG, history, value, G, H,
                                   K, 1, ENGRAM_DTYPE_FLOAT32, window, st) == 0,
               "engram_state_commit with bad descriptors");
        ck(cudaStreamSynchronize(st), "cudaStreamSynchronize");
        int64_t hist[NSLOTS * M];
        float win[NSLOTS * W * G * H];
        from_device(hist, history, sizeof hist);
        from_device(win, window, sizeof win);
        /* Slot 0 belongs to no sequence in any set: never written. */
        expect(hist[0] == 11 && hist[1] == 12 && !memcmp(win, win0, sizeof(float) * W * G * H),
               "a slot no sequence names is not committed");
        if (k == 1) {
            expect(!memcmp(hist, hist0, sizeof hist) && !memcmp(win, win0, sizeof win),
                   "slots outside [0, num_slots) are not committed");
        }
        ck(cudaFree(dcu), "cudaFree");
        ck(cudaFree(dslots), "cudaFree");
        ck(cudaFree(dstarts), "cudaFree");
    }
    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "bad descriptors touch nothing outside the buffers");
    void* bufs[] = {table, value, norm_w, conv_w, dids, dlut, out, gathered, history, window};
    for (int i = 0; i < 10; i++) ck(cudaFree(bufs[i]), "cudaFree");
    ck(cudaStreamDestroy(st), "cudaStreamDestroy");
    return failures;
}

/* One packed step with the gather and conv on stream a and the commit on stream b; with `ordered`, b waits
 * for a's event first. Returns the races reported. */
static long commit_on_other_stream(int ordered) {
    enum { T = 3, G = 2, H = 8, K = 4, M = NG - 1, W = K - 1 };
    int64_t ids[T] = {3, 4, 5}, lut[LUT], off[HEADS], rows = 0;
    int32_t cu[2] = {0, T}, slot[1] = {1};
    uint8_t start[1] = {0};
    for (int h = 0; h < HEADS; h++) off[h] = rows, rows += mods[h];
    for (int i = 0; i < LUT; i++) lut[i] = i;
    float* table = upload((size_t)rows * D, -1, 1, 0, NULL);
    float* value = upload((size_t)T * G * H, -1, 1, 0, NULL);
    float* norm_w = upload((size_t)G * H, .7f, 1.3f, 0, NULL);
    float* conv_w = upload((size_t)G * H * K, -.5f, .5f, 0, NULL);
    float* window = upload((size_t)2 * W * G * H, -1, 1, 0, NULL);
    int64_t hist0[2 * M] = {1, 2, 3, 4};
    int64_t* history = to_device(hist0, sizeof hist0);
    int64_t* dids = to_device(ids, sizeof ids);
    int64_t* dlut = to_device(lut, sizeof lut);
    int32_t* dcu = to_device(cu, sizeof cu);
    int32_t* dslot = to_device(slot, sizeof slot);
    uint8_t* dstart = to_device(start, sizeof start);
    float* out = dmalloc((size_t)T * G * H);
    float* gathered = dmalloc((size_t)T * HEADS * D);
    cudaStream_t a = stream(), b = stream();
    cudaEvent_t read = event(cudaEventDisableTiming);
    expect(engram_hashed_gather_packed(dids, T, dcu, dslot, dstart, 1, history, 2, dlut, LUT, 0, mult, NG, mods, off,
                                       KH, table, rows, D, ENGRAM_DTYPE_FLOAT32, gathered, NULL, a) == 0,
           "engram_hashed_gather_packed");
    expect(engram_short_conv_packed(value, norm_w, conv_w, CONV_EPS, T, dcu, dslot, dstart, 1, window, 2, G, H, K, 1,
                                    ENGRAM_DTYPE_FLOAT32, out, a) == 0, "engram_short_conv_packed");
    ck(cudaEventRecord(read, a), "cudaEventRecord");
    if (ordered) ck(cudaStreamWaitEvent(b, read, 0), "cudaStreamWaitEvent");
    expect(engram_state_commit(dids, T, dcu, dslot, dstart, 1, 2, dlut, LUT, 0, NG, history, value, G, H, K, 1,
                               ENGRAM_DTYPE_FLOAT32, window, b) == 0, "engram_state_commit");
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    long races = counts().races;
    void* bufs[] = {table, value, norm_w, conv_w, window, history, dids, dlut, dcu, dslot, dstart, out, gathered};
    for (int i = 0; i < 13; i++) ck(cudaFree(bufs[i]), "cudaFree");
    ck(cudaEventDestroy(read), "cudaEventDestroy");
    ck(cudaStreamDestroy(a), "cudaStreamDestroy");
    ck(cudaStreamDestroy(b), "cudaStreamDestroy");
    return races;
}

int case_packed_commit_ordered(void) {
    expect(commit_on_other_stream(1) == 0, "a commit that waits for the state's readers is not reported");
    sim_counts c = counts();
    expect(c.hazards == 0 && c.faults == 0, "nothing else reported");
    return failures;
}

int case_packed_commit_race(void) {
    expect(commit_on_other_stream(0) >= 2,
           "a commit that does not wait for the gather (history) and the conv (window) is reported for both");
    return failures;
}
