package dev.engram.cuda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checks that need the CUDA runtime library but no GPU: errors, argument validation before any CUDA call. */
class CudaWithoutGpuTest {

    @Test
    void checkFormatsTheCudaErrorNameAndString() {
        CudaException e = assertThrows(CudaException.class, () -> Cuda.check("cudaMalloc", 2));
        assertEquals("cudaMalloc failed: cudaErrorMemoryAllocation (2): out of memory", e.getMessage());
        assertEquals("cudaMalloc", e.call());
        assertEquals(2, e.code());
        assertEquals("cudaErrorMemoryAllocation", e.errorName());
        Cuda.check("cudaFree", 0); // cudaSuccess passes
    }

    @Test
    void deviceCountWithoutAGpuIsACudaExceptionNamingTheCall() {
        int count;
        try {
            count = CudaDevice.count();
        } catch (CudaException e) {
            assertEquals("cudaGetDeviceCount", e.call(), e.getMessage());
            assertTrue(e.errorName().startsWith("cudaError"), e.getMessage());
            assertTrue(e.getMessage().startsWith("cudaGetDeviceCount failed: cudaError"), e.getMessage());
            System.out.println("[cuda] no GPU here: " + e.getMessage());
            return;
        }
        assertTrue(count >= 1, "cudaGetDeviceCount succeeded, so a device exists");
        System.out.println("[cuda] " + count + " device(s): this test's no-GPU branch did not run");
    }

    @Test
    void runtimeVersionNeedsNoGpu() {
        assertTrue(Cuda.runtimeVersion() >= 13000, "cudart 13 expected");
    }

    @Test
    void negativeAndOverflowingSizesAreRejectedBeforeCuda() {
        assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.allocate(-1, DType.FLOAT32));
        assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.allocate(Long.MAX_VALUE / 2, DType.INT64));
        assertThrows(IllegalArgumentException.class, () -> PinnedHostBuffer.allocate(0));
        assertThrows(IllegalArgumentException.class, () -> PinnedHostBuffer.allocate(-3, DType.INT32));
        assertEquals(4, DType.FLOAT32.byteSize());
        assertEquals(2, DType.BFLOAT16.byteSize());
        assertEquals(8, DType.INT64.bytesFor(1));
    }

    @Test
    void copyValidationHappensBeforeAnyCudaCall() {
        long before = DeviceBuffer.liveBytes();
        try (DeviceBuffer empty = DeviceBuffer.allocate(0, DType.INT64); Arena arena = Arena.ofConfined()) {
            assertEquals(0, empty.byteSize());
            IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class, () -> empty.copyFrom(new float[0]));
            assertTrue(dtype.getMessage().contains("dtype mismatch"), dtype.getMessage());
            assertThrows(IllegalArgumentException.class, () -> empty.copyTo(new int[0]));
            IllegalArgumentException size = assertThrows(IllegalArgumentException.class, () -> empty.copyFrom(new long[3]));
            assertTrue(size.getMessage().contains("size mismatch"), size.getMessage());
            assertThrows(IllegalArgumentException.class, () -> empty.copyFrom(arena.allocate(8)));
            assertThrows(IllegalArgumentException.class,
                    () -> empty.copyFromAsync(arena.allocate(16), CudaStream.legacyDefault()));
            assertThrows(IllegalArgumentException.class,
                    () -> empty.copyFrom(java.lang.foreign.MemorySegment.ofArray(new long[0])), "heap segment");
            assertThrows(IllegalArgumentException.class, () -> empty.slice(1, 0));
            assertThrows(IllegalArgumentException.class, () -> empty.slice(0, 1));
            assertThrows(IllegalArgumentException.class, () -> empty.slice(-1, 0));
            assertEquals(0, empty.slice(0, 0).elementCount());
            empty.copyFrom(new long[0]); // nothing to copy: no CUDA call
            try (DeviceBuffer floats = DeviceBuffer.allocate(0, DType.FLOAT32)) {
                IllegalArgumentException d2d = assertThrows(IllegalArgumentException.class,
                        () -> floats.copyFromAsync(empty, CudaStream.legacyDefault()));
                assertTrue(d2d.getMessage().contains("dtype mismatch"), d2d.getMessage());
            }
        }
        assertEquals(before, DeviceBuffer.liveBytes());
    }

    @Test
    void useAfterCloseIsAnIllegalStateExceptionAndCloseIsIdempotent() {
        DeviceBuffer buffer = DeviceBuffer.allocate(0, DType.FLOAT32);
        DeviceSlice slice = buffer.slice(0, 0);
        buffer.close();
        buffer.close();
        assertTrue(buffer.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, buffer::address);
        assertTrue(e.getMessage().contains("DeviceBuffer") && e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> buffer.copyFrom(new float[0]));
        assertThrows(IllegalStateException.class, slice::address);
        assertThrows(IllegalStateException.class, () -> buffer.slice(0, 0));
        CudaStream.legacyDefault().close(); // not owned: a no-op
        CudaStream.legacyDefault().handle();
    }
}
