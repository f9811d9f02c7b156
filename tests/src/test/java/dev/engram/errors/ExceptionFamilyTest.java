package dev.engram.errors;

import dev.engram.EngramException;
import dev.engram.EngramNativeException;
import dev.engram.EngramStatus;
import dev.engram.NativeLibraryException;
import dev.engram.bindings.cublas_h;
import dev.engram.bindings.engram_h;
import dev.engram.cuda.CublasException;
import dev.engram.cuda.CublasStatus;
import dev.engram.cuda.CudaError;
import dev.engram.cuda.CudaException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * One exception family: every failure type the library throws is an unchecked {@link EngramException}, and each
 * code enum matches the C definitions it mirrors (driver_types.h where the CUDA toolkit is installed, engram.h's
 * bound constants, cuBLAS's bound constants, which CublasBindingTest checks against cublas_api.h).
 */
class ExceptionFamilyTest {
    @Test
    void everyFailureTypeIsAnUncheckedEngramException() {
        for (Class<?> c : new Class<?>[] {CudaException.class, CublasException.class, EngramNativeException.class,
                NativeLibraryException.class}) {
            assertTrue(EngramException.class.isAssignableFrom(c), c + " extends EngramException");
        }
        assertTrue(RuntimeException.class.isAssignableFrom(EngramException.class));
    }

    @Test
    void exceptionsCarryTheirCodeAsAnEnumAndANumber() {
        CudaException cuda = new CudaException("cudaMalloc", 2, "cudaErrorMemoryAllocation", "out of memory");
        assertSame(CudaError.MEMORY_ALLOCATION, cuda.error());
        assertEquals("cudaMalloc failed: cudaErrorMemoryAllocation (2): out of memory", cuda.getMessage());
        CudaException unknown = new CudaException("x", 123456, "cudaErrorFromTheFuture", "?");
        assertSame(CudaError.UNRECOGNIZED, unknown.error());
        assertEquals(123456, unknown.code(), "the number survives an unrecognized code");
        CudaException launch = new CudaException("engram_gate", 9, "cudaErrorInvalidConfiguration", "invalid configuration",
                "engram_gate: kernel launch failed: cudaErrorInvalidConfiguration: invalid configuration");
        assertTrue(launch.getMessage().endsWith("[engram_gate: kernel launch failed: cudaErrorInvalidConfiguration:"
                + " invalid configuration]"), launch.getMessage());
        assertSame(CublasStatus.INVALID_VALUE, new CublasException("cublasGemmEx", 7, "CUBLAS_STATUS_INVALID_VALUE", "").error());
        assertSame(EngramStatus.INVALID_ARGUMENT,
                new EngramNativeException("engram_ngram_hash_host", 1, "ENGRAM_STATUS_INVALID_ARGUMENT", "bad").error());
    }

    @Test
    void cudaErrorMatchesDriverTypesH() throws IOException {
        Path header = Path.of(System.getProperty("engram.cuda.include", "/usr/local/cuda/include"), "driver_types.h");
        assumeTrue(Files.isRegularFile(header), "no CUDA toolkit header " + header + " (set -Dengram.cuda.include)");
        String text = Files.readString(header);
        Matcher body = Pattern.compile("enum\\s+__device_builtin__\\s+cudaError\\s*\\{(.*?)\\};", Pattern.DOTALL).matcher(text);
        assertTrue(body.find(), "enum cudaError in " + header);
        Map<String, Integer> declared = new LinkedHashMap<>();
        Matcher item = Pattern.compile("(cudaError\\w+)\\s*=\\s*(\\d+)").matcher(body.group(1).replaceAll("(?s)/\\*.*?\\*/", ""));
        while (item.find()) declared.put(item.group(1), Integer.parseInt(item.group(2)));
        Map<String, Integer> listed = new LinkedHashMap<>();
        for (CudaError e : CudaError.values()) {
            if (e != CudaError.UNRECOGNIZED) listed.put(e.cudaName(), e.number());
        }
        assertEquals(declared, listed, "CudaError against " + header);
        for (CudaError e : CudaError.values()) {
            if (e != CudaError.UNRECOGNIZED) assertSame(e, CudaError.of(e.number()));
        }
    }

    @Test
    void engramStatusMatchesEngramH() {
        assertEquals(engram_h.ENGRAM_STATUS_SUCCESS(), EngramStatus.SUCCESS.number());
        assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), EngramStatus.INVALID_ARGUMENT.number());
        assertEquals(engram_h.ENGRAM_STATUS_CUDA_ERROR(), EngramStatus.CUDA_ERROR.number());
        assertEquals(engram_h.ENGRAM_STATUS_NOT_BUILT_WITH_CUDA(), EngramStatus.NOT_BUILT_WITH_CUDA.number());
        assertEquals(engram_h.ENGRAM_STATUS_INTERNAL_ERROR(), EngramStatus.INTERNAL_ERROR.number());
        assertEquals(6, EngramStatus.values().length, "a new ENGRAM_STATUS_* needs a constant here");
    }

    @Test
    void cublasStatusMatchesTheBoundConstants() {
        assertEquals(cublas_h.CUBLAS_STATUS_SUCCESS(), CublasStatus.SUCCESS.number());
        assertEquals(cublas_h.CUBLAS_STATUS_NOT_INITIALIZED(), CublasStatus.NOT_INITIALIZED.number());
        assertEquals(cublas_h.CUBLAS_STATUS_ALLOC_FAILED(), CublasStatus.ALLOC_FAILED.number());
        assertEquals(cublas_h.CUBLAS_STATUS_INVALID_VALUE(), CublasStatus.INVALID_VALUE.number());
        assertEquals(cublas_h.CUBLAS_STATUS_ARCH_MISMATCH(), CublasStatus.ARCH_MISMATCH.number());
        assertEquals(cublas_h.CUBLAS_STATUS_MAPPING_ERROR(), CublasStatus.MAPPING_ERROR.number());
        assertEquals(cublas_h.CUBLAS_STATUS_EXECUTION_FAILED(), CublasStatus.EXECUTION_FAILED.number());
        assertEquals(cublas_h.CUBLAS_STATUS_INTERNAL_ERROR(), CublasStatus.INTERNAL_ERROR.number());
        assertEquals(cublas_h.CUBLAS_STATUS_NOT_SUPPORTED(), CublasStatus.NOT_SUPPORTED.number());
        assertEquals(cublas_h.CUBLAS_STATUS_LICENSE_ERROR(), CublasStatus.LICENSE_ERROR.number());
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", CublasStatus.INVALID_VALUE.cublasName());
    }
}
