package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.PackedBatch;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link HashedGather} from fp8 tables ({@link HashedGather.Launch#fp8Table}, SEMANTICS.md 9) on a GPU: every gathered
 * value must equal, bit for bit, the exact dequantization {@code e4m3(q) * 2^(b - 127)} computed here from the code's
 * bit fields in double and rounded to float32 (bf16: then to nearest even), the canonical NaN {@code 0x7fc00000} /
 * {@code 0x7fc0} for NaN codes and NaN scales. Covered: every one of the 256 codes times the scale bytes 0, 1, 126, 127,
 * 128, 254, 255 (subnormal results, bf16 ties, overflow to infinity); random tables and ids through the rectangular
 * gather (hash ids equal to {@link NgramHashMapping#hash}) and through the packed gather in chunks with the history
 * carried by {@link StateCommit}; bad fp8 arguments rejected in Java before anything is queued. Outputs are poisoned
 * first with 0xEE bytes, a bit pattern no dequantized value has (its low mantissa bits are not zero).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class HashedGatherFp8GpuTest {
    private static final long SEED = 20260913L;
    private static final byte POISON = (byte) 0xEE;

    // ---------------------------------------------------------------- the reference dequantization

    /** The float32 bits of {@code e4m3(q) * 2^(b - 127)}, from the code's fields: exact in double, then rounded. */
    static int float32Bits(int q, int b) {
        int e = (q >>> 3) & 15, m = q & 7;
        if ((e == 15 && m == 7) || b == 255) return 0x7FC0_0000;
        double magnitude = e == 0 ? Math.scalb(m / 8.0, -6) : Math.scalb(1 + m / 8.0, e - 7);
        double x = Math.scalb((q & 0x80) != 0 ? -magnitude : magnitude, b - 127);
        return Float.floatToRawIntBits((float) x);
    }

    /** The bfloat16 bits: the float32 above rounded to nearest even; the canonical NaN for NaN. */
    static int bfloat16Bits(int q, int b) {
        int f = float32Bits(q, b);
        return f == 0x7FC0_0000 ? 0x7FC0 : BFloat16.fromFloat(Float.intBitsToFloat(f)) & 0xFFFF;
    }

    static int bits(int q, int b, DType out) {
        return out == DType.FLOAT32 ? float32Bits(q, b) : bfloat16Bits(q, b);
    }

    @Test
    void theReferenceGivesKnownValues() {
        assertEquals(0x3F80_0000, float32Bits(0x38, 127), "1.0");
        assertEquals(0xC3E0_0000, float32Bits(0xFE, 127), "-448");
        assertEquals(0x0000_2000, float32Bits(0x01, 0), "2^-136, a float32 subnormal");
        assertEquals(0x7F80_0000, float32Bits(0x7E, 254), "448 * 2^127 overflows to infinity");
        assertEquals(0x8000_0000, float32Bits(0x80, 200), "-0");
        assertEquals(0x0000, bfloat16Bits(0x04, 0), "0.5 * 2^-133 ties to even: 0");
        assertEquals(0x0002, bfloat16Bits(0x0C, 0), "1.5 * 2^-133 ties to even: 2 * 2^-133");
        assertEquals(0x7FC0, bfloat16Bits(0xFF, 127), "NaN code");
    }

    // ---------------------------------------------------------------- every code x the scale bytes

    @Test
    void everyCodeTimesScaleBytes0_1_126_127_128_254_255() {
        int[] scaleBytes = {0, 1, 126, 127, 128, 254, 255};
        int heads = scaleBytes.length, d = 256;
        long[] ones = new long[heads];
        Arrays.fill(ones, 1);
        LayerHashing layer = LayerHashing.of(1, new long[] {3, 5}, ones); // head h always gathers row h
        byte[] codes = new byte[heads * d];
        for (int k = 0; k < codes.length; k++) codes[k] = (byte) k;
        for (int block : new int[] {256, 32, 4}) {
            byte[] scales = new byte[heads * (d / block)];
            for (int k = 0; k < scales.length; k++) scales[k] = (byte) scaleBytes[k / (d / block)];
            for (DType out : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                int[] expected = new int[heads * d];
                for (int h = 0; h < heads; h++) {
                    for (int q = 0; q < 256; q++) expected[h * d + q] = bits(q, scaleBytes[h], out);
                }
                Gathered got = rectangular(new long[] {0}, 1, 1, null, 0, layer, heads, codes, scales, block, d, out);
                assertBitsEqual(expected, got.bits, heads, d, "every code, block " + block + ", " + out);
            }
        }
    }

    // ---------------------------------------------------------------- random tables

    private static EngramConfig config(List<Long> vocab, int maxNgram, int nEmbedPerNgram, int nHeadPerNgram) {
        return new EngramConfig(vocab, maxNgram, nEmbedPerNgram, nHeadPerNgram, List.of(1, 15), 2, 0, 4, 64, 4,
                OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
    }

    /** A random fp8 table: every code (NaNs included), scales mostly near 127 with 0, 1, 254 and 255 among them. */
    private record Table(byte[] codes, byte[] scales, int block, int d) {
        static Table random(Random r, long rows, int d, int block) {
            byte[] codes = new byte[Math.toIntExact(rows * d)];
            r.nextBytes(codes);
            byte[] scales = new byte[Math.toIntExact(rows * (d / block))];
            for (int k = 0; k < scales.length; k++) {
                int[] special = {0, 1, 254, 255};
                scales[k] = (byte) (r.nextInt(12) == 0 ? special[r.nextInt(4)] : 110 + r.nextInt(35));
            }
            return new Table(codes, scales, block, d);
        }

        /** The rows of the given hash ids (with the layer's offsets), dequantized: [tokens, heads, d] bits. */
        int[] expectedRows(long[] hashIds, LayerHashing layer, DType out) {
            int heads = layer.heads();
            int[] rows = new int[hashIds.length * d];
            for (int k = 0; k < hashIds.length; k++) {
                long row = layer.offsets()[k % heads] + hashIds[k];
                for (int c = 0; c < d; c++) {
                    int q = codes[Math.toIntExact(row * d + c)] & 0xFF;
                    int b = scales[Math.toIntExact(row * (d / block) + c / block)] & 0xFF;
                    rows[k * d + c] = bits(q, b, out);
                }
            }
            return rows;
        }
    }

    /** Layer shapes: D = 32 and 48 take the 16-code path with a block of 16 or 32, D = 5 and block 8 go code by code. */
    private record Shape(EngramConfig config, int block, String name) {}

    private static List<Shape> shapes() {
        return List.of(new Shape(config(List.of(3001L, 2503L), 3, 64, 2), 32, "D=32 block 32"),
                new Shape(config(List.of(3001L, 2503L), 3, 96, 2), 16, "D=48 block 16"),
                new Shape(config(List.of(3001L, 2503L), 3, 96, 2), 8, "D=48 block 8"),
                new Shape(config(List.of(101L, 103L, 107L), 4, 15, 3), 5, "D=5 block 5"),
                new Shape(config(List.of(101L, 103L, 107L), 4, 15, 3), 1, "D=5 block 1"));
    }

    @Test
    void randomTablesThroughTheRectangularGatherBothDtypes() {
        long seed = SEED;
        for (Shape s : shapes()) {
            CompressionTable lut = EngramLayerGpuVsCpuTest.randomLut(seed++, 700, 650);
            NgramHashMapping mapping = NgramHashMapping.create(s.config, lut);
            int layerId = 15, d = s.config.headDim();
            LayerHashing layer = mapping.layer(layerId);
            for (DType out : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                Random r = new Random(seed++);
                Table table = Table.random(r, layer.totalRows(), d, s.block);
                int batch = 2, seqLen = 1 + r.nextInt(30);
                long[] ids = new long[batch * seqLen];
                for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(12) == 0 ? -1 - r.nextInt(3) : r.nextInt(700);
                long[] expectedHash = mapping.hash(ids, batch, seqLen, layerId);
                Gathered got = rectangular(ids, batch, seqLen, lut.toArray(), mapping.padIdCompressed(), layer,
                        s.config.nHeadPerNgram(), table.codes, table.scales, s.block, d, out);
                String what = s.name + " " + out + " " + batch + "x" + seqLen;
                assertArrayEquals(expectedHash, got.hashIds, what + ": hash ids");
                assertBitsEqual(table.expectedRows(expectedHash, layer, out), got.bits, layer.heads(), d, what + ": rows");
                System.out.println("[fp8 gather] " + what + ": exact");
            }
        }
    }

    @Test
    void packedChunksWithCarriedHistoryGiveTheWholeSequencesRows() {
        long seed = SEED + 100;
        for (Shape s : List.of(shapes().get(1), shapes().get(3))) {
            for (DType out : List.of(DType.FLOAT32, DType.BFLOAT16)) {
                packedChunks(s, out, seed++);
            }
        }
    }

    private void packedChunks(Shape s, DType out, long seed) {
        Random r = new Random(seed);
        CompressionTable lut = EngramLayerGpuVsCpuTest.randomLut(seed, 500, 400);
        NgramHashMapping mapping = NgramHashMapping.create(s.config, lut);
        int layerId = 1, d = s.config.headDim(), hist = s.config.maxNgramSize() - 1, sequences = 3, slots = 5;
        LayerHashing layer = mapping.layer(layerId);
        int heads = layer.heads();
        Table table = Table.random(r, layer.totalRows(), d, s.block);
        long[][] seqs = new long[sequences][];
        int[] slotOf = {3, 0, 4};
        for (int q = 0; q < sequences; q++) {
            seqs[q] = new long[5 + r.nextInt(20)];
            for (int i = 0; i < seqs[q].length; i++) seqs[q][i] = r.nextInt(500);
        }
        int[][] gotBits = new int[sequences][];
        long[][] gotHash = new long[sequences][];
        for (int q = 0; q < sequences; q++) {
            gotBits[q] = new int[seqs[q].length * heads * d];
            gotHash[q] = new long[seqs[q].length * heads];
        }
        long[] pads = new long[slots * hist];
        Arrays.fill(pads, mapping.padIdCompressed());
        int[] pos = new int[sequences];
        try (CudaStream stream = CudaStream.create();
             DeviceBatch batch = DeviceBatch.create(sequences);
             DeviceBuffer dLut = DeviceBuffer.allocate(lut.size(), DType.INT64);
             DeviceBuffer codes = bytes(table.codes, DType.FP8_E4M3);
             DeviceBuffer scales = bytes(table.scales, DType.FP8_E8M0);
             DeviceBuffer history = DeviceBuffer.allocate(pads.length, DType.INT64)) {
            dLut.copyFrom(lut.toArray());
            history.copyFrom(pads);
            int steps = 0;
            while (true) {
                List<Integer> open = new ArrayList<>();
                for (int q = 0; q < sequences; q++) if (pos[q] < seqs[q].length) open.add(q);
                if (open.isEmpty()) break;
                Collections.shuffle(open, r);
                int n = open.size();
                int[] lengths = new int[n], batchSlots = new int[n];
                boolean[] starts = new boolean[n];
                List<Long> packed = new ArrayList<>();
                for (int k = 0; k < n; k++) {
                    int q = open.get(k);
                    lengths[k] = Math.min(seqs[q].length - pos[q], r.nextInt(3) == 0 ? 1 : 1 + r.nextInt(7));
                    batchSlots[k] = slotOf[q];
                    starts[k] = pos[q] == 0;
                    for (int i = 0; i < lengths[k]; i++) packed.add(seqs[q][pos[q] + i]);
                }
                int tokens = packed.size();
                batch.set(PackedBatch.ofLengths(lengths, batchSlots, starts), stream);
                try (DeviceBuffer ids = DeviceBuffer.allocate(tokens, DType.INT64);
                     DeviceBuffer dOut = DeviceBuffer.allocate((long) tokens * heads * d, out);
                     DeviceBuffer hashOut = DeviceBuffer.allocate((long) tokens * heads, DType.INT64)) {
                    ids.copyFrom(packed.stream().mapToLong(Long::longValue).toArray());
                    poison(dOut);
                    Cuda.deviceSynchronize();
                    HashedGather.launch().rawIds(ids).batch(batch).history(history, slots).lut(dLut)
                            .padIdCompressed(mapping.padIdCompressed()).layer(layer)
                            .headsPerNgram(s.config.nHeadPerNgram()).fp8Table(codes, scales, s.block).headDim(d)
                            .out(dOut).hashIdsOut(hashOut).enqueue(stream);
                    StateCommit.launch().batch(batch).slots(slots).rawIds(ids).lut(dLut)
                            .padIdCompressed(mapping.padIdCompressed()).maxNgramSize(s.config.maxNgramSize())
                            .history(history).enqueue(stream);
                    stream.synchronize();
                    int[] outBits = readBits(dOut);
                    long[] hashes = new long[tokens * heads];
                    hashOut.copyTo(hashes);
                    int at = 0;
                    for (int k = 0; k < n; k++) {
                        int q = open.get(k);
                        System.arraycopy(hashes, at * heads, gotHash[q], pos[q] * heads, lengths[k] * heads);
                        System.arraycopy(outBits, at * heads * d, gotBits[q], pos[q] * heads * d, lengths[k] * heads * d);
                        at += lengths[k];
                        pos[q] += lengths[k];
                    }
                }
                steps++;
            }
            for (int q = 0; q < sequences; q++) {
                String what = "packed " + s.name + " " + out + " sequence " + q + " (" + steps + " steps)";
                long[] expectedHash = mapping.hash(seqs[q], 1, seqs[q].length, layerId);
                assertArrayEquals(expectedHash, gotHash[q], what + ": hash ids");
                assertBitsEqual(table.expectedRows(expectedHash, layer, out), gotBits[q], heads, d, what + ": rows");
            }
            System.out.println("[fp8 gather] packed " + s.name + " " + out + ", " + steps + " steps: exact");
        }
    }

    // ---------------------------------------------------------------- bad input

    @Test
    void badFp8ArgumentsAreRejectedBeforeAnythingIsQueued() {
        NgramHashMapping mapping = NgramHashMapping.create(shapes().get(0).config, EngramLayerGpuVsCpuTest.randomLut(SEED, 700, 650));
        LayerHashing layer = mapping.layer(1);
        int d = mapping.config().headDim(), heads = layer.heads(), block = 16;
        long rows = layer.totalRows();
        try (CudaStream stream = CudaStream.create();
             DeviceBuffer ids = DeviceBuffer.allocate(4, DType.INT64);
             DeviceBuffer codes = DeviceBuffer.allocate(rows * d, DType.FP8_E4M3);
             DeviceBuffer scales = DeviceBuffer.allocate(rows * d / block, DType.FP8_E8M0);
             DeviceBuffer scalesTooMany = DeviceBuffer.allocate(rows * d / block + 1, DType.FP8_E8M0);
             DeviceBuffer perRowScales = DeviceBuffer.allocate(rows, DType.FP8_E8M0);
             DeviceBuffer floatTable = DeviceBuffer.allocate(rows * d, DType.FLOAT32);
             DeviceBuffer out = DeviceBuffer.allocate(4L * heads * d, DType.FLOAT32);
             DeviceBuffer byteOut = DeviceBuffer.allocate(4L * heads * d, DType.FP8_E4M3);
             DeviceBatch batch = DeviceBatch.create(2)) {
            ids.copyFrom(new long[] {1, 2, 3, 4});
            poison(out);
            Cuda.deviceSynchronize();
            Consumer<Consumer<HashedGather.Launch>> rejected = breakIt -> {
                HashedGather.Launch launch = HashedGather.launch().rawIds(ids).tokens(1, 4)
                        .padIdCompressed(mapping.padIdCompressed()).layer(layer)
                        .headsPerNgram(mapping.config().nHeadPerNgram()).fp8Table(codes, scales, block).headDim(d)
                        .out(out);
                breakIt.accept(launch);
                launch.enqueue(stream);
            };
            assertRejected("scales has " + (rows * d / block + 1) + " elements",
                    () -> rejected.accept(l -> l.fp8Table(codes, scalesTooMany, block)));
            assertRejected("scaleBlock must be >= 1 and divide headDim 32, got 12",
                    () -> rejected.accept(l -> l.fp8Table(codes, scales, 12)));
            assertRejected("scaleBlock must be >= 1 and divide headDim 32, got 0",
                    () -> rejected.accept(l -> l.fp8Table(codes, perRowScales, 0)));
            assertRejected("scales has " + rows + " elements",
                    () -> rejected.accept(l -> l.fp8Table(codes, perRowScales, 16)));
            assertRejected("fp8 table codes must be FP8_E4M3",
                    () -> rejected.accept(l -> l.fp8Table(floatTable, scales, block)));
            assertRejected("fp8 table codes must be FP8_E4M3",
                    () -> rejected.accept(l -> l.fp8Table(scales, codes, block))); // swapped
            assertRejected("fp8 table scales must be FP8_E8M0",
                    () -> rejected.accept(l -> l.fp8Table(codes, codes, block)));
            assertRejected("out (from an fp8 table) must be FLOAT32 or BFLOAT16",
                    () -> rejected.accept(l -> l.out(byteOut)));
            IllegalStateException both = assertThrows(IllegalStateException.class,
                    () -> rejected.accept(l -> l.table(floatTable)));
            assertTrue(both.getMessage().contains("both table and fp8Table"), both.getMessage());
            batch.set(PackedBatch.ofLengths(new int[] {1, 3}, new int[] {0, 1}, new boolean[] {true, true}), stream);
            assertRejected("scales has " + (rows * d / block + 1) + " elements", () -> HashedGather.launch()
                    .rawIds(ids).batch(batch).padIdCompressed(mapping.padIdCompressed()).layer(layer)
                    .headsPerNgram(mapping.config().nHeadPerNgram()).fp8Table(codes, scalesTooMany, block).headDim(d)
                    .out(out).enqueue(stream));
            stream.synchronize();
            for (int b : readBits(out)) {
                if (b != 0xEEEE_EEEE) fail("a rejected launch wrote the output");
            }
        }
    }

    private static void assertRejected(String message, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run, message);
        assertTrue(e.getMessage().contains(message), () -> "expected \"" + message + "\" in: " + e.getMessage());
    }

    // ---------------------------------------------------------------- plumbing

    private record Gathered(int[] bits, long[] hashIds) {}

    /** Uploads, poisons, gathers on a fresh stream, reads back the output bits and hash ids. */
    private static Gathered rectangular(long[] ids, int batch, int seqLen, long[] lut, long pad, LayerHashing layer,
                                        int headsPerNgram, byte[] codes, byte[] scales, int block, int d, DType out) {
        int n = batch * seqLen;
        try (CudaStream stream = CudaStream.create();
             DeviceBuffer dIds = DeviceBuffer.allocate(n, DType.INT64);
             DeviceBuffer dLut = lut == null ? null : DeviceBuffer.allocate(lut.length, DType.INT64);
             DeviceBuffer dCodes = bytes(codes, DType.FP8_E4M3);
             DeviceBuffer dScales = bytes(scales, DType.FP8_E8M0);
             DeviceBuffer dOut = DeviceBuffer.allocate((long) n * layer.heads() * d, out);
             DeviceBuffer dHash = DeviceBuffer.allocate((long) n * layer.heads(), DType.INT64)) {
            dIds.copyFrom(ids);
            if (dLut != null) dLut.copyFrom(lut);
            poison(dOut);
            Cuda.deviceSynchronize(); // the copies ran on the legacy stream, the launch goes on a non-blocking one
            HashedGather.launch().rawIds(dIds).tokens(batch, seqLen).lut(dLut).padIdCompressed(pad).layer(layer)
                    .headsPerNgram(headsPerNgram).fp8Table(dCodes, dScales, block).headDim(d).out(dOut)
                    .hashIdsOut(dHash).enqueue(stream);
            stream.synchronize();
            long[] hashIds = new long[n * layer.heads()];
            dHash.copyTo(hashIds);
            return new Gathered(readBits(dOut), hashIds);
        }
    }

    private static DeviceBuffer bytes(byte[] values, DType dtype) {
        DeviceBuffer d = DeviceBuffer.allocate(values.length, dtype);
        try (Arena arena = Arena.ofConfined()) {
            d.copyFrom(arena.allocateFrom(ValueLayout.JAVA_BYTE, values));
        }
        return d;
    }

    private static void poison(DeviceArray dst) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(dst.byteSize());
            s.fill(POISON);
            dst.copyFrom(s);
        }
    }

    /** The raw bits of every element (float32 bits, or bfloat16 bits in the low 16), NaN payloads untouched. */
    private static int[] readBits(DeviceArray src) {
        int n = Math.toIntExact(src.elementCount());
        int[] bits = new int[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(src.byteSize());
            src.copyTo(s);
            for (int i = 0; i < n; i++) {
                bits[i] = src.dtype() == DType.FLOAT32 ? s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i)
                        : s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xFFFF;
            }
        }
        return bits;
    }

    /** Bit-exact comparison naming the first differing token, head and column. */
    private static void assertBitsEqual(int[] expected, int[] actual, int heads, int d, String what) {
        assertEquals(expected.length, actual.length, what + ": element count");
        for (int k = 0; k < actual.length; k++) {
            if (expected[k] != actual[k]) {
                fail(String.format("%s: element %d (token %d, head %d, column %d) is 0x%x, expected 0x%x", what, k,
                        k / (heads * d), (k / d) % heads, k % d, actual[k], expected[k]));
            }
        }
    }
}
