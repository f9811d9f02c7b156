/* argcheck_probe LIBENGRAM.so: calls the kernel entry points of the given libengram with bad (and
 * launch-free) arguments and prints each call's status and last-error text, one line per case.
 * selfcheck.sh runs it against the simulator's libengram and the real one Maven built, and requires
 * identical output: the simulated entry points reject exactly what the real ones reject. No call here
 * launches anything (every case fails its check or has no tokens), so the real library needs no GPU. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engram.h"

typedef engram_status_t (*gather_fn)(const int64_t*, int64_t, int64_t, const int64_t*, int64_t, int64_t,
                                     const int64_t*, int32_t, const int64_t*, const int64_t*, int32_t, const void*,
                                     int64_t, int32_t, int32_t, void*, int64_t*, void*);
typedef engram_status_t (*gate_fn)(const void*, const void*, const void*, const void*, const void*, const void*,
                                   float, int64_t, int32_t, int32_t, int32_t, void*, float*, void*);
typedef engram_status_t (*conv_fn)(const void*, const void*, const void*, float, int64_t, int64_t, int32_t, int32_t,
                                   int32_t, int32_t, int32_t, void*, void*);
typedef engram_status_t (*fused_fn)(const void*, const void*, const void*, const void*, const void*, const void*,
                                    float, const void*, const void*, float, int64_t, int64_t, int32_t, int32_t,
                                    int32_t, int32_t, int32_t, void*, float*, void*);
typedef engram_status_t (*gather_packed_fn)(const int64_t*, int64_t, const int32_t*, const int32_t*, const uint8_t*,
                                            int32_t, const int64_t*, int32_t, const int64_t*, int64_t, int64_t,
                                            const int64_t*, int32_t, const int64_t*, const int64_t*, int32_t,
                                            const void*, int64_t, int32_t, int32_t, void*, int64_t*, void*);
typedef engram_status_t (*conv_packed_fn)(const void*, const void*, const void*, float, int64_t, const int32_t*,
                                          const int32_t*, const uint8_t*, int32_t, const void*, int32_t, int32_t,
                                          int32_t, int32_t, int32_t, int32_t, void*, void*);
typedef engram_status_t (*commit_fn)(const int64_t*, int64_t, const int32_t*, const int32_t*, const uint8_t*, int32_t,
                                     int32_t, const int64_t*, int64_t, int64_t, int32_t, int64_t*, const void*, int32_t,
                                     int32_t, int32_t, int32_t, int32_t, void*, void*);
typedef engram_status_t (*gather_fp8_fn)(const int64_t*, int64_t, int64_t, const int64_t*, int64_t, int64_t,
                                         const int64_t*, int32_t, const int64_t*, const int64_t*, int32_t,
                                         const uint8_t*, const uint8_t*, int64_t, int32_t, int32_t, int32_t, void*,
                                         int64_t*, void*);
typedef engram_status_t (*gather_fp8_packed_fn)(const int64_t*, int64_t, const int32_t*, const int32_t*,
                                                const uint8_t*, int32_t, const int64_t*, int32_t, const int64_t*,
                                                int64_t, int64_t, const int64_t*, int32_t, const int64_t*,
                                                const int64_t*, int32_t, const uint8_t*, const uint8_t*, int64_t,
                                                int32_t, int32_t, int32_t, void*, int64_t*, void*);
typedef engram_status_t (*dequantize_fn)(const uint8_t*, const uint8_t*, int64_t, int32_t, int32_t, int32_t, void*,
                                         void*);
typedef const char* (*text_fn)(void);

static text_fn last_error;

static void show(const char* what, engram_status_t st) { printf("%-44s %d %s\n", what, (int)st, last_error()); }

static void* sym(void* lib, const char* name) {
    void* f = dlsym(lib, name);
    if (!f) {
        printf("missing symbol %s\n", name);
        exit(2);
    }
    return f;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: argcheck_probe LIBENGRAM.so\n");
        return 2;
    }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "argcheck_probe: cannot load %s: %s\n", argv[1], dlerror());
        return 3;
    }
    last_error = (text_fn)sym(lib, "engram_last_error");
    printf("built_with_cuda %d\n", ((int32_t(*)(void))sym(lib, "engram_built_with_cuda"))());
    gather_fn gather = (gather_fn)sym(lib, "engram_hashed_gather");
    gate_fn gate = (gate_fn)sym(lib, "engram_gate");
    conv_fn conv = (conv_fn)sym(lib, "engram_short_conv");
    fused_fn fused = (fused_fn)sym(lib, "engram_gate_short_conv");

    /* Never dereferenced: device pointers only need to be non-null and aligned here. */
    const void* P = (const void*)(uintptr_t)0x100000;
    void* Q = (void*)(uintptr_t)0x200000;
    void* R = (void*)(uintptr_t)0x300000;
    const void* odd = (const void*)(uintptr_t)0x100002;
    const int64_t* ids = (const int64_t*)P;
    int64_t mult[17] = {1, 3, 5, 7}, mod[4] = {7, 11, 13, 17}, off[4] = {0, 7, 18, 31}, bad_mod[2] = {7, 0};
    int64_t far_off[2] = {0, 100};
    const float E = 0x1p-23f;

    show("gather null ids", gather(NULL, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather null table", gather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, NULL, 48, 8, 0, Q, NULL, NULL));
    show("gather negative batch", gather(ids, -1, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather overflowing tokens", gather(ids, INT64_MAX, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather max_ngram 1", gather(ids, 1, 4, NULL, 0, 0, mult, 1, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather max_ngram 17", gather(ids, 1, 4, NULL, 0, 0, mult, 17, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather 65 heads", gather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 33, P, 48, 8, 0, Q, NULL, NULL));
    show("gather dtype 2", gather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 2, Q, NULL, NULL));
    show("gather misaligned ids", gather((const int64_t*)odd, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather misaligned table", gather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, odd, 48, 8, 0, Q, NULL, NULL));
    show("gather head_dim 0", gather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 0, 0, Q, NULL, NULL));
    show("gather modulus 0", gather(ids, 1, 4, NULL, 0, 0, mult, 3, bad_mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather rows outside the table", gather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, far_off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather negative lut_size", gather(ids, 1, 4, ids, -1, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("gather no tokens", gather(ids, 0, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));

    show("gate null proj", gate(NULL, P, P, P, P, P, E, 4, 2, 8, 0, Q, NULL, NULL));
    show("gate null value_out", gate(P, P, P, P, P, P, E, 4, 2, 8, 0, NULL, NULL, NULL));
    show("gate negative tokens", gate(P, P, P, P, P, P, E, -1, 2, 8, 0, Q, NULL, NULL));
    show("gate hc_mult 65", gate(P, P, P, P, P, P, E, 4, 65, 8, 0, Q, NULL, NULL));
    show("gate hidden 0", gate(P, P, P, P, P, P, E, 4, 2, 0, 0, Q, NULL, NULL));
    show("gate dtype 7", gate(P, P, P, P, P, P, E, 4, 2, 8, 7, Q, NULL, NULL));
    show("gate eps 0", gate(P, P, P, P, P, P, 0.f, 4, 2, 8, 0, Q, NULL, NULL));
    show("gate misaligned hidden", gate(P, P, P, odd, P, P, E, 4, 2, 8, 0, Q, NULL, NULL));
    show("gate misaligned gate_out", gate(P, P, P, P, P, P, E, 4, 2, 8, 1, Q, (float*)odd, NULL));
    show("gate overflowing tokens", gate(P, P, P, P, P, P, E, INT64_MAX / 8, 2, 8, 0, Q, NULL, NULL));
    show("gate no tokens", gate(P, P, P, P, P, P, E, 0, 2, 8, 0, Q, NULL, NULL));

    show("conv null value", conv(NULL, P, P, 1e-5f, 1, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("conv in place", conv(Q, P, P, 1e-5f, 1, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("conv kernel 17", conv(P, P, P, 1e-5f, 1, 4, 2, 8, 17, 1, 0, Q, NULL));
    show("conv dilation 0", conv(P, P, P, 1e-5f, 1, 4, 2, 8, 4, 0, 0, Q, NULL));
    show("conv eps nan", conv(P, P, P, 0.f / 0.f, 1, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("conv misaligned conv_w", conv(P, P, odd, 1e-5f, 1, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("conv negative seq_len", conv(P, P, P, 1e-5f, 1, -4, 2, 8, 4, 1, 0, Q, NULL));
    show("conv no tokens", conv(P, P, P, 1e-5f, 3, 0, 2, 8, 4, 1, 0, Q, NULL));

    show("fused null conv_w", fused(P, P, P, P, P, P, E, P, NULL, 1e-5f, 1, 4, 2, 8, 4, 1, 0, Q, NULL, NULL));
    show("fused out is proj", fused(Q, P, P, P, P, P, E, P, P, 1e-5f, 1, 4, 2, 8, 4, 1, 0, Q, NULL, NULL));
    show("fused out is hidden", fused(P, P, P, R, P, P, E, P, P, 1e-5f, 1, 4, 2, 8, 4, 1, 0, R, NULL, NULL));
    show("fused conv eps inf", fused(P, P, P, P, P, P, E, P, P, 1.f / 0.f, 1, 4, 2, 8, 4, 1, 0, Q, NULL, NULL));
    show("fused gate eps negative", fused(P, P, P, P, P, P, -E, P, P, 1e-5f, 1, 4, 2, 8, 4, 1, 0, Q, NULL, NULL));
    show("fused kernel 0", fused(P, P, P, P, P, P, E, P, P, 1e-5f, 1, 4, 2, 8, 0, 1, 0, Q, NULL, NULL));
    show("fused misaligned out", fused(P, P, P, P, P, P, E, P, P, 1e-5f, 1, 4, 2, 8, 4, 1, 0, (void*)odd, NULL, NULL));
    show("fused no tokens", fused(P, P, P, P, P, P, E, P, P, 1e-5f, 0, 4, 2, 8, 4, 1, 0, Q, NULL, NULL));

    /* ABI 4. A library built before it lacks these: say so in one line (selfcheck.sh then compares the rest). */
    gather_packed_fn pgather = (gather_packed_fn)dlsym(lib, "engram_hashed_gather_packed");
    conv_packed_fn pconv = (conv_packed_fn)dlsym(lib, "engram_short_conv_packed");
    commit_fn commit = (commit_fn)dlsym(lib, "engram_state_commit");
    if (!pgather || !pconv || !commit) {
        printf("packed entry points absent\n");
        return 0;
    }
    const int32_t* cu = (const int32_t*)P;
    const int32_t* sl = (const int32_t*)P;
    const uint8_t* su = (const uint8_t*)P;
    const int64_t* hist = (const int64_t*)R;
    int64_t* whist = (int64_t*)R;
    show("packed gather negative tokens", pgather(ids, -1, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather tokens over int32", pgather(ids, 1ll << 31, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather null cu_seqlens", pgather(ids, 4, NULL, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather null slots", pgather(ids, 4, cu, NULL, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather null starts", pgather(ids, 4, cu, sl, NULL, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather misaligned slots", pgather(ids, 4, cu, (const int32_t*)odd, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather tokens, no sequences", pgather(ids, 4, cu, sl, su, 0, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather negative num_slots", pgather(ids, 4, cu, sl, su, 2, hist, -1, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather misaligned history", pgather(ids, 4, cu, sl, su, 2, (const int64_t*)odd, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather max_ngram 17", pgather(ids, 4, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 17, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));
    show("packed gather null table", pgather(ids, 4, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, NULL, 48, 8, 0, Q, NULL, NULL));
    show("packed gather no tokens", pgather(ids, 0, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, P, 48, 8, 0, Q, NULL, NULL));

    show("packed conv null value", pconv(NULL, P, P, 1e-5f, 4, cu, sl, su, 2, R, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("packed conv in place", pconv(Q, P, P, 1e-5f, 4, cu, sl, su, 2, R, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("packed conv kernel 17", pconv(P, P, P, 1e-5f, 4, cu, sl, su, 2, R, 4, 2, 8, 17, 1, 0, Q, NULL));
    show("packed conv null cu_seqlens", pconv(P, P, P, 1e-5f, 4, NULL, sl, su, 2, R, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("packed conv negative num_seqs", pconv(P, P, P, 1e-5f, 4, cu, sl, su, -2, R, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("packed conv misaligned state", pconv(P, P, P, 1e-5f, 4, cu, sl, su, 2, odd, 4, 2, 8, 4, 1, 0, Q, NULL));
    show("packed conv window over int32", pconv(P, P, P, 1e-5f, 4, cu, sl, su, 2, R, 4, 2, 8, 16, INT32_MAX / 8, 0, Q, NULL));
    show("packed conv no tokens", pconv(P, P, P, 1e-5f, 0, cu, sl, su, 2, R, 4, 2, 8, 4, 1, 0, Q, NULL));

    show("commit both states null", commit(ids, 4, cu, sl, su, 2, 4, NULL, 0, 0, 3, NULL, P, 2, 8, 4, 1, 0, NULL, NULL));
    show("commit max_ngram 1", commit(ids, 4, cu, sl, su, 2, 4, NULL, 0, 0, 1, whist, P, 2, 8, 4, 1, 0, NULL, NULL));
    show("commit null raw ids", commit(NULL, 4, cu, sl, su, 2, 4, NULL, 0, 0, 3, whist, P, 2, 8, 4, 1, 0, NULL, NULL));
    show("commit negative lut_size", commit(ids, 4, cu, sl, su, 2, 4, ids, -1, 0, 3, whist, P, 2, 8, 4, 1, 0, NULL, NULL));
    show("commit hc_mult 0", commit(ids, 4, cu, sl, su, 2, 4, NULL, 0, 0, 3, NULL, P, 0, 8, 4, 1, 0, Q, NULL));
    show("commit dtype 5", commit(ids, 4, cu, sl, su, 2, 4, NULL, 0, 0, 3, NULL, P, 2, 8, 4, 1, 5, Q, NULL));
    show("commit null value", commit(ids, 4, cu, sl, su, 2, 4, NULL, 0, 0, 3, NULL, NULL, 2, 8, 4, 1, 0, Q, NULL));
    show("commit misaligned state", commit(ids, 4, cu, sl, su, 2, 4, NULL, 0, 0, 3, NULL, P, 2, 8, 4, 1, 0, (void*)odd, NULL));
    show("commit null starts", commit(ids, 4, cu, sl, NULL, 2, 4, NULL, 0, 0, 3, whist, P, 2, 8, 4, 1, 0, Q, NULL));
    show("commit no sequences (no tokens)", commit(ids, 0, cu, sl, su, 0, 4, NULL, 0, 0, 3, whist, P, 2, 8, 4, 1, 0, Q, NULL));

    /* ABI 5: fp8 tables. A library built before it lacks these: one line, as for the packed ones. */
    gather_fp8_fn fgather = (gather_fp8_fn)dlsym(lib, "engram_hashed_gather_fp8");
    gather_fp8_packed_fn fpgather = (gather_fp8_packed_fn)dlsym(lib, "engram_hashed_gather_fp8_packed");
    if (!fgather || !fpgather) {
        printf("fp8 entry points absent\n");
        return 0;
    }
    const uint8_t* T8 = (const uint8_t*)P;
    const uint8_t* S8 = (const uint8_t*)R;
    const uint8_t* odd8 = (const uint8_t*)odd;
    show("fp8 gather null scales", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, NULL, 48, 32, 16, 0, Q, NULL, NULL));
    show("fp8 gather null table", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, NULL, S8, 48, 32, 16, 0, Q, NULL, NULL));
    show("fp8 gather scale_block 0", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 0, 0, Q, NULL, NULL));
    show("fp8 gather scale_block 12", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 12, 0, Q, NULL, NULL));
    show("fp8 gather out_dtype fp8", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 16, 2, Q, NULL, NULL));
    show("fp8 gather misaligned out", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 16, 0, (void*)odd, NULL, NULL));
    show("fp8 gather odd table, scales: out next", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, off, 1, odd8, odd8, 48, 32, 16, 0, (void*)odd, NULL, NULL));
    show("fp8 gather rows outside the table", fgather(ids, 1, 4, NULL, 0, 0, mult, 3, mod, far_off, 1, T8, S8, 48, 32, 16, 0, Q, NULL, NULL));
    show("fp8 gather no tokens", fgather(ids, 0, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 16, 0, Q, NULL, NULL));
    show("fp8 packed gather null cu_seqlens", fpgather(ids, 4, NULL, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 16, 0, Q, NULL, NULL));
    show("fp8 packed gather misaligned history", fpgather(ids, 4, cu, sl, su, 2, (const int64_t*)odd, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 16, 0, Q, NULL, NULL));
    show("fp8 packed gather scale_block 64", fpgather(ids, 4, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 64, 1, Q, NULL, NULL));
    show("fp8 packed gather out_dtype 5", fpgather(ids, 4, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 16, 5, Q, NULL, NULL));
    show("fp8 packed gather max_ngram 17", fpgather(ids, 4, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 17, mod, off, 1, T8, S8, 48, 32, 16, 0, Q, NULL, NULL));
    show("fp8 packed gather no tokens", fpgather(ids, 0, cu, sl, su, 2, hist, 4, NULL, 0, 0, mult, 3, mod, off, 1, T8, S8, 48, 32, 16, 0, Q, NULL, NULL));

    /* ABI 6: dequantizing gathered fp8 rows. A library built before it lacks it: one line. */
    dequantize_fn deq = (dequantize_fn)dlsym(lib, "engram_fp8_dequantize_rows");
    if (!deq) {
        printf("dequantize entry point absent\n");
        return 0;
    }
    show("dequantize null codes", deq(NULL, S8, 3, 32, 16, 0, Q, NULL));
    show("dequantize null scales", deq(T8, NULL, 3, 32, 16, 0, Q, NULL));
    show("dequantize null out", deq(T8, S8, 3, 32, 16, 0, NULL, NULL));
    show("dequantize rows -1", deq(T8, S8, -1, 32, 16, 0, Q, NULL));
    show("dequantize head_dim 0", deq(T8, S8, 3, 0, 16, 0, Q, NULL));
    show("dequantize head_dim 65537", deq(T8, S8, 3, 65537, 1, 0, Q, NULL));
    show("dequantize scale_block 0", deq(T8, S8, 3, 32, 0, 0, Q, NULL));
    show("dequantize scale_block 12", deq(T8, S8, 3, 32, 12, 0, Q, NULL));
    show("dequantize out_dtype fp8", deq(T8, S8, 3, 32, 16, 2, Q, NULL));
    show("dequantize misaligned out", deq(T8, S8, 3, 32, 16, 0, (void*)odd, NULL));
    show("dequantize odd codes, scales: out next", deq(odd8, odd8, 3, 32, 16, 0, (void*)odd, NULL));
    show("dequantize bytes overflowing int64", deq(T8, S8, INT64_MAX / 16, 32, 16, 0, Q, NULL));
    show("dequantize no rows (no tokens)", deq(T8, S8, 0, 32, 16, 0, Q, NULL));
    return 0;
}
