// CPU emulation of the slice of the CUDA runtime and device built-ins that kernels/*.cu and
// kernels/test/*.cu use, so kernels/emu/run-selftests.sh can run the kernel self-tests without a GPU.
// THIS IS NOT A GPU: one std::thread per CUDA thread, blocks one after another, every launch
// synchronous, device memory is host memory. It checks what it can (ASan/UBSan on every access,
// full-mask shuffles, 16-byte alignment of vector loads, launch limits, shared-memory size and
// poisoning, deadlocked barriers, kernel pointers inside cudaMalloc allocations) and says nothing
// about timing, the GPU memory model, warp scheduling, occupancy, or mapped/pinned host memory.
// Limits: 1-D grids and blocks; no dynamic shared memory; __shfl_xor_sync is the only warp
// primitive; math functions are the host libm's (GPU expf etc. differ by a few ulp).
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __grid_constant__
#define __shared__ static  // one instance per kernel; blocks run one at a time; transform.py registers it
#ifndef __restrict__
#define __restrict__ __restrict
#endif

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return uint4{a, b, c, d}; }

extern thread_local dim3 threadIdx;
extern thread_local dim3 blockIdx;
extern dim3 gridDim;
extern dim3 blockDim;

// ---- runtime API (emu_runtime.cpp); failures set the calling host thread's last error ----
enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidResourceHandle = 400,
};
typedef cudaError cudaError_t;
typedef struct CUstream_st* cudaStream_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();   // returns the last error and resets it to cudaSuccess
cudaError_t cudaPeekAtLastError();  // returns it, no reset
cudaError_t cudaMalloc(void** p, size_t bytes);  // filled with 0xA5 bytes, 256-byte aligned
template <class T>
cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMalloc(reinterpret_cast<void**>(p), bytes); }
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize();

// ---- emulation internals (emu_runtime.cpp) ----
namespace emu {
[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void syncthreads();
uint64_t warp_exchange(uint64_t bits, unsigned src_lane);
void shared_register(void* p, size_t bytes);
void check_kernel_pointer(const void* p, size_t arg_index);
bool launch_begin(dim3 grid, dim3 block, size_t smem, cudaStream_t stream);
void run_grid(dim3 grid, dim3 block, const std::function<void()>& body);

template <class T>
void check_kernel_arg(const T&, size_t) {}
template <class T>
void check_kernel_arg(T* p, size_t i) { check_kernel_pointer(p, i); }
}  // namespace emu

inline void __syncthreads() { emu::syncthreads(); }

template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
    if (mask != 0xffffffffu) emu::die("__shfl_xor_sync mask %#x: only full-warp shuffles are emulated", mask);
    if (lane_mask < 0 || lane_mask > 31) emu::die("__shfl_xor_sync lane mask %d outside [0, 31]", lane_mask);
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    bits = emu::warp_exchange(bits, (threadIdx.x % 32) ^ static_cast<unsigned>(lane_mask));
    T r;
    std::memcpy(&r, &bits, sizeof r);
    return r;
}

// A GPU load of sizeof(T) bytes needs natural alignment (16 for uint4); misaligned is a fault there.
template <class T>
inline T __ldg(const T* p) {
    if (reinterpret_cast<uintptr_t>(p) % sizeof(T) != 0) {
        emu::die("misaligned __ldg of %zu bytes at %p", sizeof(T), static_cast<const void*>(p));
    }
    return *p;
}

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

// Bit casts between float and its 32-bit pattern.
inline float __uint_as_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline unsigned __float_as_uint(float f) {
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}

// k<<<grid, block, smem, stream>>>(args...) becomes emu_launch(grid, block, smem, stream, k, args...)
// (transform.py). The arguments are converted to the parameter types once, at the launch, as nvcc
// does; every emulated thread gets its own copy.
template <class... P, class... A>
void emu_launch(dim3 grid, dim3 block, size_t smem, cudaStream_t stream, void (*kernel)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
    const std::tuple<std::remove_cv_t<P>...> params(std::forward<A>(args)...);
    if (!emu::launch_begin(grid, block, smem, stream)) return;
    [&]<size_t... I>(std::index_sequence<I...>) {
        (emu::check_kernel_arg(std::get<I>(params), I), ...);
    }(std::index_sequence_for<P...>{});
    emu::run_grid(grid, block, [&] {
        auto copy = params;
        std::apply(kernel, copy);
    });
}
