package dev.engram.cli;

import dev.engram.EngramConfig;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The configurations {@code demo} knows by name, with a compressed vocabulary size and a problem size
 * that keep the CPU reference quick on a laptop.
 *
 * <p>The demo feeds already-compressed ids ({@code NgramHashMapping.forCompressedIds}), so it needs V'.
 * {@code small} uses 3009, the V' of the golden forward's 4000-token synthetic table for the same
 * config. {@code demo} uses 129280, DeepSeek-V3's embedding vocabulary: the real compressed size of its
 * tokenizer has not been measured here (the paper reports about 23% fewer), and V' only bounds the
 * hash multipliers and the id range, so an upper bound is a fair stand-in.
 */
enum DemoPreset {
    /** {@link EngramConfig#small()}: H=64, 4 heads of 8, ~22k table rows; milliseconds per forward. */
    SMALL(EngramConfig.small(), 3009, 2, 64, 5),
    /** {@link EngramConfig#referenceDefault()}: H=1024, G=4, 16 heads of 64, ~10.3M rows (2.6 GB of float32). */
    DEMO(EngramConfig.referenceDefault(), 129_280, 1, 128, 3);

    final EngramConfig config;
    final long compressedVocabSize;
    final int batch;
    final int seqLen;
    final int repeat;

    DemoPreset(EngramConfig config, long compressedVocabSize, int batch, int seqLen, int repeat) {
        this.config = config;
        this.compressedVocabSize = compressedVocabSize;
        this.batch = batch;
        this.seqLen = seqLen;
        this.repeat = repeat;
    }

    /** The preset of a command-line name (case-insensitive). */
    static DemoPreset named(String name) {
        try {
            return valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UsageException("unknown preset '" + name + "' (presets: " + names() + ")");
        }
    }

    static String names() {
        return Arrays.stream(values()).map(p -> p.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
    }
}
