// Checks of the CPU emulation itself (kernels/emu), run by run-selftests.sh before the kernel
// self-tests: `emu_selfcheck CASE`. The cases ok, last_error and poisoned_shared must exit 0; every
// other case is a fault that a GPU would report (or nvcc would reject), and the emulation must abort
// on it with a report. Emulation only: never built for a GPU.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>

__global__ void reduce_kernel(const float* in, float* out, int n) {  // shared memory + barrier + shuffles
    __shared__ float s_part[4];
    float x = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) x += in[i];
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    if (threadIdx.x % 32 == 0) s_part[threadIdx.x / 32] = x;
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = s_part[0] + s_part[1] + s_part[2] + s_part[3];
}
__global__ void mask_kernel(float* p) { p[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, 1.f, 1); }
__global__ void ldg_kernel(const uint4* p, uint4* out) { out[threadIdx.x] = __ldg(p); }
__global__ void store_kernel(uint4* p) { *p = make_uint4(1, 2, 3, 4); }
__global__ void divergent_kernel(float* p) {
    if (threadIdx.x < 64) __syncthreads();
    p[threadIdx.x] = 1.f;
}
__global__ void uninit_kernel(float* out) {  // reads shared memory before writing it
    __shared__ float s[128];
    out[blockIdx.x * 128 + threadIdx.x] = s[threadIdx.x];
    __syncthreads();
    s[threadIdx.x] = 1.f;  // the next block must not see this
}
__global__ void big_shared_kernel(float* p) {
    __shared__ float s[13 * 1024];  // 52 KiB
    s[threadIdx.x] = 1.f;
    p[threadIdx.x] = s[threadIdx.x];
}

static int run(const char* c, float* d) {  // d: 4096 zeroed floats of device memory
    if (!std::strcmp(c, "ok")) {  // a correct kernel gives the right sum on every block
        float h[1000], out[3];
        for (int i = 0; i < 1000; ++i) h[i] = static_cast<float>(i % 7);
        if (cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice) != cudaSuccess) return 2;
        reduce_kernel<<<3, 128>>>(d, d + 2048, 1000);
        if (cudaGetLastError() != cudaSuccess) return 1;
        if (cudaMemcpy(out, d + 2048, sizeof out, cudaMemcpyDeviceToHost) != cudaSuccess) return 1;
        for (float s : out) {
            if (s != 2997.f) return std::printf("sum %g, want 2997\n", s), 1;
        }
        return 0;
    }
    if (!std::strcmp(c, "last_error")) {  // a bad launch sets the last error, read once, then cleared
        reduce_kernel<<<1, 2048>>>(d, d, 1);
        if (cudaPeekAtLastError() != cudaErrorInvalidConfiguration) return 1;
        if (cudaGetLastError() != cudaErrorInvalidConfiguration) return 1;
        if (cudaGetLastError() != cudaSuccess) return 1;
        reduce_kernel<<<0, 128>>>(d, d, 1);
        if (cudaGetLastError() != cudaErrorInvalidConfiguration) return 1;
        float h;
        if (cudaMemcpy(&h, &h, 4, cudaMemcpyHostToDevice) != cudaErrorInvalidValue) return 1;  // not device memory
        return cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess ? 0 : 1;
    }
    if (!std::strcmp(c, "poisoned_shared")) {  // unwritten shared memory reads as 0xff bytes (NaN) in every block
        uninit_kernel<<<2, 128>>>(d);
        float h[256];
        if (cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost) != cudaSuccess) return 2;
        for (float x : h) {
            if (x == x) return 1;
        }
        return 0;
    }
    if (!std::strcmp(c, "partial_mask")) mask_kernel<<<1, 32>>>(d);
    if (!std::strcmp(c, "partial_warp")) reduce_kernel<<<1, 48>>>(d, d + 64, 48);
    if (!std::strcmp(c, "misaligned_load")) {
        ldg_kernel<<<1, 1>>>(reinterpret_cast<const uint4*>(d + 1), reinterpret_cast<uint4*>(d + 64));
    }
    if (!std::strcmp(c, "misaligned_store")) store_kernel<<<1, 1>>>(reinterpret_cast<uint4*>(d + 2));
    if (!std::strcmp(c, "divergent_sync")) divergent_kernel<<<1, 128>>>(d);
    if (!std::strcmp(c, "host_pointer")) {
        static float host[128];
        divergent_kernel<<<1, 1>>>(host);
    }
    if (!std::strcmp(c, "out_of_bounds")) store_kernel<<<1, 1>>>(reinterpret_cast<uint4*>(d + 4096));
    if (!std::strcmp(c, "big_shared")) big_shared_kernel<<<1, 32>>>(d);
    return 0;  // a fault case that got here was not caught
}

int main(int argc, char** argv) {
    float* d = nullptr;
    if (cudaMalloc(&d, 4096 * sizeof(float)) != cudaSuccess || cudaMemset(d, 0, 4096 * sizeof(float)) != cudaSuccess) {
        return 2;
    }
    const int rc = run(argc > 1 ? argv[1] : "", d);
    cudaFree(d);
    return rc;
}
