package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.EngramWeights;
import dev.engram.table.Fp8Table;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An {@link EngramLayer} whose table is fp8 (E4M3 codes, E8M0 block scales; SEMANTICS.md 9) gives, in FLOAT32 and
 * BFLOAT16 storage, rectangular and packed (random chunks with carried state), the outputs, conv windows and
 * histories of the same layer built from the exactly dequantized float32 table ({@link Fp8Table#toFloats}): bit for
 * bit under the CUDA simulator, else within the dtype tolerance. The table comes as host memory (native, and heap,
 * which is staged), or as device arrays used in place; {@link EngramLayer#deviceBytes()} counts the fp8 bytes. Random
 * codes (every sign, subnormals, never NaN) and scale bytes around 127 so every block has its own power of two.
 * Seeds fixed and printed. Bad fp8 input: {@link Fp8TableWeightsTest} (no GPU needed).
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class Fp8TableLayerGpuTest {
    private static final long SEED = 20261205L;

    /** A random fp8 table for {@code m}'s layer: codes without the two NaNs, scale bytes 120..134. */
    static Fp8Table randomTable(PackedForwardGpuTest.Model m, int block, long seed, Arena arena) {
        long rows = m.mapping().layer(m.layerId()).totalRows();
        int d = m.config().headDim();
        Random r = new Random(seed);
        MemorySegment codes = arena.allocate(rows * d), scales = arena.allocate(rows * (d / block));
        for (long i = 0; i < codes.byteSize(); i++) {
            int q = r.nextInt(256);
            if ((q & 0x7F) == 0x7F) q &= 0xFE; // ±NaN -> ±448
            codes.set(ValueLayout.JAVA_BYTE, i, (byte) q);
        }
        for (long i = 0; i < scales.byteSize(); i++) scales.set(ValueLayout.JAVA_BYTE, i, (byte) (120 + r.nextInt(15)));
        return Fp8Table.of(codes, scales, rows, d, block);
    }

    /** The dense tensors of {@code w} on a builder (the table is set by the caller). */
    static LayerWeights.Builder dense(DenseWeights w) {
        return LayerWeights.builder().keyWeight(ParameterTensor.of(w.keyWeight())).keyBias(ParameterTensor.of(w.keyBias()))
                .valueWeight(ParameterTensor.of(w.valueWeight())).valueBias(ParameterTensor.of(w.valueBias()))
                .keyNormWeight(ParameterTensor.of(w.keyNormWeight()))
                .queryNormWeight(ParameterTensor.of(w.queryNormWeight()))
                .convNormWeight(ParameterTensor.of(w.convNormWeight())).convWeight(ParameterTensor.of(w.convWeight()));
    }

    private static EngramLayer create(PackedForwardGpuTest.Model m, ParameterTensor table, int maxTokens) {
        return EngramLayer.create(m.mapping(), m.layerId(), dense(m.weights().dense()).table(table).build(),
                EngramLayer.Options.of(maxTokens).withDtype(m.dtype()));
    }

    @Test
    void fp8TableLayerEqualsTheDequantizedTableLayerRectangularAndPacked() {
        long seed = SEED;
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            for (int config = 0; config < 3; config++, seed += 1000) {
                PackedForwardGpuTest.Model m = PackedForwardGpuTest.Model.random(seed, dtype, config != 1);
                int d = m.config().headDim();
                int block = List.of(d, d / 2, 1).get(config); // one scale a row, two, one a value
                try (Arena arena = Arena.ofConfined()) {
                    Fp8Table fp8 = randomTable(m, block, seed + 3, arena);
                    check(m, fp8, new Random(seed + 7), seed, config);
                }
            }
        }
    }

    private static void check(PackedForwardGpuTest.Model m, Fp8Table fp8, Random r, long seed, int config) {
        float[] dequantized = fp8.toFloats();
        EngramWeights w = m.weights();
        PackedForwardGpuTest.Model deqModel = new PackedForwardGpuTest.Model(m.mapping(), m.layerId(),
                new EngramWeights(w.config(), w.hashing(), dequantized, w.keyWeight(), w.keyBias(), w.valueWeight(),
                        w.valueBias(), w.keyNormWeight(), w.queryNormWeight(), w.convNormWeight(), w.convWeight()),
                m.dtype());
        int sequences = 2 + r.nextInt(3), slots = sequences + 2;
        List<PackedForwardGpuTest.Plan> plans = PackedForwardGpuTest.randomPlans(m, r, sequences, slots, seed);
        int total = Math.max(1, plans.stream().mapToInt(p -> p.seq().length()).sum());
        String what0 = m + " block " + fp8.block() + " seed " + seed;
        System.out.println("fp8 table layer " + what0 + ": chunks "
                + plans.stream().map(p -> Arrays.toString(p.chunks())).toList());
        // config 1: the table's bytes on the Java heap (staged on upload); else native memory
        ParameterTensor table = config == 1
                ? ParameterTensor.ofFp8Host(MemorySegment.ofArray(fp8.values().toArray(ValueLayout.JAVA_BYTE)),
                        MemorySegment.ofArray(fp8.scales().toArray(ValueLayout.JAVA_BYTE)))  // block inferred
                : ParameterTensor.of(fp8);
        try (EngramLayer layer = create(m, table, total);
             EngramLayer reference = create(deqModel, ParameterTensor.of(dequantized), total);
             EngramState state = layer.newState(slots);
             EngramState refState = reference.newState(slots);
             CudaStream stream = CudaStream.create()) {
            long tableBytes = (long) dequantized.length * m.dtype().byteSize();
            assertEquals(reference.deviceBytes() - tableBytes + fp8.values().byteSize() + fp8.scales().byteSize(),
                    layer.deviceBytes(), what0 + ": deviceBytes counts the fp8 codes and scales");
            for (PackedForwardGpuTest.Plan p : plans) { // rectangular, whole sequences
                if (p.seq().length() == 0) continue;
                PackedForwardGpuTest.assertGpuRunsAgree(layer.forward(p.seq().ids(), p.seq().hidden(), 1, p.seq().length()),
                        reference.forward(p.seq().ids(), p.seq().hidden(), 1, p.seq().length()), m,
                        what0 + ": rectangular T=" + p.seq().length());
            }
            int steps = plans.stream().mapToInt(PackedForwardGpuTest.Plan::steps).max().orElse(0);
            for (int step = 0; step < steps; step++) { // packed, in chunks with carried state
                List<Integer> active = new ArrayList<>();
                for (int s = 0; s < sequences; s++) {
                    if (step >= plans.get(s).first() && step < plans.get(s).steps()) active.add(s);
                }
                Collections.shuffle(active, r);
                int n = active.size();
                int[] lengths = new int[n], batchSlots = new int[n];
                boolean[] starts = new boolean[n];
                PackedForwardGpuTest.Seq packed = new PackedForwardGpuTest.Seq(new long[0], new float[0]);
                for (int k = 0; k < n; k++) {
                    PackedForwardGpuTest.Plan p = plans.get(active.get(k));
                    int chunk = step - p.first(), from = p.offset(chunk);
                    lengths[k] = p.chunks()[chunk];
                    batchSlots[k] = p.slot();
                    starts[k] = chunk == 0;
                    packed = packed.concat(p.seq().range(from, from + lengths[k]));
                }
                PackedBatch batch = PackedBatch.ofLengths(lengths, batchSlots, starts);
                PackedForwardGpuTest.assertGpuRunsAgree(layer.forward(batch, packed.ids(), packed.hidden(), state),
                        reference.forward(batch, packed.ids(), packed.hidden(), refState), m,
                        what0 + ": packed step " + step + " lengths " + Arrays.toString(lengths));
            }
            for (PackedForwardGpuTest.Plan p : plans) {
                assertArrayEquals(refState.history(p.slot(), stream), state.history(p.slot(), stream), what0 + ": history");
                PackedForwardGpuTest.assertGpuRunsAgree(state.convInputs(p.slot(), stream),
                        refState.convInputs(p.slot(), stream), m, what0 + ": conv window");
            }
        }
    }

    @Test
    void deviceFp8TableIsUsedInPlace() {
        PackedForwardGpuTest.Model m = PackedForwardGpuTest.Model.random(SEED + 77, DType.BFLOAT16, true);
        int d = m.config().headDim();
        try (Arena arena = Arena.ofConfined()) {
            Fp8Table fp8 = randomTable(m, d / 2, SEED + 78, arena);
            PackedForwardGpuTest.Seq s = m.sequence(13, SEED + 79);
            try (DeviceBuffer codes = DeviceBuffer.allocate(fp8.values().byteSize(), DType.FP8_E4M3);
                 DeviceBuffer scales = DeviceBuffer.allocate(fp8.scales().byteSize(), DType.FP8_E8M0)) {
                codes.copyFrom(fp8.values());
                scales.copyFrom(fp8.scales());
                try (EngramLayer host = create(m, ParameterTensor.of(fp8), 13);
                     EngramLayer inPlace = create(m, ParameterTensor.ofFp8Device(codes, scales), 13)) {
                    assertEquals(host.deviceBytes() - codes.byteSize() - scales.byteSize(), inPlace.deviceBytes(),
                            "the device table is the caller's, not copied");
                    assertArrayEquals(host.forward(s.ids(), s.hidden(), 1, 13), inPlace.forward(s.ids(), s.hidden(), 1, 13),
                            "the same bytes gather the same rows");
                }
                // bad device input, refused when the tensor is made (nothing allocated by a layer)
                assertThrows(IllegalArgumentException.class, () -> ParameterTensor.ofFp8Device(scales, codes),
                        "codes and scales swapped: wrong dtypes");
                try (DeviceBuffer f = DeviceBuffer.allocate(codes.elementCount(), DType.FLOAT32)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> ParameterTensor.ofFp8Device(f, scales, d / 2));
                    assertTrue(e.getMessage().contains("FP8_E4M3"), e.getMessage());
                }
            }
        }
    }

    @Test
    void fp8UploadCopiesTheBytesUnchangedInChunksWithOneProgress() {
        dev.engram.cuda.CudaDevice.get(0).makeCurrent();
        byte[] codes = new byte[1003], scales = new byte[59]; // 17 values per scale
        new Random(SEED + 90).nextBytes(codes);
        for (int i = 0; i < scales.length; i++) scales[i] = (byte) (100 + i);
        try (Arena arena = Arena.ofConfined(); CudaStream s = CudaStream.create();
             DeviceBuffer dc = DeviceBuffer.allocate(codes.length, DType.FP8_E4M3);
             DeviceBuffer ds = DeviceBuffer.allocate(scales.length, DType.FP8_E8M0)) {
            for (boolean heap : new boolean[] {false, true}) {
                MemorySegment c = heap ? MemorySegment.ofArray(codes) : arena.allocateFrom(ValueLayout.JAVA_BYTE, codes);
                MemorySegment sc = heap ? MemorySegment.ofArray(scales) : arena.allocateFrom(ValueLayout.JAVA_BYTE, scales);
                List<long[]> calls = new ArrayList<>();
                ParameterTensor t = ParameterTensor.ofFp8Host(c, sc).withUploadProgress((done, all) -> calls.add(new long[] {done, all}));
                assertEquals(17, t.scaleBlock(), "block inferred");
                DeviceTensors.poison(dc);
                DeviceTensors.poison(ds);
                try (ParameterUpload up = new ParameterUpload(s, 64)) { // many chunks
                    up.copyFp8(t, dc, ds);
                }
                s.synchronize();
                long total = codes.length + scales.length;
                assertArrayEquals(new long[] {0, total}, calls.getFirst(), "heap " + heap);
                assertArrayEquals(new long[] {total, total}, calls.getLast(), "heap " + heap);
                MemorySegment back = arena.allocate(codes.length), backScales = arena.allocate(scales.length);
                dc.copyTo(back);
                ds.copyTo(backScales);
                assertArrayEquals(codes, back.toArray(ValueLayout.JAVA_BYTE), "codes, heap " + heap);
                assertArrayEquals(scales, backScales.toArray(ValueLayout.JAVA_BYTE), "scales, heap " + heap);
                assertThrows(IllegalArgumentException.class, () -> {
                    try (ParameterUpload up = new ParameterUpload(s, 64)) {
                        up.copy(t, dc);
                    }
                }, "an fp8 table is never converted");
            }
        }
    }
}
