package dev.engram.checkpoint;

import dev.engram.cuda.BFloat16;
import dev.engram.io.SafetensorsDType;
import dev.engram.reference.EmbeddingRows;
import dev.engram.table.Fp8Table;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TableEncoding}: the bytes of independent encoders (BFloat16, {@link Fp8Table#quantize}), the error of the
 * decoded table computed here the long way, and bad values named by row and block.
 */
class TableEncodingTest {
    private static final int ROWS = 300, DIM = 12;

    private static float[] table(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] t = new float[ROWS * DIM];
        for (int i = 0; i < t.length; i++) t[i] = (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-20, 20)));
        t[7] = 0f;
        for (int d = 0; d < DIM; d++) t[DIM + d] = 0f; // an all-zero row: scale byte 0
        return t;
    }

    @Test
    void float32IsExactAndBfloat16RoundsToNearestEven() {
        float[] src = table(1);
        try (Arena arena = Arena.ofConfined()) {
            TableEncoding f32 = TableEncoding.float32(EmbeddingRows.of(src, DIM), arena);
            assertEquals(SafetensorsDType.F32, f32.dtype());
            assertEquals(0, f32.maxAbsError());
            assertEquals(0, f32.normwiseRelativeError());
            assertTrue(f32.block().isEmpty() && f32.scales().isEmpty());
            for (int i = 0; i < src.length; i++) {
                assertEquals(src[i], f32.values().getAtIndex(ValueLayout.JAVA_FLOAT, i));
            }

            TableEncoding bf16 = TableEncoding.bfloat16(EmbeddingRows.of(src, DIM), arena);
            float[] decoded = new float[src.length];
            for (int i = 0; i < src.length; i++) {
                short b = bf16.values().getAtIndex(ValueLayout.JAVA_SHORT, i);
                assertEquals(BFloat16.fromFloat(src[i]), b, "element " + i);
                decoded[i] = BFloat16.toFloat(b);
            }
            assertError(bf16, decoded, src);
            double[] row = new double[DIM];
            bf16.decoded().readRow(ROWS - 1, row, 0);
            for (int d = 0; d < DIM; d++) assertEquals(decoded[(ROWS - 1) * DIM + d], row[d]);
        }
    }

    @Test
    void fp8IsTheBytesOfFp8TableQuantize() {
        float[] src = table(2);
        try (Arena arena = Arena.ofConfined()) {
            for (int block : new int[] {1, 3, 4, 12}) {
                TableEncoding e = TableEncoding.fp8(EmbeddingRows.of(src, DIM), block, arena);
                Fp8Table expected = Fp8Table.quantize(src, DIM, block, arena);
                assertEquals(SafetensorsDType.F8_E4M3, e.dtype());
                assertEquals(block, e.block().getAsInt());
                assertEquals(-1, e.values().mismatch(expected.values()), "block " + block + ": E4M3 bytes");
                assertEquals(-1, e.scales().orElseThrow().mismatch(expected.scales()), "block " + block + ": E8M0 bytes");
                assertEquals(0, e.scales().orElseThrow().get(ValueLayout.JAVA_BYTE, DIM / block), "zero row: scale byte 0");
                assertError(e, expected.toFloats(), src);
                assertTrue(e.normwiseRelativeError() > 0 && e.normwiseRelativeError() < 0.05, e.toString());
            }
        }
    }

    @Test
    void badValuesAndBlocksAreNamed() {
        float[] src = table(3);
        src[5 * DIM + 7] = Float.NaN;
        try (Arena arena = Arena.ofConfined()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TableEncoding.fp8(EmbeddingRows.of(src, DIM), 4, arena));
            assertTrue(e.getMessage().startsWith("table row 5, block 1: value NaN"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> TableEncoding.fp8(EmbeddingRows.of(src, DIM), 5, arena));
            assertEquals("fp8 block 5 does not divide head dim 12", e.getMessage());
        }
    }

    @Test
    void threadsGiveTheSameBytesAndErrorsAndTheFirstBadRow() {
        int rows = (int) (OrderedRowChunks.CHUNK_ROWS * 5 + 123), dim = 8; // 6 chunks, the last partial
        SplittableRandom r = new SplittableRandom(4);
        float[] src = new float[rows * dim];
        for (int i = 0; i < src.length; i++) src[i] = (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-8, 8)));
        EmbeddingRows in = EmbeddingRows.of(src, dim);
        try (Arena arena = Arena.ofShared()) {
            TableEncoding[] one = {TableEncoding.float32(in, arena, 1), TableEncoding.bfloat16(in, arena, 1),
                    TableEncoding.fp8(in, 4, arena, 1)};
            for (int threads : new int[] {2, 3, 7}) {
                TableEncoding[] many = {TableEncoding.float32(in, arena, threads), TableEncoding.bfloat16(in, arena, threads),
                        TableEncoding.fp8(in, 4, arena, threads)};
                for (int k = 0; k < one.length; k++) {
                    String what = many[k] + " on " + threads + " threads";
                    assertEquals(-1, one[k].values().mismatch(many[k].values()), what);
                    if (k == 2) assertEquals(-1, one[k].scales().orElseThrow().mismatch(many[k].scales().orElseThrow()), what);
                    assertEquals(one[k].maxAbsError(), many[k].maxAbsError(), what);
                    assertEquals(one[k].normwiseRelativeError(), many[k].normwiseRelativeError(), what); // exactly
                }
            }
            assertEquals(-1, one[2].values().mismatch(Fp8Table.quantize(src, dim, 4, arena).values()));

            // Bad values in chunks 1 and 4: chunk 1's row is reported, on any thread count.
            int early = (int) OrderedRowChunks.CHUNK_ROWS + 17, late = (int) OrderedRowChunks.CHUNK_ROWS * 4 + 3;
            src[late * dim + 2] = Float.POSITIVE_INFINITY;
            src[early * dim + 5] = Float.NaN;
            for (int threads : new int[] {1, 4}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> TableEncoding.fp8(in, 4, arena, threads));
                assertTrue(e.getMessage().startsWith("table row " + early + ", block 1: value NaN"), e.getMessage());
            }
        }
        try (Arena confined = Arena.ofConfined()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TableEncoding.bfloat16(in, confined, 2));
            assertTrue(e.getMessage().contains("confined"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> TableEncoding.float32(in, confined, 0));
        }
    }

    /** The encoding's error equals the one computed here from the decoded floats. */
    private static void assertError(TableEncoding e, float[] decoded, float[] src) {
        double max = 0, diff = 0, norm = 0;
        for (int i = 0; i < src.length; i++) {
            double d = (double) decoded[i] - src[i];
            max = Math.max(max, Math.abs(d));
            diff += d * d;
            norm += (double) src[i] * src[i];
        }
        assertEquals(max, e.maxAbsError(), e.toString());
        assertEquals(Math.sqrt(diff) / Math.sqrt(norm), e.normwiseRelativeError(), 1e-12, e.toString());
        assertTrue(max > 0, "the rounding must lose something here");
    }
}
