package dev.engram.cli;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
import dev.engram.tokenizer.CompressionTable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The inputs {@code hash} and {@code forward} share, checked the same way: the compression table
 * ({@code --lut}, or ids taken as compressed) and raw files whose size must match the shape given on the
 * command line. A size is checked before anything is computed, with a message that shows the arithmetic.
 */
final class InputFiles {
    private InputFiles() {}

    /** {@code --lut} must say its element type by its name, as {@link CompressionTable#load(Path)} reads it. */
    static void checkTableName(Path lut) {
        String n = lut.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!n.endsWith(".i32.bin") && !n.endsWith(".i64.bin")) {
            throw new UsageException("--lut must name a *.i32.bin or *.i64.bin file (the name gives the dtype), got " + lut);
        }
    }

    /**
     * The hashing for raw ids compressed through {@code lut}, or, without a table, for ids already
     * compressed (the config must then give compressed_vocab_size).
     */
    static NgramHashMapping mapping(EngramConfig config, Path lut) {
        if (lut == null) {
            if (config.compressedVocabSize().isEmpty()) {
                throw new UsageException("without --lut the config must give compressed_vocab_size"
                        + " (the ids are then taken as already compressed)");
            }
            return NgramHashMapping.forCompressedIds(config);
        }
        CompressionTable table = CompressionTable.load(lut);
        if (config.compressedVocabSize().isPresent() && config.compressedVocabSize().getAsLong() != table.compressedVocabSize()) {
            // V' sets the multipliers: a mismatch would silently give other hash ids.
            throw new IllegalArgumentException("config compressed_vocab_size " + config.compressedVocabSize().getAsLong()
                    + " differs from the V' of " + lut + " (" + table.compressedVocabSize() + ")");
        }
        return NgramHashMapping.create(config, table);
    }

    /** Checks that the ids file holds exactly {@code [batch, seqLen]} int64 values. */
    static void checkIdsSize(Path file, int batch, int seqLen) {
        checkSize(file, 8L * batch * seqLen, String.format(Locale.ROOT, "B*T*8 = %d*%d*8", batch, seqLen), "int64 ids");
    }

    /** Checks that the hidden-states file holds exactly {@code [batch, seqLen, g, h]} float32 values. */
    static void checkHiddenSize(Path file, int batch, int seqLen, int g, int h) {
        checkSize(file, 4L * batch * seqLen * g * h,
                String.format(Locale.ROOT, "B*T*G*H*4 = %d*%d*%d*%d*4", batch, seqLen, g, h), "float32 hidden states");
    }

    private static void checkSize(Path file, long expected, String arithmetic, String what) {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        if (size != expected) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s: %d bytes, expected %s = %d bytes of %s",
                    file, size, arithmetic, expected, what));
        }
    }
}
