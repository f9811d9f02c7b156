package dev.engram.testing;

import dev.engram.Engram;
import dev.engram.GpuStatus;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.engram.testing.RequiresGpuCondition.Decision.FAIL;
import static dev.engram.testing.RequiresGpuCondition.Decision.RUN;
import static dev.engram.testing.RequiresGpuCondition.Decision.SKIP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequiresGpuConditionTest {
    private static final GpuStatus NO_GPU = new GpuStatus(false,
            List.of("no CUDA device: cudaGetDeviceCount failed: cudaErrorNoDevice: no CUDA-capable device is detected"), 0, 13000);
    private static final GpuStatus ONE_GPU = new GpuStatus(true, List.of(), 1, 13000);

    @Test
    void skipsWithoutAGpuUnlessAGpuIsRequired() {
        assertEquals(SKIP, RequiresGpuCondition.decide(NO_GPU, false));
        assertEquals(FAIL, RequiresGpuCondition.decide(NO_GPU, true));
        assertEquals(RUN, RequiresGpuCondition.decide(ONE_GPU, false));
        assertEquals(RUN, RequiresGpuCondition.decide(ONE_GPU, true));
    }

    @Test
    void theReasonIsTheProbesReason() {
        String reason = RequiresGpuCondition.reason(NO_GPU);
        assertTrue(reason.contains("cudaErrorNoDevice"), reason);
        assertTrue(reason.startsWith("needs a GPU: GPU unavailable"), reason);
    }

    /** Runs only with a GPU (skipped here with the reasons; fails on a GPU-less run with -Dengram.requireGpu=true). */
    @Test
    @RequiresGpu
    void annotatedTestRunsOnlyWhenTheGpuPathIsAvailable() {
        GpuStatus status = Engram.gpuStatus();
        assertTrue(status.available(), status::describe);
        assertTrue(status.deviceCount() >= 1, status::describe);
    }
}
