package dev.engram.bench;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.RandomWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

/**
 * A benchmark-sized one-layer checkpoint: the reference default config (16 heads of 64) with the per-head rows scaled
 * so the table is about {@code tableGib} GiB, and random contents written straight into native memory (no per-value
 * encoding pass, so a GiB takes about a second): a BF16 table of random finite values, or an F8_E4M3 table of random
 * finite codes with E8M0 scales near 1, and F32 dense tensors from {@link RandomWeights} under the §10 names with
 * an empty prefix, as {@link dev.engram.checkpoint.LayerTensorWriter} names them.
 */
final class SyntheticCheckpoint {
    static final int LAYER_ID = 1;
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

    private SyntheticCheckpoint() {}

    /** {@return the reference default config with about {@code tableGib} GiB of {@code bytesPerElement} rows in layer 1} */
    static EngramConfig config(double tableGib, double bytesPerElement) {
        EngramConfig b = EngramConfig.referenceDefault();
        long perHead = Math.max(1000, (long) (tableGib * (1L << 30) / b.headsPerLayer() / (b.headDim() * bytesPerElement)));
        return new EngramConfig(List.of(perHead, perHead), b.maxNgramSize(), b.nEmbedPerNgram(), b.nHeadPerNgram(),
                List.of(LAYER_ID), b.padId(), b.seed(), b.kernelSize(), b.hiddenSize(), b.hcMult(),
                OptionalLong.of(99_000), b.gateNormEps(), b.convNormEps());
    }

    /** Random BF16 values in about [-2, 2] (exponent 0x3E..0x40 region), from a seeded stream per 1 MiB chunk. */
    static void fillBf16(MemorySegment table, long seed) {
        fillChunks(table, seed, (r, chunk) -> {
            for (long i = 0; i + 2 <= chunk.byteSize(); i += 2) {
                int bits = 0x3C00 | r.nextInt(0x0400) | (r.nextBoolean() ? 0x8000 : 0); // |x| in [2^-7, 2)
                chunk.set(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) bits);
            }
        });
    }

    /** Random finite E4M3 codes (never 0x7F or 0xFF, the NaNs). */
    static void fillFp8Codes(MemorySegment codes, long seed) {
        fillChunks(codes, seed, (r, chunk) -> {
            for (long i = 0; i < chunk.byteSize(); i++) {
                int q = r.nextInt(256);
                if ((q & 0x7F) == 0x7F) q ^= 1;
                chunk.set(ValueLayout.JAVA_BYTE, i, (byte) q);
            }
        });
    }

    /** E8M0 scales 2^-4 .. 2^3 (bytes 123 .. 130). */
    static void fillFp8Scales(MemorySegment scales, long seed) {
        fillChunks(scales, seed, (r, chunk) -> {
            for (long i = 0; i < chunk.byteSize(); i++) chunk.set(ValueLayout.JAVA_BYTE, i, (byte) (123 + r.nextInt(8)));
        });
    }

    private interface ChunkFill {
        void fill(SplittableRandom r, MemorySegment chunk);
    }

    private static void fillChunks(MemorySegment seg, long seed, ChunkFill fill) {
        long chunk = 1 << 20;
        long n = (seg.byteSize() + chunk - 1) / chunk;
        LongStream.range(0, n).parallel().forEach(c -> {
            long from = c * chunk;
            fill.fill(new SplittableRandom(seed * 1_000_003L + c), seg.asSlice(from, Math.min(chunk, seg.byteSize() - from)));
        });
    }

    /**
     * Writes layer {@link #LAYER_ID} of {@code config}: the table ({@code fp8Block > 0}: F8_E4M3 codes and
     * {@code [rows, headDim / fp8Block]} E8M0 scales; else BF16), the offsets and the F32 dense tensors.
     *
     * @return the file's size in bytes
     */
    static long write(Path file, EngramConfig config, int fp8Block, long seed) {
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        var layer = mapping.layer(LAYER_ID);
        long rows = layer.totalRows();
        int d = config.headDim();
        DenseWeights dense = RandomWeights.createDense(config, seed, 0.1);
        try (Arena arena = Arena.ofShared()) {
            SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt").metadata("engram.bench", "synthetic");
            if (fp8Block > 0) {
                MemorySegment codes = arena.allocate(rows * d, 64);
                MemorySegment scales = arena.allocate(rows * (d / fp8Block), 64);
                fillFp8Codes(codes, seed);
                fillFp8Scales(scales, seed + 1);
                w.add(EngramTensorNames.EMBEDDING_WEIGHT, SafetensorsDType.F8_E4M3, new long[] {rows, d}, codes);
                w.add(EngramTensorNames.EMBEDDING_SCALE, SafetensorsDType.F8_E8M0, new long[] {rows, d / fp8Block}, scales);
            } else {
                MemorySegment table = arena.allocate(rows * d * 2, 64);
                fillBf16(table, seed);
                w.add(EngramTensorNames.EMBEDDING_WEIGHT, SafetensorsDType.BF16, new long[] {rows, d}, table);
            }
            long[] offsets = layer.offsets();
            MemorySegment off = arena.allocate(8L * offsets.length, 8);
            for (int i = 0; i < offsets.length; i++) off.setAtIndex(LONG_LE, i, offsets[i]);
            w.add(EngramTensorNames.EMBEDDING_OFFSETS, SafetensorsDType.I64, new long[] {offsets.length}, off);
            int g = config.hcMult(), h = config.hiddenSize(), e = config.engramHiddenSize(), k = config.kernelSize();
            for (int b = 0; b < g; b++) {
                add(w, arena, EngramTensorNames.keyProjWeight(b), dense.keyWeight(), (long) b * h * e, h, e);
                add(w, arena, EngramTensorNames.keyProjBias(b), dense.keyBias(), (long) b * h, h);
                add(w, arena, EngramTensorNames.norm1Weight(b), dense.keyNormWeight(), (long) b * h, h);
                add(w, arena, EngramTensorNames.norm2Weight(b), dense.queryNormWeight(), (long) b * h, h);
                add(w, arena, EngramTensorNames.shortConvNormWeight(b), dense.convNormWeight(), (long) b * h, h);
            }
            add(w, arena, EngramTensorNames.VALUE_PROJ_WEIGHT, dense.valueWeight(), 0, h, e);
            add(w, arena, EngramTensorNames.VALUE_PROJ_BIAS, dense.valueBias(), 0, h);
            add(w, arena, EngramTensorNames.SHORT_CONV_WEIGHT, dense.convWeight(), 0, (long) g * h, 1, k);
            return w.write(file);
        }
    }

    private static void add(SafetensorsWriter w, Arena arena, String name, float[] src, long from, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        MemorySegment out = arena.allocate(4 * n, 16);
        for (int i = 0; i < n; i++) out.setAtIndex(FLOAT_LE, i, src[(int) from + i]);
        w.add(name, SafetensorsDType.F32, shape, out);
    }
}
