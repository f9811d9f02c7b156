package dev.engram.testing;

import dev.engram.Engram;
import dev.engram.GpuStatus;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Backs {@link RequiresGpu}: probes once (Engram caches the probe), disables with the reasons, or, with
 * {@code -Dengram.requireGpu=true}, lets the test start and fails it before its body runs.
 */
public final class RequiresGpuCondition implements ExecutionCondition, BeforeEachCallback {
    /** System property that turns "no GPU" from a skip into a failure. */
    public static final String REQUIRE_GPU_PROPERTY = "engram.requireGpu";

    /** What to do with a test that needs a GPU. */
    public enum Decision { RUN, SKIP, FAIL }

    /**
     * @param status     the GPU probe
     * @param requireGpu whether a missing GPU is a failure
     * @return RUN when the GPU path is available, else FAIL or SKIP as {@code requireGpu} says
     */
    public static Decision decide(GpuStatus status, boolean requireGpu) {
        if (status.available()) return Decision.RUN;
        return requireGpu ? Decision.FAIL : Decision.SKIP;
    }

    /** @return the message a skipped or failed test carries: the probe's reasons */
    public static String reason(GpuStatus status) {
        return "needs a GPU: " + status.describe();
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        GpuStatus status = Engram.gpuStatus();
        return switch (decide(status, Boolean.getBoolean(REQUIRE_GPU_PROPERTY))) {
            case RUN -> ConditionEvaluationResult.enabled(status.describe());
            case SKIP -> ConditionEvaluationResult.disabled(reason(status)
                    + " (set -D" + REQUIRE_GPU_PROPERTY + "=true to fail instead)");
            case FAIL -> ConditionEvaluationResult.enabled("engram.requireGpu=true: will fail, " + reason(status));
        };
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        GpuStatus status = Engram.gpuStatus();
        if (decide(status, Boolean.getBoolean(REQUIRE_GPU_PROPERTY)) == Decision.FAIL) {
            throw new AssertionError(REQUIRE_GPU_PROPERTY + "=true but " + reason(status));
        }
    }
}
