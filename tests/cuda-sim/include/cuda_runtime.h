/* Only used where no CUDA toolkit is installed: lets kernels/cuda_runtime_info.cu (libengram's real
 * CUDA probes) compile as C++ against the simulator's stand-in types. With a toolkit, build.sh puts
 * the toolkit's include directory first and this file is never seen. */
#pragma once
#include "sim_cuda_types.h"

#ifdef __cplusplus
extern "C" {
#endif
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError(void);
cudaError_t cudaRuntimeGetVersion(int* runtimeVersion);
cudaError_t cudaGetDeviceCount(int* count);
#ifdef __cplusplus
}
#endif
