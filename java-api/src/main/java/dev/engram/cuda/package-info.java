/**
 * The CUDA runtime from Java: {@link dev.engram.cuda.Cuda} (loading, the one error check),
 * {@link dev.engram.cuda.CudaDevice}, {@link dev.engram.cuda.CudaStream}, {@link dev.engram.cuda.CudaEvent},
 * typed device memory ({@link dev.engram.cuda.DeviceBuffer} owns, {@link dev.engram.cuda.DeviceSlice} views)
 * and {@link dev.engram.cuda.PinnedHostBuffer}; cuBLAS GEMMs through {@link dev.engram.cuda.Cublas} (libcublas loaded
 * at run time, never linked). Every native resource is AutoCloseable with idempotent
 * close; use after close is an IllegalStateException; nothing is freed by the garbage collector.
 * Bindings: {@code dev.engram.bindings.cuda_runtime_h}, {@code dev.engram.bindings.cublas_h}.
 */
package dev.engram.cuda;
