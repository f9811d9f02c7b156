package dev.engram.gpu;

import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.LayerHashing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * HashedGather's Java-side checks, on a machine without a GPU: zero-element DeviceBuffers make no
 * CUDA call (NULL address), and every check here fails before anything native is touched. A table
 * of {@code totalRows * headDim > 0} elements cannot exist without a GPU, so only the checks that come
 * before (or are) the table's element count are reachable here; the rest run in HashedGatherGpuVsCpuTest.
 */
class HashedGatherArgumentsJavaTest {
    // N = 3 (three multipliers), 2 heads per n-gram -> 4 heads; 60 rows.
    private static final LayerHashing LAYER = LayerHashing.of(1, new long[] {3, 5, 7}, new long[] {11, 13, 17, 19});
    private static final int HEADS_PER_NGRAM = 2;
    private static final int HEAD_DIM = 8;

    private long liveBefore;

    @BeforeEach
    void recordLiveBytes() {
        liveBefore = DeviceBuffer.liveBytes();
    }

    @AfterEach
    void nothingAllocated() {
        assertEquals(liveBefore, DeviceBuffer.liveBytes(), "live device bytes after the test");
    }

    /** One call's arguments, all zero-element buffers; batch x seqLen = 0 x 0 so the id/out counts fit. */
    private static final class Call {
        DeviceArray ids = DeviceBuffer.allocate(0, DType.INT64);
        DeviceArray lut = DeviceBuffer.allocate(0, DType.INT64);
        DeviceArray table = DeviceBuffer.allocate(0, DType.FLOAT32);
        DeviceArray out = DeviceBuffer.allocate(0, DType.FLOAT32);
        DeviceArray hashIds = DeviceBuffer.allocate(0, DType.INT64);
        int batch = 0, seqLen = 0, headsPerNgram = HEADS_PER_NGRAM, headDim = HEAD_DIM;
        LayerHashing layer = LAYER;

        Call() {
            lut = null; // an empty LUT is an error of its own
        }

        void run() {
            HashedGather.launch().rawIds(ids).tokens(batch, seqLen).lut(lut).padIdCompressed(0).layer(layer)
                    .headsPerNgram(headsPerNgram).table(table).headDim(headDim).out(out).hashIdsOut(hashIds)
                    .enqueue(CudaStream.legacyDefault());
        }
    }

    private static void assertRejected(String message, Consumer<Call> breakIt) {
        Call call = new Call();
        breakIt.accept(call);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertEquals(message, e.getMessage());
    }

    @Test
    void theUnbrokenCallReachesTheTableCount() {
        // Everything before the table's count is valid; the table must hold 60 * 8 elements.
        assertRejected("hashed gather: table has 0 elements, expected layer.totalRows() * headDim = 60 * 8 = 480 "
                + "(DeviceBuffer[0 x FLOAT32, 0 bytes, 0x0])", c -> {});
    }

    @Test
    void sizesAndShapes() {
        assertRejected("hashed gather: batch and seqLen must be >= 0, got -1 x 0", c -> c.batch = -1);
        assertRejected("hashed gather: rawIds has 0 elements, expected batch * seqLen = 3 * 5 = 15 "
                + "(DeviceBuffer[0 x INT64, 0 bytes, 0x0])", c -> {
                    c.batch = 3;
                    c.seqLen = 5;
                });
        assertRejected("hashed gather: headsPerNgram must be >= 1, got 0", c -> c.headsPerNgram = 0);
        assertRejected("hashed gather: layer 1 has 4 heads and 3 multipliers, expected (max_ngram_size - 1) * "
                + "headsPerNgram = (3 - 1) * 3 heads", c -> c.headsPerNgram = 3);
        assertRejected("hashed gather: headDim must be >= 1, got 0", c -> c.headDim = 0);
    }

    @Test
    void dtypes() {
        assertRejected("hashed gather: rawIds must be INT64, got DeviceBuffer[0 x INT32, 0 bytes, 0x0]",
                c -> c.ids = DeviceBuffer.allocate(0, DType.INT32));
        assertRejected("hashed gather: lut must be INT64, got DeviceBuffer[0 x INT32, 0 bytes, 0x0]",
                c -> c.lut = DeviceBuffer.allocate(0, DType.INT32));
        assertRejected("hashed gather: table must be FLOAT32 or BFLOAT16, got DeviceBuffer[0 x INT64, 0 bytes, 0x0]",
                c -> c.table = DeviceBuffer.allocate(0, DType.INT64));
        assertRejected("hashed gather: out (the table's dtype) must be FLOAT32, got DeviceBuffer[0 x BFLOAT16, 0 bytes, 0x0]",
                c -> c.out = DeviceBuffer.allocate(0, DType.BFLOAT16));
        assertRejected("hashed gather: out (the table's dtype) must be BFLOAT16, got DeviceBuffer[0 x FLOAT32, 0 bytes, 0x0]",
                c -> c.table = DeviceBuffer.allocate(0, DType.BFLOAT16));
        assertRejected("hashed gather: hashIdsOut must be INT64, got DeviceBuffer[0 x INT32, 0 bytes, 0x0]",
                c -> c.hashIds = DeviceBuffer.allocate(0, DType.INT32));
    }

    @Test
    void anEmptyLutIsRejected() {
        assertRejected("hashed gather: lut is empty (pass null when the ids are already compressed)",
                c -> c.lut = DeviceBuffer.allocate(0, DType.INT64));
    }

    @Test
    void closedBuffersAndNullsAreRejected() {
        Call call = new Call();
        DeviceBuffer closed = DeviceBuffer.allocate(0, DType.FLOAT32);
        closed.close();
        call.out = closed;
        assertThrows(IllegalStateException.class, call::run);
        Call nulls = new Call();
        nulls.table = null;
        NullPointerException e = assertThrows(NullPointerException.class, nulls::run);
        assertEquals("table", e.getMessage());
    }
}
