package dev.engram.testing;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The annotated test (or every test of the annotated class) needs a usable GPU path.
 *
 * <p>Without one ({@link dev.engram.Engram#gpuStatus()} not available) the test is disabled with the
 * probe's reasons, unless system property {@code engram.requireGpu=true} is set (as on the GPU
 * machine), in which case a missing GPU fails the test instead of skipping it.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@ExtendWith(RequiresGpuCondition.class)
public @interface RequiresGpu {
}
