package dev.engram.reference;

import java.util.Objects;

/** A row-major float32 table in a Java array, read in place: what the reference gathered from before fp8 tables. */
record FloatEmbeddingRows(float[] table, int rowElements) implements EmbeddingRows {
    FloatEmbeddingRows {
        Objects.requireNonNull(table, "table");
        if (rowElements < 1 || table.length % rowElements != 0) {
            throw new IllegalArgumentException("a table of " + table.length + " floats has no rows of " + rowElements
                    + " elements");
        }
    }

    @Override
    public long rows() {
        return table.length / rowElements;
    }

    @Override
    public void readRow(long row, double[] dst, int offset) {
        int src = Math.toIntExact(Objects.checkIndex(row, rows()) * rowElements);
        Objects.checkFromIndexSize(offset, rowElements, dst.length);
        for (int d = 0; d < rowElements; d++) dst[offset + d] = table[src + d];
    }
}
