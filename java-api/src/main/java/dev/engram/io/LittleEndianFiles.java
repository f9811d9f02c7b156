package dev.engram.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Raw little-endian C-order arrays, the layout of the golden files and of PyTorch/numpy dumps
 * ({@code tensor.numpy().tofile(path)}). Sizes are checked: a file whose length is not a whole
 * number of elements, or not the expected count, is an error naming the file.
 */
public final class LittleEndianFiles {
    private LittleEndianFiles() {}

    /**
     * {@return every int64 value of {@code file}}
     *
     * @param file the file to read
     * @throws IllegalArgumentException     when its size is not a multiple of 8 bytes
     * @throws java.io.UncheckedIOException when it cannot be read
     */
    public static long[] readInt64(Path file) {
        ByteBuffer buf = read(file, Long.BYTES);
        long[] out = new long[buf.remaining() / Long.BYTES];
        buf.asLongBuffer().get(out);
        return out;
    }

    /**
     * {@return every int32 value of {@code file}}
     *
     * @param file the file to read
     * @throws IllegalArgumentException     when its size is not a multiple of 4 bytes
     * @throws java.io.UncheckedIOException when it cannot be read
     */
    public static int[] readInt32(Path file) {
        ByteBuffer buf = read(file, Integer.BYTES);
        int[] out = new int[buf.remaining() / Integer.BYTES];
        buf.asIntBuffer().get(out);
        return out;
    }

    /**
     * {@return every float32 value of {@code file}, widened exactly to double}
     *
     * @param file the file to read
     * @throws IllegalArgumentException     when its size is not a multiple of 4 bytes
     * @throws java.io.UncheckedIOException when it cannot be read
     */
    public static double[] readFloat32AsDouble(Path file) {
        ByteBuffer buf = read(file, Float.BYTES);
        double[] out = new double[buf.remaining() / Float.BYTES];
        for (int i = 0; i < out.length; i++) out[i] = buf.getFloat(i * Float.BYTES);
        return out;
    }

    /**
     * {@return every float64 value of {@code file}}
     *
     * @param file the file to read
     * @throws IllegalArgumentException     when its size is not a multiple of 8 bytes
     * @throws java.io.UncheckedIOException when it cannot be read
     */
    public static double[] readFloat64(Path file) {
        ByteBuffer buf = read(file, Double.BYTES);
        double[] out = new double[buf.remaining() / Double.BYTES];
        buf.asDoubleBuffer().get(out);
        return out;
    }

    /**
     * {@return the int64 values of {@code file}, exactly {@code expected} of them}
     *
     * @param file     the file to read
     * @param expected the number of values it must hold
     * @throws IllegalArgumentException     when it holds another count, naming the file and both counts
     * @throws java.io.UncheckedIOException when it cannot be read
     */
    public static long[] readInt64(Path file, long expected) {
        return checkCount(file, readInt64(file), expected);
    }

    /**
     * {@return the float32 values of {@code file}, exactly {@code expected} of them, widened to double}
     *
     * @param file     the file to read
     * @param expected the number of values it must hold
     * @throws IllegalArgumentException     when it holds another count, naming the file and both counts
     * @throws java.io.UncheckedIOException when it cannot be read
     */
    public static double[] readFloat32AsDouble(Path file, long expected) {
        double[] v = readFloat32AsDouble(file);
        if (v.length != expected) throw wrongCount(file, v.length, expected, Float.BYTES);
        return v;
    }

    /**
     * Writes int64 values, creating {@code file} or replacing its contents.
     *
     * @param file   the file to write
     * @param values the values, written little-endian in order
     * @throws java.io.UncheckedIOException when the file cannot be written
     */
    public static void writeInt64(Path file, long[] values) {
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(values.length, Long.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        buf.asLongBuffer().put(values);
        write(file, buf.array());
    }

    /**
     * Writes float64 values, creating {@code file} or replacing its contents.
     *
     * @param file   the file to write
     * @param values the values, written little-endian in order
     * @throws java.io.UncheckedIOException when the file cannot be written
     */
    public static void writeFloat64(Path file, double[] values) {
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(values.length, Double.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        buf.asDoubleBuffer().put(values);
        write(file, buf.array());
    }

    /**
     * Writes float32 values, creating {@code file} or replacing its contents.
     *
     * @param file   the file to write
     * @param values the values, written little-endian in order
     * @throws java.io.UncheckedIOException when the file cannot be written
     */
    public static void writeFloat32(Path file, float[] values) {
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(values.length, Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        write(file, buf.array());
    }

    private static long[] checkCount(Path file, long[] v, long expected) {
        if (v.length != expected) throw wrongCount(file, v.length, expected, Long.BYTES);
        return v;
    }

    private static IllegalArgumentException wrongCount(Path file, long actual, long expected, int elementBytes) {
        return new IllegalArgumentException(file + ": holds " + actual + " elements of " + elementBytes
                + " bytes, expected " + expected);
    }

    private static ByteBuffer read(Path file, int elementBytes) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        if (bytes.length % elementBytes != 0) {
            throw new IllegalArgumentException(file + ": size " + bytes.length + " bytes is not a multiple of "
                    + elementBytes + " (wrong dtype?)");
        }
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void write(Path file, byte[] bytes) {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }
}
