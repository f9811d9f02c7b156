package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LittleEndianFiles;
import dev.engram.testing.Golden;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link HashedGather} on a GPU against the CPU: hash ids must equal {@link NgramHashMapping#hash} exactly,
 * and the gathered rows must equal a CPU gather from the same host table bit for bit (the gather is a
 * copy, for FLOAT32 and BFLOAT16 alike). Outputs are poisoned first (0xFF bytes = NaN, hash ids -7), so a
 * value the kernel failed to write shows up. Seeds are fixed and printed.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class HashedGatherGpuVsCpuTest {
    private static final long SEED = 20260301L;
    private static final long HASH_POISON = -7;

    // ---------------------------------------------------------------- configurations

    private static EngramConfig config(List<Long> vocab, int maxNgram, int nEmbedPerNgram, int nHeadPerNgram) {
        return new EngramConfig(vocab, maxNgram, nEmbedPerNgram, nHeadPerNgram, List.of(1, 15), 2, 0, 4, 64, 4,
                OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    }

    /** The golden forward's "main" lookup table (4000 raw ids). */
    private static CompressionTable goldenMainLut() {
        return CompressionTable.load(Golden.dir().resolve("forward/main/tokenizer/lookup_table.i64.bin"));
    }

    private static CompressionTable randomLut(long seed, int size, long compressedVocab) {
        return EngramLayerGpuVsCpuTest.randomLut(seed, size, compressedVocab);
    }

    // ---------------------------------------------------------------- tests

    @Test
    void smallConfigWithTheGoldenLutAllShapesBothDtypes() {
        NgramHashMapping mapping = NgramHashMapping.create(EngramConfig.small(), goldenMainLut());
        long seed = SEED;
        for (int layerId : mapping.layerIds()) {
            for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                for (int[] bt : new int[][] {{1, 1}, {1, 9}, {3, 37}}) {
                    checkRandom("small D=8 L" + layerId, mapping, layerId, true, dtype, bt[0], bt[1], true, seed++);
                }
            }
        }
    }

    @Test
    void headDim64WithALargeBatch() {
        // D = 512 / 8 = 64, H = 16 heads of ~20k rows: the default config's shape with a smaller table.
        EngramConfig cfg = config(List.of(20_011L, 20_021L), 3, 512, 8);
        NgramHashMapping mapping = NgramHashMapping.create(cfg, randomLut(SEED + 100, 30_000, 25_000));
        long seed = SEED + 200;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            checkRandom("D=64", mapping, 1, true, dtype, 3, 37, true, seed++);
            checkRandom("D=64", mapping, 15, true, dtype, 4, 4096, true, seed++);
        }
    }

    @Test
    void headDim48TakesTheVectorPath() {
        // 48 * 4 = 192 and 48 * 2 = 96 bytes per row: multiples of 16.
        EngramConfig cfg = config(List.of(3001L, 2503L), 3, 96, 2);
        NgramHashMapping mapping = NgramHashMapping.create(cfg, randomLut(SEED + 300, 500, 300));
        long seed = SEED + 400;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            checkRandom("D=48", mapping, 1, true, dtype, 3, 37, true, seed++);
            checkRandom("D=48", mapping, 15, true, dtype, 2, 16, true, seed++);
        }
    }

    @Test
    void oddHeadDimsTakeTheElementPath() {
        // D = 3 (12 / 6 bytes per row) with N = 3; D = 5 (20 / 10 bytes) with N = 4 and 3 heads per n-gram.
        NgramHashMapping d3 = NgramHashMapping.create(config(List.of(3001L, 2503L), 3, 6, 2),
                randomLut(SEED + 500, 700, 650));
        NgramHashMapping d5 = NgramHashMapping.create(config(List.of(101L, 103L, 107L), 4, 15, 3),
                randomLut(SEED + 600, 90, 80));
        long seed = SEED + 700;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (int[] bt : new int[][] {{1, 1}, {1, 9}, {3, 37}}) {
                checkRandom("D=3", d3, 1, true, dtype, bt[0], bt[1], true, seed++);
                checkRandom("D=5 N=4", d5, 15, true, dtype, bt[0], bt[1], true, seed++);
            }
        }
    }

    @Test
    void alreadyCompressedIdsWithoutALut() {
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(EngramConfig.small().withCompressedVocabSize(2000));
        long seed = SEED + 800;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            checkRandom("small, no LUT", mapping, 1, false, dtype, 3, 37, true, seed++);
            checkRandom("small, no LUT", mapping, 15, false, dtype, 1, 9, true, seed++);
        }
    }

    @Test
    void withoutHashIdsOutTheRowsAreStillGathered() {
        NgramHashMapping mapping = NgramHashMapping.create(EngramConfig.small(), goldenMainLut());
        long seed = SEED + 900;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            checkRandom("small, no hash ids", mapping, 1, true, dtype, 3, 37, false, seed++);
        }
    }

    @Test
    void anEmptyBatchQueuesNothing() {
        NgramHashMapping mapping = NgramHashMapping.create(EngramConfig.small(), goldenMainLut());
        LayerHashing layer = mapping.layer(1);
        int d = mapping.config().headDim();
        try (CudaStream stream = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(0, DType.INT64);
             DeviceBuffer lut = DeviceBuffer.allocate(mapping.compressionTable().size(), DType.INT64);
             DeviceBuffer table = DeviceBuffer.allocate(layer.totalRows() * d, DType.FLOAT32);
             DeviceBuffer out = DeviceBuffer.allocate(0, DType.FLOAT32);
             DeviceBuffer hashIds = DeviceBuffer.allocate(0, DType.INT64)) {
            HashedGather.launch().rawIds(ids).tokens(0, 5).lut(lut).padIdCompressed(mapping.padIdCompressed())
                    .layer(layer).headsPerNgram(mapping.config().nHeadPerNgram()).table(table).headDim(d).out(out)
                    .hashIdsOut(hashIds).enqueue(stream);
            HashedGather.launch().rawIds(ids).tokens(4, 0).padIdCompressed(mapping.padIdCompressed()).layer(layer)
                    .headsPerNgram(mapping.config().nHeadPerNgram()).table(table).headDim(d).out(out).enqueue(stream);
            stream.synchronize();
        }
    }

    @Test
    void goldenForwardMainEmbeddingsExactly() {
        CompressionTable lut = goldenMainLut();
        NgramHashMapping mapping = NgramHashMapping.create(EngramConfig.small(), lut);
        int d = mapping.config().headDim();
        for (int layerId : List.of(1, 15)) {
            Path layerDir = Golden.dir().resolve("forward/main/L" + layerId);
            int[] table = float32Bits(layerDir.resolve("weights/multi_head_embedding.embedding.weight.f32.bin"));
            for (String name : List.of("rand_B2_T24", "edge_B1_T9")) {
                int b = name.equals("rand_B2_T24") ? 2 : 1;
                int t = name.equals("rand_B2_T24") ? 24 : 9;
                long[] ids = LittleEndianFiles.readInt64(Golden.dir().resolve("forward/main/inputs/" + name + "_input_ids.i64.bin"));
                Path expectedDir = layerDir.resolve(name).resolve("float32");
                Result r = gather(ids, b, t, lut.toArray(), mapping.padIdCompressed(), mapping.layer(layerId),
                        mapping.config().nHeadPerNgram(), table, DType.FLOAT32, d, true);
                String what = "golden main L" + layerId + " " + name;
                assertArrayEquals(LittleEndianFiles.readInt64(expectedDir.resolve("hash_ids.i64.bin")), r.hashIds(),
                        what + " hash ids");
                assertBitsEqual(float32Bits(expectedDir.resolve("embeddings.f32.bin")), r.outBits(),
                        mapping.layer(layerId).heads(), d, DType.FLOAT32, what + " embeddings");
                System.out.println("[hashed gather] " + what + ": exact");
            }
        }
    }

    // ---------------------------------------------------------------- the comparison

    /**
     * Random table and ids (pads, the largest raw id, -1 and Long.MIN_VALUE included), gathered on the GPU
     * and on the CPU.
     */
    private void checkRandom(String name, NgramHashMapping mapping, int layerId, boolean useLut, DType dtype,
                             int batch, int seqLen, boolean withHashIds, long seed) {
        String what = name + " " + dtype + " " + batch + "x" + seqLen + (useLut ? "" : " (no LUT)")
                + (withHashIds ? "" : " (no hash ids)") + " seed " + seed;
        System.out.println("[hashed gather] " + what);
        Random r = new Random(seed);
        EngramConfig cfg = mapping.config();
        LayerHashing layer = mapping.layer(layerId);
        int heads = layer.heads();
        int d = cfg.headDim();
        int tableElements = Math.toIntExact(layer.totalRows() * d);
        int[] table = new int[tableElements];
        for (int k = 0; k < tableElements; k++) {
            int f32 = Float.floatToRawIntBits(r.nextFloat() * 2 - 1);
            table[k] = dtype == DType.FLOAT32 ? f32 : f32 >>> 16;
        }

        // Raw ids (with a LUT) index the LUT; without one they are compressed ids in [0, V').
        long idLimit = useLut ? mapping.compressionTable().size() : mapping.compressedVocabSize();
        int n = batch * seqLen;
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = switch (r.nextInt(16)) {
                case 0 -> cfg.padId();
                case 1 -> idLimit - 1;
                case 2 -> -1;
                case 3 -> Long.MIN_VALUE;
                default -> r.nextLong(idLimit);
            };
        }
        if (n >= 4) {
            ids[n - 1] = idLimit - 1;
            ids[n - 2] = -1;
            ids[n - 3] = Long.MIN_VALUE;
            ids[n - 4] = cfg.padId();
        }

        long[] expectedHash = useLut ? mapping.hash(ids, batch, seqLen, layerId)
                : mapping.hashCompressed(ids, batch, seqLen, layerId);
        long[] offsets = layer.offsets();
        int[] expectedOut = new int[n * heads * d];
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < heads; h++) {
                long row = offsets[h] + expectedHash[i * heads + h];
                System.arraycopy(table, Math.toIntExact(row * d), expectedOut, (i * heads + h) * d, d);
            }
        }

        Result got = gather(ids, batch, seqLen, useLut ? mapping.compressionTable().toArray() : null,
                mapping.padIdCompressed(), layer, cfg.nHeadPerNgram(), table, dtype, d, withHashIds);
        if (withHashIds) {
            for (int k = 0; k < got.hashIds().length; k++) {
                if (got.hashIds()[k] == HASH_POISON) fail(what + ": hash id " + k + " was not written");
            }
            assertArrayEquals(expectedHash, got.hashIds(), what + " hash ids");
        }
        assertBitsEqual(expectedOut, got.outBits(), heads, d, dtype, what + " rows");
    }

    /** The gathered rows as bit patterns (fp32 bits, or bf16 bits in the low 16) and the hash ids (or null). */
    private record Result(int[] outBits, long[] hashIds) {}

    /**
     * Uploads everything, poisons the outputs, enqueues on a fresh non-blocking stream, synchronizes, reads back.
     * {@code table} holds the element bit patterns of {@code dtype}.
     */
    private static Result gather(long[] ids, int batch, int seqLen, long[] lut, long pad, LayerHashing layer,
                                 int headsPerNgram, int[] table, DType dtype, int d, boolean withHashIds) {
        int n = batch * seqLen;
        int outElements = n * layer.heads() * d;
        try (CudaStream stream = CudaStream.create();
             DeviceBuffer dIds = DeviceBuffer.allocate(n, DType.INT64);
             DeviceBuffer dLut = lut == null ? null : DeviceBuffer.allocate(lut.length, DType.INT64);
             DeviceBuffer dTable = DeviceBuffer.allocate(table.length, dtype);
             DeviceBuffer dOut = DeviceBuffer.allocate(outElements, dtype);
             DeviceBuffer dHash = withHashIds ? DeviceBuffer.allocate((long) n * layer.heads(), DType.INT64) : null;
             Arena arena = Arena.ofConfined()) {
            dIds.copyFrom(ids);
            if (dLut != null) dLut.copyFrom(lut);
            if (dtype == DType.FLOAT32) {
                float[] f = new float[table.length];
                for (int k = 0; k < f.length; k++) f[k] = Float.intBitsToFloat(table[k]);
                dTable.copyFrom(f);
            } else {
                short[] s = new short[table.length];
                for (int k = 0; k < s.length; k++) s[k] = (short) table[k];
                dTable.copyFrom(s);
            }
            MemorySegment poison = arena.allocate(dOut.byteSize());
            poison.fill((byte) 0xFF);
            dOut.copyFrom(poison);
            if (dHash != null) {
                long[] p = new long[n * layer.heads()];
                Arrays.fill(p, HASH_POISON);
                dHash.copyFrom(p);
            }
            // The copies above ran on the legacy stream; the launch goes on a non-blocking one.
            Cuda.deviceSynchronize();

            HashedGather.launch().rawIds(dIds).tokens(batch, seqLen).lut(dLut).padIdCompressed(pad).layer(layer)
                    .headsPerNgram(headsPerNgram).table(dTable).headDim(d).out(dOut).hashIdsOut(dHash).enqueue(stream);
            stream.synchronize();

            int[] outBits = new int[outElements];
            if (dtype == DType.FLOAT32) {
                float[] f = new float[outElements];
                dOut.copyTo(f);
                for (int k = 0; k < f.length; k++) outBits[k] = Float.floatToRawIntBits(f[k]);
            } else {
                short[] s = new short[outElements];
                dOut.copyTo(s);
                for (int k = 0; k < s.length; k++) outBits[k] = s[k] & 0xFFFF;
            }
            long[] hashIds = null;
            if (dHash != null) {
                hashIds = new long[n * layer.heads()];
                dHash.copyTo(hashIds);
            }
            return new Result(outBits, hashIds);
        }
    }

    /** Bit-exact comparison that names the first differing token, head and column; NaN (the poison) fails too. */
    private static void assertBitsEqual(int[] expected, int[] actual, int heads, int d, DType dtype, String what) {
        assertEquals(expected.length, actual.length, what + ": element count");
        for (int k = 0; k < actual.length; k++) {
            boolean nan = dtype == DType.FLOAT32 ? Float.isNaN(Float.intBitsToFloat(actual[k]))
                    : (actual[k] & 0x7F80) == 0x7F80 && (actual[k] & 0x7F) != 0;
            if (nan || expected[k] != actual[k]) {
                int token = k / (heads * d), head = (k / d) % heads, col = k % d;
                fail(String.format("%s: element %d (token %d, head %d, column %d) is 0x%x, expected 0x%x%s", what, k,
                        token, head, col, actual[k], expected[k], nan ? " (NaN: the poison was not overwritten)" : ""));
            }
        }
    }

    /** A little-endian float32 file as raw int bits. */
    private static int[] float32Bits(Path file) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            int[] bits = new int[b.remaining() / 4];
            b.asIntBuffer().get(bits);
            return bits;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
