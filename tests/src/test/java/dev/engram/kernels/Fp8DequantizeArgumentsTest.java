package dev.engram.kernels;

import dev.engram.bindings.engram_h;
import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * engram_fp8_dequantize_rows checks every argument on the host before any CUDA call (engram.h, "Dequantizing
 * gathered fp8 rows"), so these run without a GPU: each bad argument gives ENGRAM_STATUS_INVALID_ARGUMENT and a
 * last-error text naming the entry point and the argument. Host segments stand in for device pointers; with bad
 * arguments nothing is launched, so they are never touched.
 */
class Fp8DequantizeArgumentsTest {
    private static final int ROWS = 6, HEAD_DIM = 32;

    @BeforeAll
    static void load() {
        NativeLibraryLoader.require();
    }

    /** The arguments of one call, valid by default; each test breaks one. */
    private static final class Call {
        MemorySegment codes, scales, out;
        long rows = ROWS;
        int headDim = HEAD_DIM, scaleBlock = 16, outDtype = engram_h.ENGRAM_DTYPE_FLOAT32();

        Call(Arena arena) {
            codes = arena.allocate(ROWS * HEAD_DIM, 16);
            scales = arena.allocate(ROWS * HEAD_DIM / 16, 16);
            out = arena.allocate(ROWS * HEAD_DIM * 4 + 16, 16);
        }

        int run() {
            return engram_h.engram_fp8_dequantize_rows(codes, scales, rows, headDim, scaleBlock, outDtype, out,
                    MemorySegment.NULL);
        }
    }

    private static void assertInvalid(String lastError, Consumer<Call> breakIt) {
        try (Arena arena = Arena.ofConfined()) {
            Call call = new Call(arena);
            breakIt.accept(call);
            int status = call.run();
            String text = "engram_fp8_dequantize_rows: " + lastError;
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), status, text);
            assertEquals(text, engram_h.engram_last_error().getString(0));
        }
    }

    @Test
    void nullPointersAreRejected() {
        assertInvalid("null d_codes", c -> c.codes = MemorySegment.NULL);
        assertInvalid("null d_scales", c -> c.scales = MemorySegment.NULL);
        assertInvalid("null d_out", c -> c.out = MemorySegment.NULL);
    }

    @Test
    void shapesAndBlocksAreChecked() {
        assertInvalid("rows must be >= 0, got -1", c -> c.rows = -1);
        assertInvalid("head_dim must be in [1, 65536], got 0", c -> c.headDim = 0);
        assertInvalid("head_dim must be in [1, 65536], got 65537", c -> {
            c.headDim = 65537;
            c.scaleBlock = 1;
        });
        assertInvalid("scale_block must be >= 1, got 0", c -> c.scaleBlock = 0);
        assertInvalid("scale_block 12 does not divide head_dim 32", c -> c.scaleBlock = 12);
        assertInvalid("scale_block 64 does not divide head_dim 32", c -> c.scaleBlock = 64);
        assertInvalid("rows * head_dim output bytes overflow int64", c -> c.rows = Long.MAX_VALUE / 16);
    }

    @Test
    void outputDtypeAndAlignmentAreChecked() {
        assertInvalid("out_dtype must be ENGRAM_DTYPE_FLOAT32 = 0 or ENGRAM_DTYPE_BFLOAT16 = 1 (the codes are E4M3), got 2",
                c -> c.outDtype = engram_h.ENGRAM_DTYPE_FP8_E4M3());
        assertInvalid("out_dtype must be ENGRAM_DTYPE_FLOAT32 = 0 or ENGRAM_DTYPE_BFLOAT16 = 1 (the codes are E4M3), got -1",
                c -> c.outDtype = -1);
        assertInvalid("d_out must be aligned to the dtype's 4-byte elements", c -> c.out = c.out.asSlice(2));
        assertInvalid("d_out must be aligned to the dtype's 2-byte elements", c -> {
            c.outDtype = engram_h.ENGRAM_DTYPE_BFLOAT16();
            c.out = c.out.asSlice(1);
        });
    }

    @Test
    void noRowsSucceedWithoutALaunchWhereCudaIsBuilt() {
        try (Arena arena = Arena.ofConfined()) {
            Call call = new Call(arena);
            call.rows = 0;
            int status = call.run();
            int expected = engram_h.engram_built_with_cuda() == 1 ? engram_h.ENGRAM_STATUS_SUCCESS()
                    : engram_h.ENGRAM_STATUS_NOT_BUILT_WITH_CUDA();
            assertEquals(expected, status, engram_h.engram_last_error().getString(0));
        }
    }
}
