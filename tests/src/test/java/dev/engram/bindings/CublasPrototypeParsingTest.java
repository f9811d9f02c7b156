package dev.engram.bindings;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * How {@link CublasBindingTest#prototype} cuts declarations out of cublas_api.h, on the shapes both header
 * generations use (written here in their layout, not copied): CUDA 12 marks an exported function with
 * {@code CUBLASAPI ... CUBLASWINAPI}, CUDA 13 with {@code CUBLASWINAPI} alone; C++ wrappers such as the
 * {@code static inline} overload of cublasGemmEx are not declarations of the library's symbol. Runs
 * everywhere, so the real-header check on a machine with cuBLAS (CublasBindingTest) cannot fail on parsing.
 */
class CublasPrototypeParsingTest {
    private static final String CUDA12_STYLE = """
            CUBLASAPI cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle);
            CUBLASAPI const char* CUBLASWINAPI cublasGetStatusName(cublasStatus_t status);
            CUBLASAPI cublasStatus_t CUBLASWINAPI
            cublasGemmEx(cublasHandle_t handle,
                                                               cublasOperation_t transa,
                                                               int m);
            """;
    private static final String CUDA13_STYLE = """
            #if defined(__cplusplus)
            extern "C" {
            #endif
            cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle);

            const char* CUBLASWINAPI cublasGetStatusName(cublasStatus_t status);

            cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle,
                                                     cublasOperation_t transa,
                                                     int m);
            /* wrappers to accept old code with cudaDataType computeType when referenced from c++ code */
            static inline cublasStatus_t cublasGemmEx(cublasHandle_t handle,
                                                      cublasOperation_t transa,
                                                      long m) {
              return cublasGemmEx(handle, transa, (int) m);
            }
            """;

    @Test
    void cuda12DeclarationsAreFound() {
        assertEquals("cublasStatus_t cublasCreate_v2(cublasHandle_t* handle);",
                CublasBindingTest.prototype(CUDA12_STYLE, "cublasCreate_v2"));
        assertEquals("const char* cublasGetStatusName(cublasStatus_t status);",
                CublasBindingTest.prototype(CUDA12_STYLE, "cublasGetStatusName"));
    }

    @Test
    void aDeclarationMayBreakAfterCublasWinApi() {
        assertEquals("cublasStatus_t cublasGemmEx(cublasHandle_t handle,",
                CublasBindingTest.prototype(CUDA12_STYLE, "cublasGemmEx").lines().findFirst().orElseThrow());
    }

    @Test
    void cuda13DeclarationsAreFoundAndTheInlineWrapperIsNot() {
        assertEquals("cublasStatus_t cublasCreate_v2(cublasHandle_t* handle);",
                CublasBindingTest.prototype(CUDA13_STYLE, "cublasCreate_v2"));
        assertEquals("const char* cublasGetStatusName(cublasStatus_t status);",
                CublasBindingTest.prototype(CUDA13_STYLE, "cublasGetStatusName"));
        String gemm = CublasBindingTest.prototype(CUDA13_STYLE, "cublasGemmEx");
        assertEquals("cublasStatus_t cublasGemmEx(cublasHandle_t handle,", gemm.lines().findFirst().orElseThrow());
        assertEquals(true, gemm.contains("int m") && !gemm.contains("long m"), gemm);
    }

    @Test
    void absentAndUnmarkedDeclarationsAreNull() {
        assertNull(CublasBindingTest.prototype(CUDA13_STYLE, "cublasDestroy_v2"));
        assertNull(CublasBindingTest.prototype("cublasStatus_t cublasCreate_v2(cublasHandle_t* handle);", "cublasCreate_v2"));
    }

    @Test
    void twoExportedDeclarationsAreAnError() {
        String twice = CUDA13_STYLE + "cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* h);\n";
        assertThrows(AssertionError.class, () -> CublasBindingTest.prototype(twice, "cublasCreate_v2"));
    }
}
