/* cudaPointerGetAttributes of the simulator: what kind of memory an address is, and which device it
 * belongs to, from memory.c's allocation table. CUDA 11+ behaviour: an address CUDA does not know
 * (pageable, stack, or inside memory already freed) is not an error but cudaMemoryTypeUnregistered.
 * SIMULATED, NOT A GPU: device memory is host memory here; only the bookkeeping is CUDA's. */
#include <string.h>

#include "runtime.h"

/* Caller holds the lock. */
static void describe(struct cudaPointerAttributes* out, const void* ptr) {
    const Alloc* a = ptr ? mem_find(ptr) : NULL;
    memset(out, 0, sizeof *out); /* the reserved words too: the whole struct is an output */
    if (!a) {
        /* CUDA does not check unregistered memory; its header says hostPointer may then be whatever
         * was passed in, and device is no device. */
        out->type = cudaMemoryTypeUnregistered;
        out->device = cudaInvalidDeviceId;
        out->hostPointer = (void*)ptr;
    } else if (a->kind == MEM_DEVICE) {
        out->type = cudaMemoryTypeDevice;
        out->device = a->device; /* where it lives */
        out->devicePointer = (void*)ptr;
    } else {
        /* Pinned and registered memory is portable and mapped, at its host address (unified addressing):
         * devicePointer is what cudaHostGetDevicePointer gives; device is the one current when it was
         * allocated or registered. */
        out->type = cudaMemoryTypeHost;
        out->device = a->device;
        out->devicePointer = (void*)ptr;
        out->hostPointer = (void*)ptr;
    }
}

SIM_EXPORT cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes* attributes, const void* ptr) {
    if (!attributes) return sim_set_error(cudaErrorInvalidValue);
    sim_lock();
    cudaError_t e = sim_sticky; /* a failed operation's error, as from most calls */
    if (!e) describe(attributes, ptr);
    sim_unlock();
    return sim_set_error(e);
}
