package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Makes a device current on the calling thread for a block and restores the caller's current device when
 * closed, so that a library call runs on its own device without changing the device its caller works on:
 * <pre>{@code try (DeviceScope scope = DeviceScope.enter(layerDevice)) { ... } }</pre>
 * Costs one {@code cudaGetDevice}, and two {@code cudaSetDevice} only when the devices differ. Not shared
 * between threads (the current device is per thread).
 */
public final class DeviceScope implements AutoCloseable {
    /** One int of native memory per thread for cudaGetDevice's result: no allocation per call. */
    private static final ThreadLocal<MemorySegment> DEVICE_OUT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(ValueLayout.JAVA_INT));

    private final int previous;
    private final boolean switched;

    private DeviceScope(int previous, boolean switched) {
        this.previous = previous;
        this.switched = switched;
    }

    /**
     * {@return a scope in which {@code device} is current}; a negative {@code device} (no particular device)
     * leaves the current one as it is
     * @param device a device ordinal, or -1
     */
    public static DeviceScope enter(int device) {
        int current = currentDevice();
        if (device < 0 || device == current) return new DeviceScope(current, false);
        Cuda.check("cudaSetDevice", cuda_runtime_h.cudaSetDevice(device));
        return new DeviceScope(current, true);
    }

    /** {@return the calling thread's current device ({@code cudaGetDevice})} */
    public static int currentDevice() {
        Cuda.ensureLoaded();
        MemorySegment out = DEVICE_OUT.get();
        Cuda.check("cudaGetDevice", cuda_runtime_h.cudaGetDevice(out));
        return out.get(ValueLayout.JAVA_INT, 0);
    }

    /** Restores the device that was current when the scope was entered. */
    @Override
    public void close() {
        if (switched) Cuda.check("cudaSetDevice", cuda_runtime_h.cudaSetDevice(previous));
    }
}
