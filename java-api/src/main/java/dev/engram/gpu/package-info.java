/**
 * Engram's CUDA kernels from Java: typed, checked launches on {@link dev.engram.cuda.DeviceArray}s and a
 * {@link dev.engram.cuda.CudaStream}: {@link dev.engram.gpu.HashedGather}, {@link dev.engram.gpu.Gate} and
 * {@link dev.engram.gpu.ShortConv}. Every launch validates its arguments in Java before the native call and
 * checks the status with {@link dev.engram.nativelib.EngramNative#check}.
 */
package dev.engram.gpu;
