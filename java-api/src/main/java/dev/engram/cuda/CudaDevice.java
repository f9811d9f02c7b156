package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A CUDA device by ordinal, with the attributes this project needs. Holds no native resource.
 */
public final class CudaDevice {
    private final int ordinal;

    /**
     * Free and total device memory in bytes, as {@code cudaMemGetInfo} reports them.
     *
     * @param freeBytes  free device memory
     * @param totalBytes total device memory
     */
    public record MemoryInfo(long freeBytes, long totalBytes) {}

    private CudaDevice(int ordinal) {
        this.ordinal = ordinal;
    }

    /**
     * {@return the number of visible CUDA devices ({@code cudaGetDeviceCount})}
     * @throws CudaException without a driver ({@code cudaErrorInsufficientDriver}) or without a device
     *         ({@code cudaErrorNoDevice})
     */
    public static int count() {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            Cuda.check("cudaGetDeviceCount", cuda_runtime_h.cudaGetDeviceCount(out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * {@return the device with this ordinal}
     * @param ordinal {@code 0 <= ordinal < count()}
     * @throws IllegalArgumentException for an ordinal out of range
     * @throws CudaException            when the device count cannot be queried
     */
    public static CudaDevice get(int ordinal) {
        if (ordinal < 0) {
            throw new IllegalArgumentException("device ordinal must be >= 0, got " + ordinal);
        }
        int count = count();
        if (ordinal >= count) {
            throw new IllegalArgumentException("device ordinal " + ordinal + " out of range: " + count + " device(s) visible");
        }
        return new CudaDevice(ordinal);
    }

    /** {@return the calling thread's current device ({@code cudaGetDevice})} */
    public static CudaDevice current() {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            Cuda.check("cudaGetDevice", cuda_runtime_h.cudaGetDevice(out));
            return new CudaDevice(out.get(ValueLayout.JAVA_INT, 0));
        }
    }

    /** {@return this device's ordinal} */
    public int ordinal() {
        return ordinal;
    }

    /** Makes this the calling thread's current device ({@code cudaSetDevice}). */
    public void makeCurrent() {
        Cuda.check("cudaSetDevice", cuda_runtime_h.cudaSetDevice(ordinal));
    }

    /** {@return the number of streaming multiprocessors} */
    public int multiProcessorCount() {
        return attribute(cuda_runtime_h.cudaDevAttrMultiProcessorCount());
    }

    /** {@return the compute capability's major version, e.g. 9 on an H100} */
    public int computeCapabilityMajor() {
        return attribute(cuda_runtime_h.cudaDevAttrComputeCapabilityMajor());
    }

    /** {@return the compute capability's minor version, e.g. 0 on an H100} */
    public int computeCapabilityMinor() {
        return attribute(cuda_runtime_h.cudaDevAttrComputeCapabilityMinor());
    }

    /** {@return the compute capability as {@code 10*major + minor}, e.g. 90 on an H100} */
    public int computeCapability() {
        return 10 * computeCapabilityMajor() + computeCapabilityMinor();
    }

    /**
     * {@return {@code cudaDeviceGetAttribute(attr, ordinal)}}
     * @param attr a {@code cudaDeviceAttr} value, e.g. {@code cuda_runtime_h.cudaDevAttrMultiProcessorCount()}
     */
    public int attribute(int attr) {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            Cuda.check("cudaDeviceGetAttribute", cuda_runtime_h.cudaDeviceGetAttribute(out, attr, ordinal));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * {@return free and total memory of this device ({@code cudaMemGetInfo})}. Makes this device current
     * for the calling thread, since {@code cudaMemGetInfo} reports on the current device.
     */
    public MemoryInfo memoryInfo() {
        makeCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment total = arena.allocate(ValueLayout.JAVA_LONG);
            Cuda.check("cudaMemGetInfo", cuda_runtime_h.cudaMemGetInfo(free, total));
            return new MemoryInfo(free.get(ValueLayout.JAVA_LONG, 0), total.get(ValueLayout.JAVA_LONG, 0));
        }
    }

    @Override
    public String toString() {
        return "CudaDevice[" + ordinal + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CudaDevice d && d.ordinal == ordinal;
    }

    @Override
    public int hashCode() {
        return ordinal;
    }
}
