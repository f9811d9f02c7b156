/**
 * Engram's CUDA kernels from Java: typed, checked launches on {@link dev.engram.cuda.DeviceArray}s and a
 * {@link dev.engram.cuda.CudaStream}: {@link dev.engram.gpu.HashedGather}, {@link dev.engram.gpu.Gate},
 * {@link dev.engram.gpu.ShortConv} and {@link dev.engram.gpu.Fp8Dequantize}. Every launch validates its arguments in Java before the native call and
 * checks libengram's status: a CUDA error is a {@link dev.engram.cuda.CudaException}, any other failure an
 * {@link dev.engram.EngramNativeException}.
 */
package dev.engram.gpu;
