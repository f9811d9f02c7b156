/* Self-check cases of stream capture and graphs (src/graph.c) and of cublasSetWorkspace_v2. Simulated
 * CUDA on the CPU, not a GPU. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfcheck.h"

enum { GG = 2, GH = 32, GT = 9, GK = 4 }; /* gate + short conv shapes of the captured work */
enum { N_GRAPH_RACE_FLOATS = 1024 };
#define GATE_EPS 0x1p-23f
#define CONV_EPS 1e-5f

typedef struct Layer {
    float *proj, *kb, *vb, *hid, *kw, *qw, *cnw, *cw; /* device inputs (fp32) */
    float *value, *out;                                /* device outputs */
} Layer;

static Layer layer_new(void) {
    Layer l;
    l.proj = upload((size_t)GT * (GG + 1) * GH, -1, 1, 0, NULL);
    l.kb = upload((size_t)GG * GH, -.1f, .1f, 0, NULL);
    l.vb = upload(GH, -.1f, .1f, 0, NULL);
    l.hid = upload((size_t)GT * GG * GH, -1, 1, 0, NULL);
    l.kw = upload((size_t)GG * GH, .7f, 1.3f, 0, NULL);
    l.qw = upload((size_t)GG * GH, .7f, 1.3f, 0, NULL);
    l.cnw = upload((size_t)GG * GH, .7f, 1.3f, 0, NULL);
    l.cw = upload((size_t)GG * GH * GK, -.5f, .5f, 0, NULL);
    l.value = dmalloc((size_t)GT * GG * GH);
    l.out = dmalloc((size_t)GT * GG * GH);
    return l;
}

static void layer_free(Layer* l) {
    float* bufs[] = {l->proj, l->kb, l->vb, l->hid, l->kw, l->qw, l->cnw, l->cw, l->value, l->out};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) ck(cudaFree(bufs[i]), "cudaFree");
}

/* Queues gate, then short conv on its output, then the copy of the result to host_out, on s. */
static void queue_layer(const Layer* l, float* host_out, cudaStream_t s) {
    expect(engram_gate(l->proj, l->kb, l->vb, l->hid, l->kw, l->qw, GATE_EPS, GT, GG, GH, ENGRAM_DTYPE_FLOAT32,
                       l->value, NULL, s) == ENGRAM_STATUS_SUCCESS, "engram_gate queued");
    expect(engram_short_conv(l->value, l->cnw, l->cw, CONV_EPS, 1, GT, GG, GH, GK, 2, ENGRAM_DTYPE_FLOAT32, l->out,
                             s) == ENGRAM_STATUS_SUCCESS, "engram_short_conv queued");
    ck(cudaMemcpyAsync(host_out, l->out, (size_t)GT * GG * GH * sizeof(float), cudaMemcpyDeviceToHost, s),
       "cudaMemcpyAsync (result)");
}

static enum cudaStreamCaptureStatus capture_status(cudaStream_t s) {
    enum cudaStreamCaptureStatus st = (enum cudaStreamCaptureStatus)-1;
    ck(cudaStreamIsCapturing(s, &st), "cudaStreamIsCapturing");
    return st;
}

/* Captures two kernel launches and a copy, replays the graph twice on new inputs, and compares each result
 * with the same work run eagerly on the same inputs. */
int case_graph(void) {
    const size_t n_out = (size_t)GT * GG * GH, n_proj = (size_t)GT * (GG + 1) * GH;
    Layer l = layer_new();
    float* got = pinned(n_out);
    float* want = pinned(n_out);
    float* first = malloc(n_out * sizeof(float));
    float* inputs = pinned(n_proj);
    cudaStream_t s = stream();
    fill(got, n_out, -7.f);

    long ops_before = counts().ops;
    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "cudaStreamBeginCapture");
    expect(capture_status(s) == cudaStreamCaptureStatusActive, "the stream reports an active capture");
    queue_layer(&l, got, s);
    cudaGraph_t graph = NULL;
    ck(cudaStreamEndCapture(s, &graph), "cudaStreamEndCapture");
    expect(graph != NULL, "the capture gives a graph");
    expect(capture_status(s) == cudaStreamCaptureStatusNone, "the stream no longer captures");
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    expect(counts().ops == ops_before && got[0] == -7.f, "captured work is recorded, not run");

    cudaGraphExec_t exec = NULL;
    ck(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
    ck(cudaGraphDestroy(graph), "cudaGraphDestroy"); /* the exec keeps what it needs */
    for (int replay = 0; replay < 2; replay++) {
        for (size_t i = 0; i < n_proj; i++) inputs[i] = uniform(-1, 1); /* new inputs for this replay */
        ck(cudaMemcpyAsync(l.proj, inputs, n_proj * sizeof(float), cudaMemcpyHostToDevice, s), "upload");
        ck(cudaGraphLaunch(exec, s), "cudaGraphLaunch");
        ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
        queue_layer(&l, want, s); /* the same work, eagerly, on the same inputs */
        ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
        expect(!memcmp(got, want, n_out * sizeof(float)), "a replay computes what the eager calls compute");
        if (replay == 0) memcpy(first, got, n_out * sizeof(float));
        else expect(memcmp(first, got, n_out * sizeof(float)) != 0, "the second replay read the new inputs");
    }
    /* A graph launched into a capture becomes a child graph: one launch of the outer graph runs it again. */
    cudaGraph_t outer = NULL;
    cudaGraphExec_t outer_exec = NULL;
    fill(got, n_out, -7.f);
    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "cudaStreamBeginCapture (outer)");
    ck(cudaGraphLaunch(exec, s), "cudaGraphLaunch into a capture");
    ck(cudaStreamEndCapture(s, &outer), "cudaStreamEndCapture (outer)");
    ck(cudaGraphInstantiate(&outer_exec, outer, 0), "cudaGraphInstantiate (outer)");
    ck(cudaGraphExecDestroy(exec), "cudaGraphExecDestroy"); /* the child body lives on in the outer graph */
    ck(cudaGraphLaunch(outer_exec, s), "cudaGraphLaunch (outer)");
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    expect(!memcmp(got, want, n_out * sizeof(float)), "the child graph replays the captured work");
    ck(cudaGraphExecDestroy(outer_exec), "cudaGraphExecDestroy (outer)");
    ck(cudaGraphDestroy(outer), "cudaGraphDestroy (outer)");

    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "capture and replays are not reported");
    layer_free(&l);
    ck(cudaFreeHost(got), "cudaFreeHost");
    ck(cudaFreeHost(want), "cudaFreeHost");
    ck(cudaFreeHost(inputs), "cudaFreeHost");
    free(first);
    ck(cudaStreamDestroy(s), "cudaStreamDestroy");
    return failures;
}

/* Ends s's capture, which must have been invalidated: cudaErrorStreamCaptureInvalidated, no graph. */
static void expect_invalidated_end(cudaStream_t s, const char* what) {
    char text[200];
    cudaGraph_t g = (cudaGraph_t)(uintptr_t)1;
    expect(capture_status(s) == cudaStreamCaptureStatusInvalidated, what);
    snprintf(text, sizeof text, "%s: cudaStreamEndCapture answers cudaErrorStreamCaptureInvalidated, no graph", what);
    expect(cudaStreamEndCapture(s, &g) == cudaErrorStreamCaptureInvalidated && g == NULL, text);
    snprintf(text, sizeof text, "%s: the stream stops capturing", what);
    expect(capture_status(s) == cudaStreamCaptureStatusNone, text);
    cudaGetLastError();
}

int case_graph_errors(void) {
    cudaStream_t s = stream(), s2 = stream();
    cudaEvent_t outside = event(cudaEventDisableTiming), inside = event(cudaEventDisableTiming);
    float* d = dmalloc(64);
    cudaGraph_t g = NULL;
    void* p = NULL;

    expect(cudaStreamEndCapture(s, &g) == cudaErrorIllegalState, "ending a capture that was not begun: cudaErrorIllegalState");
    expect(cudaStreamBeginCapture(NULL, cudaStreamCaptureModeGlobal) == cudaErrorStreamCaptureUnsupported,
           "the legacy stream cannot capture");
    cudaGetLastError();

    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
    expect(cudaStreamSynchronize(s) == cudaErrorStreamCaptureUnsupported,
           "synchronizing a capturing stream: cudaErrorStreamCaptureUnsupported");
    cudaGetLastError();
    expect(engram_short_conv(d, d, d, CONV_EPS, 1, 2, 1, 8, 2, 1, ENGRAM_DTYPE_FLOAT32, d + 32, s) ==
                   ENGRAM_STATUS_CUDA_ERROR && engram_last_cuda_error() == cudaErrorStreamCaptureInvalidated,
           "a launch into an invalidated capture fails with cudaErrorStreamCaptureInvalidated");
    expect_invalidated_end(s, "after a synchronize");

    ck(cudaEventRecord(outside, s2), "cudaEventRecord (eager)");
    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
    expect(cudaStreamWaitEvent(s, outside, 0) == cudaErrorStreamCaptureIsolation,
           "waiting for an event recorded outside the capture: cudaErrorStreamCaptureIsolation");
    expect_invalidated_end(s, "after an isolation error");

    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
    expect(cudaMalloc(&p, 64) == cudaErrorStreamCaptureUnsupported,
           "cudaMalloc during a global-mode capture: cudaErrorStreamCaptureUnsupported");
    expect_invalidated_end(s, "after cudaMalloc in global mode");

    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "begin");
    expect(cudaMalloc(&p, 64) == cudaErrorStreamCaptureUnsupported,
           "cudaMalloc on the capturing thread of a thread-local capture is refused");
    expect_invalidated_end(s, "after cudaMalloc in thread-local mode");

    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), "begin");
    ck(cudaMalloc(&p, 64), "cudaMalloc during a relaxed capture");
    ck(cudaMemsetAsync(d, 0, 64, s), "cudaMemsetAsync captured");
    ck(cudaStreamEndCapture(s, &g), "a relaxed capture with a cudaMalloc ends fine");
    expect(g != NULL, "and gives a graph");
    ck(cudaGraphDestroy(g), "cudaGraphDestroy");
    ck(cudaFree(p), "cudaFree");

    /* Events inside one capture order it; a stream that waits for a captured event joins the capture. */
    float* h = pinned(16);
    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
    ck(cudaMemsetAsync(d, 0, 64 * sizeof(float), s), "memset on the origin");
    ck(cudaEventRecord(inside, s), "record inside the capture");
    ck(cudaStreamWaitEvent(s2, inside, 0), "a second stream forks from the capture");
    expect(capture_status(s2) == cudaStreamCaptureStatusActive, "the forked stream captures");
    ck(cudaMemsetAsync(d + 16, 0x3F, 16 * sizeof(float), s2), "memset on the forked stream");
    ck(cudaEventRecord(outside, s2), "record on the forked stream");
    ck(cudaStreamWaitEvent(s, outside, 0), "the origin joins the fork");
    ck(cudaMemcpyAsync(h, d + 16, 16 * sizeof(float), cudaMemcpyDeviceToHost, s), "copy on the origin");
    expect(cudaEventSynchronize(inside) == cudaErrorCapturedEvent,
           "synchronizing an event recorded in a capture: cudaErrorCapturedEvent");
    cudaGetLastError();
    ck(cudaStreamEndCapture(s, &g), "a joined fork ends fine");
    expect(capture_status(s2) == cudaStreamCaptureStatusNone, "the end takes the forked stream out of capture");
    cudaGraphExec_t x;
    ck(cudaGraphInstantiate(&x, g, 0), "cudaGraphInstantiate");
    ck(cudaGraphLaunch(x, s), "cudaGraphLaunch");
    ck(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    const uint32_t bits = 0x3F3F3F3Fu; /* memset's byte 0x3F in every byte */
    float set;
    memcpy(&set, &bits, sizeof set);
    int fork_ran = 1;
    for (int i = 0; i < 16; i++) fork_ran &= h[i] == set;
    expect(fork_ran, "the forked stream's work is in the graph, before the origin's copy");
    ck(cudaGraphExecDestroy(x), "cudaGraphExecDestroy");
    ck(cudaGraphDestroy(g), "cudaGraphDestroy");
    ck(cudaEventRecord(inside, s), "re-recorded eagerly");
    ck(cudaEventSynchronize(inside), "an eagerly recorded event synchronizes again");

    ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
    ck(cudaEventRecord(inside, s), "record inside the capture");
    ck(cudaStreamWaitEvent(s2, inside, 0), "fork");
    ck(cudaMemsetAsync(d, 1, 16, s2), "work on the fork, never joined");
    g = (cudaGraph_t)(uintptr_t)1;
    expect(cudaStreamEndCapture(s, &g) == cudaErrorStreamCaptureUnjoined && g == NULL,
           "a fork that did not rejoin: cudaErrorStreamCaptureUnjoined");
    expect(capture_status(s2) == cudaStreamCaptureStatusNone, "and the fork stops capturing");
    cudaGetLastError();
    ck(cudaEventRecord(inside, s), "re-recorded eagerly");

    /* The legacy stream may not be used while a blocking stream captures. */
    cudaStream_t blocking;
    ck(cudaStreamCreate(&blocking), "cudaStreamCreate");
    ck(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeRelaxed), "begin (blocking stream)");
    expect(cudaMemsetAsync(d, 0, 16, NULL) == cudaErrorStreamCaptureImplicit,
           "legacy-stream work during a blocking stream's capture: cudaErrorStreamCaptureImplicit");
    expect_invalidated_end(blocking, "after a legacy-stream use");

    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    sim_counts c = counts();
    expect(c.races == 0 && c.hazards == 0 && c.faults == 0, "refused capture calls are errors, not reports");
    ck(cudaFreeHost(h), "cudaFreeHost");
    ck(cudaFree(d), "cudaFree");
    ck(cudaEventDestroy(outside), "cudaEventDestroy");
    ck(cudaEventDestroy(inside), "cudaEventDestroy");
    ck(cudaStreamDestroy(s), "cudaStreamDestroy");
    ck(cudaStreamDestroy(s2), "cudaStreamDestroy");
    ck(cudaStreamDestroy(blocking), "cudaStreamDestroy");
    return failures;
}

/* A graph's replayed work is checked like eager work: a replay on one stream that writes what another
 * stream reads, with no wait in between, is a race. */
int case_graph_race(void) {
    cudaStream_t a = stream(), b = stream();
    float* d = dmalloc(N_GRAPH_RACE_FLOATS);
    float* h = pinned(N_GRAPH_RACE_FLOATS);
    cudaGraph_t g;
    cudaGraphExec_t x;
    ck(cudaStreamBeginCapture(a, cudaStreamCaptureModeGlobal), "begin");
    ck(cudaMemsetAsync(d, 0, N_GRAPH_RACE_FLOATS * sizeof(float), a), "captured memset");
    ck(cudaStreamEndCapture(a, &g), "end");
    ck(cudaGraphInstantiate(&x, g, 0), "instantiate");
    ck(cudaGraphLaunch(x, a), "cudaGraphLaunch");
    ck(cudaMemcpyAsync(h, d, N_GRAPH_RACE_FLOATS * sizeof(float), cudaMemcpyDeviceToHost, b), "unordered read");
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    expect(counts().races > 0, "a replay racing with another stream is reported");
    ck(cudaGraphExecDestroy(x), "cudaGraphExecDestroy");
    ck(cudaGraphDestroy(g), "cudaGraphDestroy");
    ck(cudaFree(d), "cudaFree");
    ck(cudaFreeHost(h), "cudaFreeHost");
    ck(cudaStreamDestroy(a), "cudaStreamDestroy");
    ck(cudaStreamDestroy(b), "cudaStreamDestroy");
    return failures;
}

/* cublasSetWorkspace_v2: 256-byte alignment as cuBLAS documents; NULL/0 resets; the workspace is part of
 * every GEMM's memory, so two handles sharing one on unordered streams race. */
int case_cublas_workspace(void) {
    void *h1, *h2;
    expect(cublasCreate_v2(&h1) == 0 && cublasCreate_v2(&h2) == 0, "cublasCreate");
    char* ws = (char*)dmalloc(1 << 16);
    expect(cublasSetWorkspace_v2(h1, ws + 64, 4096) == 7, "a workspace not 256-byte aligned: CUBLAS_STATUS_INVALID_VALUE");
    expect(cublasSetWorkspace_v2(h1, NULL, 4096) == 7, "NULL with a size: CUBLAS_STATUS_INVALID_VALUE");
    expect(cublasSetWorkspace_v2(h1, NULL, 0) == 0, "NULL and 0 reset the workspace");
    expect(cublasSetWorkspace_v2(NULL, ws, 4096) == 1, "no handle: CUBLAS_STATUS_NOT_INITIALIZED");
    cudaStream_t a = stream(), b = stream();
    expect(cublasSetStream_v2(h1, a) == 0 && cublasSetStream_v2(h2, b) == 0, "cublasSetStream");
    expect(cublasSetWorkspace_v2(h1, ws, 1 << 16) == 0 && cublasSetWorkspace_v2(h2, ws, 1 << 16) == 0,
           "a 256-byte aligned workspace is accepted");
    float* A = upload(64, -1, 1, 0, NULL);
    float* C1 = dmalloc(64);
    float* C2 = dmalloc(64);
    float one = 1.f, zero = 0.f;
    expect(cublasGemmEx(h1, 0, 0, 8, 8, 8, &one, A, 0, 8, A, 0, 8, &zero, C1, 0, 8, 68, -1) == 0, "GEMM on a");
    sim_counts before = counts();
    expect(before.races == 0, "one GEMM with a workspace is not reported");
    expect(cublasGemmEx(h2, 0, 0, 8, 8, 8, &one, A, 0, 8, A, 0, 8, &zero, C2, 0, 8, 68, -1) == 0, "GEMM on b");
    expect(counts().races > 0, "two handles sharing a workspace on unordered streams race");
    ck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    expect(cublasDestroy_v2(h1) == 0 && cublasDestroy_v2(h2) == 0, "cublasDestroy");
    ck(cudaFree(A), "cudaFree");
    ck(cudaFree(C1), "cudaFree");
    ck(cudaFree(C2), "cudaFree");
    ck(cudaFree(ws), "cudaFree");
    ck(cudaStreamDestroy(a), "cudaStreamDestroy");
    ck(cudaStreamDestroy(b), "cudaStreamDestroy");
    return failures;
}
