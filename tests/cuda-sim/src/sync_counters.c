/* Counters of device-wide synchronization, so a Java test can assert that a code path hides none: it
 * looks simDeviceSynchronizeCount and simLegacyStreamSyncCount up by name (FFM, loaderLookup) and
 * compares them before and after. The real libcudart has no such symbols, so their presence also tells
 * the simulator from a GPU. Atomic, not under the simulator's lock: any thread may call CUDA, and a test
 * may read them at any time. */
#include "runtime.h"

static long long device_syncs;
static long long legacy_stream_uses;

void sync_count_device(void) { __atomic_add_fetch(&device_syncs, 1, __ATOMIC_RELAXED); }

void sync_count_legacy(void) { __atomic_add_fetch(&legacy_stream_uses, 1, __ATOMIC_RELAXED); }

SIM_EXPORT long long simDeviceSynchronizeCount(void) { return __atomic_load_n(&device_syncs, __ATOMIC_RELAXED); }

SIM_EXPORT long long simLegacyStreamSyncCount(void) { return __atomic_load_n(&legacy_stream_uses, __ATOMIC_RELAXED); }
