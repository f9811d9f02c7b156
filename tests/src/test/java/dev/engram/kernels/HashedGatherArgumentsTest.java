package dev.engram.kernels;

import dev.engram.bindings.engram_h;
import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * engram_hashed_gather checks every argument on the host before any CUDA call, so these run on a
 * machine without GPU, driver or nvcc: each bad argument gives ENGRAM_STATUS_INVALID_ARGUMENT and a
 * last-error text naming it. Host segments stand in for device pointers; with bad arguments nothing
 * is launched, so they are never touched. (Valid arguments would launch: not done here.)
 */
class HashedGatherArgumentsTest {
    // Default-shaped layer, small: max_ngram 3, 2 heads per n-gram -> 4 heads of 8 fp32 dims (32 bytes).
    private static final int MAX_NGRAM = 3;
    private static final int HEADS_PER_NGRAM = 2;
    private static final long[] MODULI = {11, 13, 17, 19};
    private static final long[] OFFSETS = {0, 11, 24, 41};
    private static final long TABLE_ROWS = 60;
    private static final int HEAD_DIM = 8;

    private static final int F32 = 0;

    @BeforeAll
    static void load() {
        NativeLibraryLoader.require();
    }

    /** All arguments of one call, valid by default; each test breaks one. */
    private static final class Call {
        final Arena arena;
        MemorySegment ids, lut, mult, moduli, offsets, table, out, hashIds;
        long batch = 2, seqLen = 3, lutSize = 10, pad = 0, tableRows = TABLE_ROWS;
        int maxNgram = MAX_NGRAM, headsPerNgram = HEADS_PER_NGRAM, headDim = HEAD_DIM, dtype = F32;

        Call(Arena arena) {
            this.arena = arena;
            ids = arena.allocateFrom(ValueLayout.JAVA_LONG, 1, 2, 3, 4, 5, 6);
            lut = arena.allocateFrom(ValueLayout.JAVA_LONG, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            mult = arena.allocateFrom(ValueLayout.JAVA_LONG, 3, 5, 7);
            moduli = arena.allocateFrom(ValueLayout.JAVA_LONG, MODULI);
            offsets = arena.allocateFrom(ValueLayout.JAVA_LONG, OFFSETS);
            table = arena.allocate(TABLE_ROWS * HEAD_DIM * 4, 16);
            out = arena.allocate(6L * 4 * HEAD_DIM * 4, 16);
            hashIds = arena.allocate(ValueLayout.JAVA_LONG, 6 * 4);
        }

        int run() {
            return engram_h.engram_hashed_gather(ids, batch, seqLen, lut, lutSize, pad, mult, maxNgram, moduli, offsets,
                    headsPerNgram, table, tableRows, headDim, dtype, out, hashIds, MemorySegment.NULL);
        }
    }

    private static void assertInvalid(String lastError, java.util.function.Consumer<Call> breakIt) {
        try (Arena arena = Arena.ofConfined()) {
            Call call = new Call(arena);
            breakIt.accept(call);
            int status = call.run();
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), status, lastError);
            assertEquals(lastError, engram_h.engram_last_error().getString(0));
        }
    }

    @Test
    void nullPointersThatAreNotOptional() {
        assertInvalid("engram_hashed_gather: null d_raw_ids", c -> c.ids = MemorySegment.NULL);
        assertInvalid("engram_hashed_gather: null multipliers", c -> c.mult = MemorySegment.NULL);
        assertInvalid("engram_hashed_gather: null moduli", c -> c.moduli = MemorySegment.NULL);
        assertInvalid("engram_hashed_gather: null row_offsets", c -> c.offsets = MemorySegment.NULL);
        assertInvalid("engram_hashed_gather: null d_table", c -> c.table = MemorySegment.NULL);
        assertInvalid("engram_hashed_gather: null d_out", c -> c.out = MemorySegment.NULL);
    }

    @Test
    void negativeOrOverflowingSizes() {
        assertInvalid("engram_hashed_gather: batch and seq_len must be >= 0", c -> c.batch = -1);
        assertInvalid("engram_hashed_gather: batch and seq_len must be >= 0", c -> c.seqLen = -3);
        assertInvalid("engram_hashed_gather: batch * seq_len overflows int64", c -> {
            c.batch = 1L << 40;
            c.seqLen = 1L << 40;
        });
        assertInvalid("engram_hashed_gather: lut_size must be >= 0", c -> c.lutSize = -1);
        assertInvalid("engram_hashed_gather: table_rows must be >= 0", c -> c.tableRows = -5);
    }

    @Test
    void unknownDtype() {
        assertInvalid("engram_hashed_gather: unknown dtype 3 (ENGRAM_DTYPE_FLOAT32 = 0, ENGRAM_DTYPE_BFLOAT16 = 1)",
                c -> c.dtype = 3);
        // ENGRAM_DTYPE_FP8_E4M3 is a table dtype of engram_hashed_gather_fp8 only: the message says where it goes.
        assertInvalid("engram_hashed_gather: dtype 2 (ENGRAM_DTYPE_FP8_E4M3) is for fp8 tables (engram_hashed_gather_fp8); "
                + "here ENGRAM_DTYPE_FLOAT32 = 0 or ENGRAM_DTYPE_BFLOAT16 = 1", c -> c.dtype = engram_h.ENGRAM_DTYPE_FP8_E4M3());
        assertInvalid("engram_hashed_gather: unknown dtype -1 (ENGRAM_DTYPE_FLOAT32 = 0, ENGRAM_DTYPE_BFLOAT16 = 1)",
                c -> c.dtype = -1);
    }

    @Test
    void headDimAndHeadLimits() {
        assertInvalid("engram_hashed_gather: head_dim must be in [1, 65536], got 0", c -> c.headDim = 0);
        assertInvalid("engram_hashed_gather: head_dim must be in [1, 65536], got 65537", c -> c.headDim = 65537);
        assertInvalid("engram_hashed_gather: max_ngram_size must be in [2, 16], got 1", c -> c.maxNgram = 1);
        assertInvalid("engram_hashed_gather: max_ngram_size must be in [2, 16], got 17", c -> c.maxNgram = 17);
        assertInvalid("engram_hashed_gather: heads_per_ngram must be >= 1", c -> c.headsPerNgram = 0);
        assertInvalid("engram_hashed_gather: (max_ngram_size - 1) * heads_per_ngram must be <= 64, got 66",
                c -> c.headsPerNgram = 33);
    }

    @Test
    void misalignedPointers() {
        assertInvalid("engram_hashed_gather: d_raw_ids and d_lut must be 8-byte aligned",
                c -> c.ids = c.ids.asSlice(4));
        assertInvalid("engram_hashed_gather: d_hash_ids_out must be 8-byte aligned",
                c -> c.hashIds = c.hashIds.asSlice(4));
        assertInvalid("engram_hashed_gather: d_table and d_out must be aligned to the dtype's 4-byte elements",
                c -> c.table = c.table.asSlice(2));
        assertInvalid("engram_hashed_gather: d_table and d_out must be aligned to the dtype's 2-byte elements", c -> {
            c.dtype = 1;
            c.out = c.out.asSlice(1);
        });
    }

    @Test
    void moduliAndOffsetsMustKeepEveryRowInsideTheTable() {
        assertInvalid("engram_hashed_gather: every modulus must be > 0, got moduli[2] = 0",
                c -> c.moduli = c.arena.allocateFrom(ValueLayout.JAVA_LONG, 11, 13, 0, 19));
        assertInvalid("engram_hashed_gather: head 3 addresses rows [41, 41 + 19) outside the table's 59 rows",
                c -> c.tableRows = 59);
        assertInvalid("engram_hashed_gather: head 0 addresses rows [-1, -1 + 11) outside the table's 60 rows",
                c -> c.offsets = c.arena.allocateFrom(ValueLayout.JAVA_LONG, -1, 11, 24, 41));
    }

    @Test
    void anEmptyBatchLaunchesNothing() {
        try (Arena arena = Arena.ofConfined()) {
            Call call = new Call(arena);
            call.batch = 0;
            int status = call.run();
            if (engram_h.engram_built_with_cuda() == 1) {
                assertEquals(engram_h.ENGRAM_STATUS_SUCCESS(), status, () -> engram_h.engram_last_error().getString(0));
                assertEquals("", engram_h.engram_last_error().getString(0));
            } else {
                assertEquals(engram_h.ENGRAM_STATUS_NOT_BUILT_WITH_CUDA(), status);
            }
        }
    }

    @Test
    void dtypeConstantsMatchTheHeader() {
        assertEquals(0, engram_h.ENGRAM_DTYPE_FLOAT32());
        assertEquals(1, engram_h.ENGRAM_DTYPE_BFLOAT16());
    }
}
