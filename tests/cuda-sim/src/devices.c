/* The simulated devices: how many (SIM_DEVICES, default 1, at most SIM_MAX_DEVICES), the calling host
 * thread's current device (cudaSetDevice/cudaGetDevice; 0 until set, as in CUDA), and what each device
 * answers to cudaDeviceGetAttribute. SIMULATED, NOT A GPU: every device is the same CPU and the same
 * host memory; the simulator only keeps track of which device each allocation, stream and event
 * belongs to, so code that mixes them up is reported as it would fail on a GPU. No lock needed here:
 * the count is fixed at the first call and the current device is per thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

static pthread_once_t count_once = PTHREAD_ONCE_INIT;
static int count;
static __thread int current; /* per host thread, as CUDA's current device */

static void read_count(void) {
    const char* v = getenv("SIM_DEVICES");
    if (!v || !*v) {
        count = 1;
        return;
    }
    char* end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1 || n > SIM_MAX_DEVICES) {
        fprintf(stderr, "SIM: bad SIM_DEVICES=%s (a number of devices from 1 to %d)\n", v, SIM_MAX_DEVICES);
        abort();
    }
    count = (int)n;
}

int dev_count(void) {
    pthread_once(&count_once, read_count);
    return count;
}

int dev_current(void) { return current; }

static int valid(int device) { return device >= 0 && device < dev_count(); }

SIM_EXPORT cudaError_t cudaGetDeviceCount(int* n) {
    if (!n) return sim_set_error(cudaErrorInvalidValue);
    *n = dev_count();
    return cudaSuccess;
}

SIM_EXPORT cudaError_t cudaSetDevice(int device) {
    if (!valid(device)) return sim_set_error(cudaErrorInvalidDevice); /* the current device stays */
    current = device;
    return cudaSuccess;
}

SIM_EXPORT cudaError_t cudaGetDevice(int* device) {
    if (!device) return sim_set_error(cudaErrorInvalidValue);
    *device = current;
    return cudaSuccess;
}

/* The same answers for every device: compute capability 9.0 and one simulated "SM". */
SIM_EXPORT cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device) {
    if (!value) return sim_set_error(cudaErrorInvalidValue);
    if (!valid(device)) return sim_set_error(cudaErrorInvalidDevice);
    switch ((int)attr) {
        case cudaDevAttrMultiProcessorCount: *value = 1; return cudaSuccess;
        case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
        case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
        /* yes: read-only mappings register (cudaHostRegisterReadOnly); a real device may say no */
        case cudaDevAttrHostRegisterReadOnlySupported: *value = 1; return cudaSuccess;
        default:
            fprintf(stderr, "SIM: cudaDeviceGetAttribute(%d) is not simulated\n", (int)attr);
            return sim_set_error(cudaErrorInvalidValue);
    }
}
