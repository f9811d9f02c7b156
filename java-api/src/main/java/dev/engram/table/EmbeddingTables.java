package dev.engram.table;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import dev.engram.reference.EngramWeights;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Host tables from the CPU reference's float32 embedding ({@link EngramWeights#embedding()},
 * {@code [totalRows, headDim]}): the bridge that lets the gather paths be checked against the reference.
 */
public final class EmbeddingTables {
    private EmbeddingTables() {}

    /**
     * Copies a layer's embedding into a new table of {@code hashing().totalRows()} rows of {@code headDim}
     * elements from {@link HostMemory#plain()}, on all available processors.
     *
     * @param weights the layer's weights
     * @param dtype   {@link DType#FLOAT32} (exact) or {@link DType#BFLOAT16} (rounded to nearest even)
     * @return the table; the caller closes it
     */
    public static HostTable fromWeights(EngramWeights weights, DType dtype) {
        return fromWeights(weights, dtype, HostMemory.plain(), Runtime.getRuntime().availableProcessors());
    }

    /**
     * Copies a layer's embedding into a new table from {@code memory}.
     *
     * @param weights the layer's weights
     * @param dtype   {@link DType#FLOAT32} (exact) or {@link DType#BFLOAT16} (rounded to nearest even)
     * @param memory  the allocator
     * @param threads copy threads, {@code >= 1}
     * @return the table; the caller closes it
     */
    public static HostTable fromWeights(EngramWeights weights, DType dtype, HostMemory memory, int threads) {
        Objects.requireNonNull(weights, "weights");
        HostTable table = HostTable.allocate(weights.hashing().totalRows(), weights.config().headDim(), dtype, memory);
        try {
            copyFloats(weights.embedding(), table, threads);
            return table;
        } catch (RuntimeException | Error e) {
            table.close();
            throw e;
        }
    }

    /**
     * Copies {@code src}, a row-major {@code [table.rows(), table.rowElements()]} float array, into
     * {@code table}, rounding to bfloat16 ({@link BFloat16#fromFloat}) for a BFLOAT16 table.
     *
     * @param src     the values; {@code src.length} must equal {@code rows * rowElements}
     * @param table   the destination
     * @param threads copy threads, {@code >= 1}
     * @throws IllegalArgumentException when the lengths differ
     */
    public static void copyFloats(float[] src, HostTable table, int threads) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(table, "table");
        long n = table.rowElements();
        if (src.length != table.rows() * n) {
            throw new IllegalArgumentException("source has " + src.length + " floats, table " + table + " holds "
                    + table.rows() * n);
        }
        MemorySegment dst = table.segment();
        boolean bf16 = table.dtype() == DType.BFLOAT16;
        ParallelChunks.run(table.rows(), table.rowBytes(), ParallelChunks.DEFAULT_CHUNK_BYTES, threads, "engram-copy",
                ProgressListener.NONE, (from, to) -> {
                    int first = (int) (from * n), count = (int) ((to - from) * n);
                    if (bf16) {
                        for (int i = first; i < first + count; i++) {
                            dst.setAtIndex(ValueLayout.JAVA_SHORT, i, BFloat16.fromFloat(src[i]));
                        }
                    } else {
                        MemorySegment.copy(src, first, dst, ValueLayout.JAVA_FLOAT, first * 4L, count);
                    }
                });
    }
}
