package dev.engram.gpu;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parameters off the Java heap: a layer built from {@link LayerWeights} of native host memory (float32 or already
 * bfloat16) or of device memory used in place computes bit for bit what the layer from the reference's float32
 * arrays computes; the upload's conversions are exact through many small chunks; bad tensors fail before anything
 * is allocated.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class LayerWeightsGpuTest {
    private static final long SEED = 41;

    private static NgramHashMapping mapping() {
        EngramConfig c = new EngramConfig(List.of(307L, 311L), 3, 32, 2, List.of(1), 2, 0, 4, 32, 2,
                OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
        long[] lut = new long[400];
        for (int i = 0; i < lut.length; i++) lut[i] = (i * 11L) % 350;
        return NgramHashMapping.create(c, CompressionTable.of(lut));
    }

    private static MemorySegment nativeFloats(Arena arena, float[] v) {
        return arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
    }

    @Test
    void nativeHostAndInPlaceDeviceTensorsGiveTheSameLayer() {
        CudaDevice.get(0).makeCurrent();
        NgramHashMapping mapping = mapping();
        EngramConfig c = mapping.config();
        EngramWeights w = RandomWeights.create(c, mapping.layer(1), SEED, 0.3);
        int b = 2, t = 9, tokens = b * t, act = tokens * c.hcMult() * c.hiddenSize();
        SplittableRandom r = new SplittableRandom(SEED);
        long[] ids = new long[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = r.nextLong(400);
        float[] hidden = new float[act];
        for (int i = 0; i < act; i++) hidden[i] = (float) r.nextDouble(-1.5, 1.5);
        EngramLayer.Options bf16 = EngramLayer.Options.of(tokens);
        try (Arena arena = Arena.ofConfined();
             EngramLayer fromArrays = EngramLayer.create(mapping, 1, w, DType.BFLOAT16, tokens)) {
            float[] expected = fromArrays.forward(ids, hidden, b, t);

            // The table already in bfloat16, native; the rest float32, native.
            MemorySegment tableBf16 = arena.allocateFrom(ValueLayout.JAVA_SHORT, BFloat16.fromFloats(w.embedding()));
            LayerWeights nativeWeights = LayerWeights.builder()
                    .table(ParameterTensor.ofHost(tableBf16, DType.BFLOAT16))
                    .keyWeight(ParameterTensor.ofHost(nativeFloats(arena, w.keyWeight()), DType.FLOAT32))
                    .keyBias(ParameterTensor.ofHost(nativeFloats(arena, w.keyBias()), DType.FLOAT32))
                    .valueWeight(ParameterTensor.ofHost(nativeFloats(arena, w.valueWeight()), DType.FLOAT32))
                    .valueBias(ParameterTensor.ofHost(nativeFloats(arena, w.valueBias()), DType.FLOAT32))
                    .keyNormWeight(ParameterTensor.ofHost(nativeFloats(arena, w.keyNormWeight()), DType.FLOAT32))
                    .queryNormWeight(ParameterTensor.ofHost(nativeFloats(arena, w.queryNormWeight()), DType.FLOAT32))
                    .convNormWeight(ParameterTensor.ofHost(nativeFloats(arena, w.convNormWeight()), DType.FLOAT32))
                    .convWeight(ParameterTensor.ofHost(nativeFloats(arena, w.convWeight()), DType.FLOAT32))
                    .build();
            try (EngramLayer layer = EngramLayer.create(mapping, 1, nativeWeights, bf16)) {
                assertArrayEquals(expected, layer.forward(ids, hidden, b, t), "native host tensors");
            }

            // The table in device memory, used in place: the layer does not own (or count) it.
            try (DeviceBuffer deviceTable = DeviceBuffer.allocate(w.embedding().length, DType.BFLOAT16);
                 CudaStream s = CudaStream.create()) {
                deviceTable.copyFromAsync(tableBf16, s);
                s.synchronize();
                LayerWeights inPlace = LayerWeights.builder().table(ParameterTensor.ofDevice(deviceTable))
                        .keyWeight(ParameterTensor.of(w.keyWeight())).keyBias(ParameterTensor.of(w.keyBias()))
                        .valueWeight(ParameterTensor.of(w.valueWeight())).valueBias(ParameterTensor.of(w.valueBias()))
                        .keyNormWeight(ParameterTensor.of(w.keyNormWeight()))
                        .queryNormWeight(ParameterTensor.of(w.queryNormWeight()))
                        .convNormWeight(ParameterTensor.of(w.convNormWeight()))
                        .convWeight(ParameterTensor.of(w.convWeight())).build();
                try (EngramLayer layer = EngramLayer.create(mapping, 1, inPlace, bf16)) {
                    assertEquals(fromArrays.deviceBytes() - deviceTable.byteSize(), layer.deviceBytes());
                    assertArrayEquals(expected, layer.forward(ids, hidden, b, t), "device table in place");
                }

                // The same weights for a FLOAT32 layer: a BFLOAT16 device table cannot be used in place.
                long live = DeviceBuffer.liveBytes();
                String m = assertThrows(IllegalArgumentException.class, () -> EngramLayer.create(mapping, 1, inPlace,
                        bf16.withDtype(DType.FLOAT32))).getMessage();
                assertTrue(m.contains("table") && m.contains("BFLOAT16") && m.contains("FLOAT32"), m);
                assertEquals(live, DeviceBuffer.liveBytes(), "nothing stays allocated after a rejected tensor");
            }
        }
    }

    @Test
    void wrongSizesAreListedByNameBeforeAnyAllocation() {
        NgramHashMapping mapping = mapping();
        EngramWeights w = RandomWeights.create(mapping.config(), mapping.layer(1), SEED, 0.3);
        LayerWeights swapped = LayerWeights.builder().table(ParameterTensor.of(w.embedding()))
                .keyWeight(ParameterTensor.of(w.valueWeight())).keyBias(ParameterTensor.of(w.keyBias())) // swapped
                .valueWeight(ParameterTensor.of(w.keyWeight())).valueBias(ParameterTensor.of(w.valueBias()))
                .keyNormWeight(ParameterTensor.of(w.keyNormWeight())).queryNormWeight(ParameterTensor.of(w.queryNormWeight()))
                .convNormWeight(ParameterTensor.of(w.convNormWeight())).convWeight(ParameterTensor.of(w.convWeight())).build();
        long live = DeviceBuffer.liveBytes();
        String m = assertThrows(IllegalArgumentException.class,
                () -> EngramLayer.create(mapping, 1, swapped, EngramLayer.Options.of(8))).getMessage();
        assertTrue(m.contains("keyWeight has") && m.contains("valueWeight has"), m);
        assertEquals(live, DeviceBuffer.liveBytes());
        assertThrows(IllegalStateException.class, () -> LayerWeights.builder().table(ParameterTensor.of(w.embedding())).build());
    }

    @Test
    void uploadConversionsAreExactThroughManySmallChunks() {
        CudaDevice.get(0).makeCurrent();
        SplittableRandom r = new SplittableRandom(SEED);
        int n = 1001; // not a multiple of any chunk
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float) r.nextDouble(-3, 3);
        short[] bf16 = BFloat16.fromFloats(values);
        try (Arena arena = Arena.ofConfined(); CudaStream s = CudaStream.create();
             DeviceBuffer toBf16 = DeviceBuffer.allocate(n, DType.BFLOAT16);
             DeviceBuffer bf16ToBf16 = DeviceBuffer.allocate(n, DType.BFLOAT16);
             DeviceBuffer toF32 = DeviceBuffer.allocate(n, DType.FLOAT32);
             DeviceBuffer bf16ToF32 = DeviceBuffer.allocate(n, DType.FLOAT32)) {
            try (ParameterUpload up = new ParameterUpload(s, 64)) { // 16 floats or 32 bf16 per chunk
                up.copy(ParameterTensor.of(values), toBf16);
                up.copy(ParameterTensor.ofHost(arena.allocateFrom(ValueLayout.JAVA_SHORT, bf16), DType.BFLOAT16), bf16ToBf16);
                up.copy(ParameterTensor.ofHost(nativeFloats(arena, values), DType.FLOAT32), toF32);
                up.copy(ParameterTensor.ofHost(arena.allocateFrom(ValueLayout.JAVA_SHORT, bf16), DType.BFLOAT16), bf16ToF32);
            }
            s.synchronize();
            short[] got = new short[n];
            toBf16.copyTo(got);
            assertArrayEquals(bf16, got, "float32 -> bfloat16, rounded to nearest even");
            bf16ToBf16.copyTo(got);
            assertArrayEquals(bf16, got, "bfloat16 as is");
            float[] f = new float[n];
            toF32.copyTo(f);
            assertArrayEquals(values, f, "float32 as is");
            bf16ToF32.copyTo(f);
            assertArrayEquals(BFloat16.toFloats(bf16), f, "bfloat16 -> float32, exact");
        }
    }
}
