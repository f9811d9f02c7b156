package dev.engram.interop;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.cuda.DeviceView;
import dev.engram.gpu.EngramLayer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.testing.Compare;
import dev.engram.testing.RequiresGpu;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The library run on another stack's memory and stream with zero copies: ids, hidden states and the output are
 * {@code cudaMalloc}ed, filled and read back with raw cudart calls on a raw non-blocking stream ({@link ForeignStack}),
 * wrapped ({@link DeviceArray#wrap}, {@link CudaStream#wrap}), and {@link EngramLayer#forward} runs on the views.
 * The result is checked against the double-precision reference on fresh random inputs (printed seed), fp32 and bf16;
 * closing the views frees nothing; bad wraps fail before any launch.
 */
@RequiresGpu
class ForeignMemoryInteropGpuTest {
    private static final long SEED = 20261204L;

    private static NgramHashMapping mapping() {
        EngramConfig c = new EngramConfig(List.of(3001L, 3011L), 3, 64, 2, List.of(1, 15), 2, 0, 4, 64, 2,
                OptionalLong.empty(), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);
        long[] lut = new long[5000];
        SplittableRandom r = new SplittableRandom(SEED);
        for (int i = 0; i < lut.length; i++) lut[i] = r.nextLong(4000);
        return NgramHashMapping.create(c, CompressionTable.of(lut));
    }

    @Test
    void forwardRunsOnWrappedForeignMemoryAndStream() {
        System.out.println("[interop] seed " + SEED);
        CudaDevice.get(0).makeCurrent();
        NgramHashMapping mapping = mapping();
        EngramConfig c = mapping.config();
        for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
            int b = 3, t = 21, tokens = b * t, act = tokens * c.hcMult() * c.hiddenSize();
            EngramWeights w = RandomWeights.create(c, mapping.layer(15), SEED + 1, 0.3);
            SplittableRandom r = new SplittableRandom(SEED + 2);
            long[] ids = new long[tokens];
            for (int i = 0; i < tokens; i++) ids[i] = r.nextLong(5000);
            float[] hidden = new float[act];
            for (int i = 0; i < act; i++) hidden[i] = (float) r.nextDouble(-1.7, 1.7);
            if (dtype == DType.BFLOAT16) {
                w = w.mapArrays(BFloat16::roundTrip);
                hidden = BFloat16.roundTrip(hidden);
            }
            double[] hiddenD = new double[act];
            for (int i = 0; i < act; i++) hiddenD[i] = hidden[i];
            double[] expected = new ReferenceEngramLayer(mapping, 15, w).forward(ids, hiddenD, b, t);

            long live = DeviceBuffer.liveBytes();
            MemorySegment stream = ForeignStack.nonBlockingStream();
            MemorySegment dIds = ForeignStack.malloc(8L * tokens);
            MemorySegment dHidden = ForeignStack.malloc(dtype.bytesFor(act));
            MemorySegment dOut = ForeignStack.malloc(dtype.bytesFor(act));
            try (Arena arena = Arena.ofConfined();
                 EngramLayer layer = EngramLayer.create(mapping, 15, w, dtype, tokens)) {
                ForeignStack.upload(dIds, arena.allocateFrom(ValueLayout.JAVA_LONG, ids), stream);
                ForeignStack.upload(dHidden, dtype == DType.FLOAT32 ? arena.allocateFrom(ValueLayout.JAVA_FLOAT, hidden)
                        : arena.allocateFrom(ValueLayout.JAVA_SHORT, BFloat16.fromFloats(hidden)), stream);
                ForeignStack.poison(dOut, dtype.bytesFor(act), stream);
                long liveWithLayer = DeviceBuffer.liveBytes();
                try (DeviceView vIds = DeviceArray.wrap(dIds, tokens, DType.INT64);
                     DeviceView vHidden = DeviceArray.wrap(dHidden, act, dtype);
                     DeviceView vOut = DeviceArray.wrap(dOut, act, dtype);
                     CudaStream s = CudaStream.wrap(stream)) {
                    assertSame(DeviceView.MemoryKind.DEVICE, vIds.kind());
                    assertEquals(0, vHidden.device());
                    assertEquals(0, s.device());
                    // No synchronization between the stack's uploads and the forward: same stream, in order.
                    layer.forward(vIds, b, t, vHidden, vOut, s);
                }
                assertEquals(liveWithLayer, DeviceBuffer.liveBytes(), "views own no device memory");
                MemorySegment out = arena.allocate(dtype.bytesFor(act), 16);
                ForeignStack.download(out, dOut, stream); // the closed views freed nothing: the memory is still there
                ForeignStack.sync(stream);
                double[] actual = new double[act];
                for (int i = 0; i < act; i++) {
                    actual[i] = dtype == DType.FLOAT32 ? out.getAtIndex(ValueLayout.JAVA_FLOAT, i)
                            : BFloat16.toFloat(out.getAtIndex(ValueLayout.JAVA_SHORT, i));
                }
                Compare.assertAllClose(actual, expected, dtype == DType.FLOAT32 ? 2e-5 : 2e-2,
                        "forward on wrapped foreign memory, " + dtype);
            } finally {
                ForeignStack.free(dOut);
                ForeignStack.free(dHidden);
                ForeignStack.free(dIds);
                ForeignStack.destroy(stream);
            }
            assertEquals(live, DeviceBuffer.liveBytes());
        }
    }

    @Test
    void badWrapsFailBeforeAnyLaunch() {
        CudaDevice.get(0).makeCurrent();
        MemorySegment p = ForeignStack.malloc(4096);
        try {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceArray.wrap(MemorySegment.NULL, 4, DType.FLOAT32))
                    .getMessage().contains("NULL"));
            assertThrows(IllegalArgumentException.class, () -> DeviceArray.wrap(p, -1, DType.FLOAT32));
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> DeviceArray.wrap(MemorySegment.ofAddress(p.address() + 2), 4, DType.FLOAT32))
                    .getMessage().contains("aligned"));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(4096, 16); // plain (pageable) host memory
                assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceArray.wrap(host, 1024, DType.FLOAT32))
                        .getMessage().contains("not device memory"));
            }
            // More elements than the allocation holds: 4096 bytes allocated, 1 TiB claimed, so the last byte is in no allocation.
            assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceArray.wrap(p, 1L << 38, DType.FLOAT32))
                    .getMessage().contains("more elements than the allocation holds"));
            DeviceView v = DeviceArray.wrap(p, 1024, DType.FLOAT32);
            DeviceArray slice = v.slice(10, 20);
            v.close();
            assertThrows(IllegalStateException.class, v::address);
            assertThrows(IllegalStateException.class, slice::address);
            v.close(); // idempotent, and still frees nothing
        } finally {
            ForeignStack.free(p);
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceArray.wrap(p, 1024, DType.FLOAT32))
                .getMessage().contains("not device memory"), "a freed pointer");
    }

    @Test
    void closingAStreamViewLeavesTheStreamUsable() {
        CudaDevice.get(0).makeCurrent();
        MemorySegment raw = ForeignStack.nonBlockingStream();
        try {
            CudaStream view = CudaStream.wrap(raw);
            assertTrue(!view.owned());
            view.close();
            assertThrows(IllegalStateException.class, view::handle);
            ForeignStack.sync(raw); // the stream was not destroyed
            assertSame(CudaStream.legacyDefault(), CudaStream.wrap(MemorySegment.NULL));
        } finally {
            ForeignStack.destroy(raw);
        }
    }
}
