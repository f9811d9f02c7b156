package dev.engram.errors;

import dev.engram.bindings.cuda_runtime_h;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaError;
import dev.engram.cuda.CudaException;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.gpu.ShortConv;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A CUDA error that a libengram kernel launch reports arrives as the same {@link CudaException} as a cudart
 * call's, with the {@code cudaError_t}. The error is provoked the way a foreign stack could leave one behind:
 * a raw {@code cudaMalloc} that fails (cudaErrorMemoryAllocation, not sticky) and whose error nobody read, so
 * the next launch's {@code cudaGetLastError} reports it (engram.h's documented convention).
 */
@RequiresGpu
class LaunchErrorGpuTest {
    @Test
    void aLaunchReportsAPendingCudaErrorAsACudaExceptionWithItsCode() {
        CudaDevice.get(0).makeCurrent();
        int b = 1, t = 4, g = 1, h = 8, k = 2;
        try (DeviceBuffer value = DeviceBuffer.allocate((long) b * t * g * h, DType.FLOAT32);
             DeviceBuffer norm = DeviceBuffer.allocate((long) g * h, DType.FLOAT32);
             DeviceBuffer conv = DeviceBuffer.allocate((long) g * h * k, DType.FLOAT32);
             DeviceBuffer out = DeviceBuffer.allocate((long) b * t * g * h, DType.FLOAT32);
             CudaStream stream = CudaStream.create()) {
            value.zeroAsync(stream);
            norm.zeroAsync(stream);
            conv.zeroAsync(stream);
            int failed = failRawAllocation();
            assertEquals(CudaError.MEMORY_ALLOCATION.number(), failed, "a 2^62-byte cudaMalloc must fail");

            CudaException e = assertThrows(CudaException.class,
                    () -> conv(value, norm, conv, out, b, t, g, h, k).enqueue(stream));
            assertEquals("engram_short_conv", e.call());
            assertSame(CudaError.MEMORY_ALLOCATION, e.error());
            assertEquals("cudaErrorMemoryAllocation", e.errorName());
            assertTrue(e.getMessage().contains("kernel launch failed"), e.getMessage());

            // Reported once: the next launch goes through.
            conv(value, norm, conv, out, b, t, g, h, k).enqueue(stream);
            stream.synchronize();
        }
    }

    private static ShortConv.Launch conv(DeviceBuffer value, DeviceBuffer norm, DeviceBuffer conv, DeviceBuffer out,
                                         int b, int t, int g, int h, int k) {
        return ShortConv.launch().value(value).normWeight(norm).convWeight(conv).eps(1e-5f).tokens(b, t).branches(g, h)
                .kernel(k, 1).out(out);
    }

    /** A raw cudaMalloc of 2^62 bytes, its error left pending; returns the cudaError_t. */
    private static int failRawAllocation() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ptr = arena.allocate(ValueLayout.ADDRESS);
            int code = cuda_runtime_h.cudaMalloc(ptr, 1L << 62);
            assertNotEquals(0, code);
            return code;
        }
    }
}
