package dev.engram.testing;

import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.DeviceBuffer;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * For GPU test classes ({@code @ExtendWith(DeviceMemoryReturned.class)} after {@link RequiresGpu}): makes device 0
 * current before each test and fails the test when {@link DeviceBuffer#liveBytes()} is not back to its value
 * from before it, i.e. when the test (or the code under test) leaked device memory.
 */
public final class DeviceMemoryReturned implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(DeviceMemoryReturned.class);

    @Override
    public void beforeEach(ExtensionContext context) {
        CudaDevice.get(0).makeCurrent();
        context.getStore(NS).put("liveBefore", DeviceBuffer.liveBytes());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        long before = context.getStore(NS).get("liveBefore", Long.class);
        assertEquals(before, DeviceBuffer.liveBytes(), "live device bytes after the test");
    }
}
