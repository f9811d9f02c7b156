package dev.engram.interop;

import dev.engram.EngramConfig;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.cuda.DeviceScope;
import dev.engram.gpu.EngramLayer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Device affinity with two devices (a machine with two GPUs, or the CUDA simulator with {@code SIM_DEVICES=2}, which
 * tests/cuda-sim/run.sh sets): a layer records the device it was created on, runs there whichever device its caller
 * has current (and gives the caller's back), and rejects memory and streams of the other device before any launch,
 * naming both devices.
 */
@RequiresGpu
class DeviceAffinityGpuTest {
    private NgramHashMapping mapping;
    private EngramWeights weights;

    @BeforeEach
    void twoDevices() {
        assumeTrue(CudaDevice.count() >= 2, "needs two CUDA devices, this machine has " + CudaDevice.count()
                + " (the CUDA simulator has two with SIM_DEVICES=2)");
        EngramConfig c = new EngramConfig(List.of(211L, 223L), 3, 16, 2, List.of(1), 2, 0, 4, 16, 2,
                OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
        long[] lut = new long[300];
        for (int i = 0; i < lut.length; i++) lut[i] = (i * 7L) % 250;
        mapping = NgramHashMapping.create(c, CompressionTable.of(lut));
        weights = RandomWeights.create(c, mapping.layer(1), 5, 0.3);
    }

    @Test
    void aLayerRunsOnItsDeviceAndRestoresTheCallers() {
        int b = 2, t = 7, tokens = b * t, act = tokens * 2 * 16;
        long[] ids = new long[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = (i * 31L) % 300;
        float[] hidden = new float[act];
        for (int i = 0; i < act; i++) hidden[i] = (float) Math.sin(i);
        CudaDevice.get(0).makeCurrent();
        try (EngramLayer layer = EngramLayer.create(mapping, 1, weights, DType.FLOAT32, tokens)) {
            assertEquals(0, layer.device());
            float[] onDevice0 = layer.forward(ids, hidden, b, t);
            CudaDevice.get(1).makeCurrent();
            float[] fromDevice1 = layer.forward(ids, hidden, b, t); // the caller works on device 1
            assertEquals(1, DeviceScope.currentDevice(), "the caller's current device is given back");
            assertArrayEquals(onDevice0, fromDevice1);
        } finally {
            CudaDevice.get(0).makeCurrent();
        }
    }

    @Test
    void memoryAndStreamsOfAnotherDeviceAreRejectedNamingBoth() {
        int b = 1, t = 4, tokens = b * t, act = tokens * 2 * 16;
        CudaDevice.get(0).makeCurrent();
        try (EngramLayer layer = EngramLayer.create(mapping, 1, weights, DType.FLOAT32, tokens);
             DeviceBuffer ids0 = DeviceBuffer.allocate(tokens, DType.INT64);
             DeviceBuffer hidden0 = DeviceBuffer.allocate(act, DType.FLOAT32);
             DeviceBuffer out0 = DeviceBuffer.allocate(act, DType.FLOAT32);
             CudaStream stream0 = CudaStream.create()) {
            CudaDevice.get(1).makeCurrent();
            try (DeviceBuffer hidden1 = DeviceBuffer.allocate(act, DType.FLOAT32); CudaStream stream1 = CudaStream.create()) {
                assertEquals(1, hidden1.device());
                assertEquals(1, stream1.device());
                String m = assertThrows(IllegalArgumentException.class,
                        () -> layer.forward(ids0, b, t, hidden1, out0, stream0)).getMessage();
                assertTrue(m.contains("hidden") && m.contains("device 1") && m.contains("device 0"), m);
                m = assertThrows(IllegalArgumentException.class,
                        () -> layer.forward(ids0, b, t, hidden0, out0, stream1)).getMessage();
                assertTrue(m.contains("device 1") && m.contains("device 0"), m);
            } finally {
                CudaDevice.get(0).makeCurrent();
            }
        }
    }
}
