package dev.engram.kernels;

import dev.engram.bindings.engram_h;
import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * engram_hashed_gather_fp8 and engram_hashed_gather_fp8_packed check every argument on the host before any CUDA
 * call (engram.h, "fp8 tables"), so these run without a GPU: each bad argument gives ENGRAM_STATUS_INVALID_ARGUMENT
 * and a last-error text naming the entry point and the argument. Host segments stand in for device pointers; with bad
 * arguments nothing is launched, so they are never touched.
 */
class Fp8GatherArgumentsTest {
    // max_ngram 3, 2 heads per n-gram -> 4 heads of 32 codes, one scale per 16 codes.
    private static final long[] MODULI = {11, 13, 17, 19};
    private static final long[] OFFSETS = {0, 11, 24, 41};
    private static final long TABLE_ROWS = 60;
    private static final int HEAD_DIM = 32;

    @BeforeAll
    static void load() {
        NativeLibraryLoader.require();
    }

    /** All arguments of one call (rectangular, or packed with {@code packed}), valid by default; each test breaks one. */
    private static final class Call {
        final Arena arena;
        MemorySegment ids, lut, mult, moduli, offsets, codes, scales, out, hashIds, cu, slots, starts, history;
        long batch = 2, seqLen = 3, tableRows = TABLE_ROWS;
        int headDim = HEAD_DIM, scaleBlock = 16, outDtype = engram_h.ENGRAM_DTYPE_BFLOAT16(), numSeqs = 2;
        boolean packed;

        Call(Arena arena) {
            this.arena = arena;
            ids = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 2, 3, 4, 5, 6);
            lut = arena.allocateFrom(ValueLayout.JAVA_LONG, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            mult = arena.allocateFrom(ValueLayout.JAVA_LONG, 3, 5, 7);
            moduli = arena.allocateFrom(ValueLayout.JAVA_LONG, MODULI);
            offsets = arena.allocateFrom(ValueLayout.JAVA_LONG, OFFSETS);
            codes = arena.allocate(TABLE_ROWS * HEAD_DIM, 16);
            scales = arena.allocate(TABLE_ROWS * HEAD_DIM / 16, 16);
            out = arena.allocate(6L * 4 * HEAD_DIM * 4, 16);
            hashIds = arena.allocate(ValueLayout.JAVA_LONG, 6 * 4);
            cu = arena.allocateFrom(ValueLayout.JAVA_INT, 0, 2, 6);
            slots = arena.allocateFrom(ValueLayout.JAVA_INT, 0, 1);
            starts = arena.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 1, (byte) 1);
            history = arena.allocate(ValueLayout.JAVA_LONG, 2 * 2);
        }

        int run() {
            if (packed) {
                return engram_h.engram_hashed_gather_fp8_packed(ids, batch * seqLen, cu, slots, starts, numSeqs,
                        history, 2, lut, 10, 0, mult, 3, moduli, offsets, 2, codes, scales, tableRows, headDim,
                        scaleBlock, outDtype, out, hashIds, MemorySegment.NULL);
            }
            return engram_h.engram_hashed_gather_fp8(ids, batch, seqLen, lut, 10, 0, mult, 3, moduli, offsets, 2, codes,
                    scales, tableRows, headDim, scaleBlock, outDtype, out, hashIds, MemorySegment.NULL);
        }
    }

    private static void assertInvalid(String lastError, Consumer<Call> breakIt) {
        for (boolean packed : new boolean[] {false, true}) {
            try (Arena arena = Arena.ofConfined()) {
                Call call = new Call(arena);
                call.packed = packed;
                breakIt.accept(call);
                int status = call.run();
                String name = packed ? "engram_hashed_gather_fp8_packed: " : "engram_hashed_gather_fp8: ";
                assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), status, name + lastError);
                assertEquals(name + lastError, engram_h.engram_last_error().getString(0));
            }
        }
    }

    @Test
    void scaleArguments() {
        assertInvalid("null d_scales", c -> c.scales = MemorySegment.NULL);
        assertInvalid("scale_block must be >= 1, got 0", c -> c.scaleBlock = 0);
        assertInvalid("scale_block must be >= 1, got -16", c -> c.scaleBlock = -16);
        assertInvalid("scale_block 12 does not divide head_dim 32", c -> c.scaleBlock = 12);
        assertInvalid("scale_block 64 does not divide head_dim 32", c -> c.scaleBlock = 64);
    }

    @Test
    void outDtypeIsFloat32OrBfloat16() {
        String why = "out_dtype must be ENGRAM_DTYPE_FLOAT32 = 0 or ENGRAM_DTYPE_BFLOAT16 = 1 (the table is E4M3), got ";
        assertInvalid(why + "2", c -> c.outDtype = engram_h.ENGRAM_DTYPE_FP8_E4M3());
        assertInvalid(why + "-1", c -> c.outDtype = -1);
    }

    @Test
    void theGatherChecksAreSharedAndRelabelled() {
        assertInvalid("null d_table", c -> c.codes = MemorySegment.NULL);
        assertInvalid("null d_raw_ids", c -> c.ids = MemorySegment.NULL);
        assertInvalid("head_dim must be in [1, 65536], got 0", c -> c.headDim = 0);
        assertInvalid("head 3 addresses rows [41, 41 + 19) outside the table's 59 rows", c -> c.tableRows = 59);
        assertInvalid("d_out must be aligned to the dtype's 4-byte elements", c -> {
            c.outDtype = engram_h.ENGRAM_DTYPE_FLOAT32();
            c.out = c.out.asSlice(2);
        });
    }

    @Test
    void codesAndScalesNeedNoAlignment() {
        // Any byte address is fine for 1-byte codes and scales: the next check to fail is about d_out.
        assertInvalid("d_out must be aligned to the dtype's 2-byte elements", c -> {
            c.codes = c.codes.asSlice(1);
            c.scales = c.scales.asSlice(3);
            c.out = c.out.asSlice(1);
        });
    }

    @Test
    void packedDescriptorsAreChecked() {
        try (Arena arena = Arena.ofConfined()) {
            Call call = new Call(arena);
            call.packed = true;
            call.cu = MemorySegment.NULL;
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), call.run());
            assertEquals("engram_hashed_gather_fp8_packed: null d_cu_seqlens", engram_h.engram_last_error().getString(0));
            call.cu = arena.allocateFrom(ValueLayout.JAVA_INT, 0, 2, 6);
            call.history = call.history.asSlice(4);
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), call.run());
            assertEquals("engram_hashed_gather_fp8_packed: d_history must be 8-byte aligned",
                    engram_h.engram_last_error().getString(0));
        }
    }

    @Test
    void noTokensLaunchNothing() {
        for (boolean packed : new boolean[] {false, true}) {
            try (Arena arena = Arena.ofConfined()) {
                Call call = new Call(arena);
                call.packed = packed;
                call.batch = 0;
                call.numSeqs = 0;
                int status = call.run();
                if (engram_h.engram_built_with_cuda() == 1) {
                    assertEquals(engram_h.ENGRAM_STATUS_SUCCESS(), status, () -> engram_h.engram_last_error().getString(0));
                } else {
                    assertEquals(engram_h.ENGRAM_STATUS_NOT_BUILT_WITH_CUDA(), status);
                }
            }
        }
    }

    @Test
    void fp8DtypeConstantMatchesTheHeader() {
        assertEquals(2, engram_h.ENGRAM_DTYPE_FP8_E4M3());
    }
}
