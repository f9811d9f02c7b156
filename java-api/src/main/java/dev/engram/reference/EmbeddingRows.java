package dev.engram.reference;

import java.util.Objects;

/**
 * An embedding table as the CPU reference reads it: {@code rows} rows of {@code rowElements} values, each row read
 * out as exact doubles. The float32 table of {@link EngramWeights} is one ({@link #of(float[], int)}); an fp8 table
 * with block scales ({@code dev.engram.table.Fp8Table}) is another, whose rows are the exact dequantized values.
 * Implementations may hold more than 2^31 elements, hence the {@code long} row index.
 */
public interface EmbeddingRows {
    /** {@return the number of rows} */
    long rows();

    /** {@return the values per row (the head dim)} */
    int rowElements();

    /**
     * Writes row {@code row}'s values, exactly, into {@code dst[offset, offset + rowElements())}.
     *
     * @param row    the row, in {@code [0, rows())}
     * @param dst    receives the values
     * @param offset index in {@code dst} of the first value
     * @throws IndexOutOfBoundsException for a row outside the table or a destination too short
     */
    void readRow(long row, double[] dst, int offset);

    /**
     * {@return the rows of a row-major float32 table, read in place (not copied)}
     *
     * @param table       {@code [rows, rowElements]} values, row-major
     * @param rowElements values per row, {@code >= 1}, dividing {@code table.length}
     * @throws IllegalArgumentException when {@code rowElements < 1} or does not divide the table's length
     */
    static EmbeddingRows of(float[] table, int rowElements) {
        return new FloatEmbeddingRows(table, rowElements);
    }
}
