package dev.engram.gpu;

import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * GateShortConv's Java-side checks, on a machine without a GPU, as {@link GateAndShortConvArgumentsJavaTest}
 * does them for Gate and ShortConv: zero-element DeviceBuffers make no CUDA call, and every check here throws
 * before anything native is touched. Weights have {@code G*H > 0} elements, which cannot exist without a GPU,
 * so the first weight count is as far as these go.
 */
class GateShortConvArgumentsJavaTest {
    private static final String EMPTY_F32 = "DeviceBuffer[0 x FLOAT32, 0 bytes, 0x0]";
    private static final String EMPTY_BF16 = "DeviceBuffer[0 x BFLOAT16, 0 bytes, 0x0]";

    private long liveBefore;

    @BeforeEach
    void recordLiveBytes() {
        liveBefore = DeviceBuffer.liveBytes();
    }

    @AfterEach
    void nothingAllocated() {
        assertEquals(liveBefore, DeviceBuffer.liveBytes(), "live device bytes after the test");
    }

    private static DeviceBuffer empty(DType dtype) {
        return DeviceBuffer.allocate(0, dtype);
    }

    private static DeviceBuffer closed(DType dtype) {
        DeviceBuffer b = DeviceBuffer.allocate(0, dtype);
        b.close();
        return b;
    }

    /** B = 2, T = 0, G = 2, H = 8, K = 4, dilation 3; all buffers empty, so it first fails at keyBias's count. */
    private static final class Call {
        DeviceArray proj = empty(DType.FLOAT32), keyBias = empty(DType.FLOAT32), valueBias = empty(DType.FLOAT32);
        DeviceArray hidden = empty(DType.FLOAT32), keyNorm = empty(DType.FLOAT32), queryNorm = empty(DType.FLOAT32);
        DeviceArray convNorm = empty(DType.FLOAT32), convWeight = empty(DType.FLOAT32);
        DeviceArray out = empty(DType.FLOAT32), gateOut = empty(DType.FLOAT32);
        float gateEps = 0x1p-23f, convEps = 1e-5f;
        int batch = 2, seqLen = 0, hcMult = 2, hidden_ = 8, kernelSize = 4, dilation = 3;
        CudaStream stream = CudaStream.legacyDefault();

        void run() {
            GateShortConv.launch().projections(proj).keyBias(keyBias).valueBias(valueBias).hidden(hidden)
                    .keyNormWeight(keyNorm).queryNormWeight(queryNorm).gateEps(gateEps).convNormWeight(convNorm)
                    .convWeight(convWeight).convEps(convEps).tokens(batch, seqLen).branches(hcMult, hidden_)
                    .kernel(kernelSize, dilation).out(out).gateOut(gateOut).enqueue(stream);
        }
    }

    private static void rejected(String message, Consumer<Call> breakIt) {
        Call call = new Call();
        breakIt.accept(call);
        assertEquals(message, assertThrows(IllegalArgumentException.class, call::run).getMessage());
    }

    @Test
    void unbrokenCallReachesTheFirstWeightCount() {
        String message = "gate short conv: keyBias has 0 elements, expected hcMult * hiddenSize = 2 * 8 = 16 ("
                + EMPTY_F32 + ")";
        rejected(message, c -> {});
        rejected(message, c -> c.gateOut = null); // optional
    }

    @Test
    void scalars() {
        rejected("gate short conv: batch and seqLen must be >= 0, got -1 x 0", c -> c.batch = -1);
        rejected("gate short conv: batch and seqLen must be >= 0, got 2 x -1", c -> c.seqLen = -1);
        rejected("gate short conv: hcMult must be in [1, 64], got 0", c -> c.hcMult = 0);
        rejected("gate short conv: hcMult must be in [1, 64], got 65", c -> c.hcMult = 65);
        rejected("gate short conv: hiddenSize must be in [1, 65536], got 0", c -> c.hidden_ = 0);
        rejected("gate short conv: hiddenSize must be in [1, 65536], got 65537", c -> c.hidden_ = 65537);
        rejected("gate short conv: kernelSize must be in [1, 16], got 0", c -> c.kernelSize = 0);
        rejected("gate short conv: kernelSize must be in [1, 16], got 17", c -> c.kernelSize = 17);
        rejected("gate short conv: dilation must be >= 1, got 0", c -> c.dilation = 0);
        rejected("gate short conv: gateEps must be finite and > 0, got 0.0", c -> c.gateEps = 0f);
        rejected("gate short conv: gateEps must be finite and > 0, got NaN", c -> c.gateEps = Float.NaN);
        rejected("gate short conv: convEps must be finite and > 0, got -1.0E-5", c -> c.convEps = -1e-5f);
        rejected("gate short conv: convEps must be finite and > 0, got Infinity",
                c -> c.convEps = Float.POSITIVE_INFINITY);
    }

    @Test
    void dtypes() {
        rejected("gate short conv: proj must be FLOAT32 or BFLOAT16, got DeviceBuffer[0 x INT64, 0 bytes, 0x0]",
                c -> c.proj = empty(DType.INT64));
        rejected("gate short conv: hidden (proj's dtype) must be FLOAT32, got " + EMPTY_BF16,
                c -> c.hidden = empty(DType.BFLOAT16));
        rejected("gate short conv: convNormWeight (proj's dtype) must be FLOAT32, got " + EMPTY_BF16,
                c -> c.convNorm = empty(DType.BFLOAT16));
        rejected("gate short conv: convWeight (proj's dtype) must be FLOAT32, got " + EMPTY_BF16,
                c -> c.convWeight = empty(DType.BFLOAT16));
        rejected("gate short conv: out (proj's dtype) must be FLOAT32, got " + EMPTY_BF16,
                c -> c.out = empty(DType.BFLOAT16));
        rejected("gate short conv: keyBias (proj's dtype) must be BFLOAT16, got " + EMPTY_F32,
                c -> c.proj = empty(DType.BFLOAT16));
        rejected("gate short conv: gateOut must be FLOAT32, got " + EMPTY_BF16, c -> c.gateOut = empty(DType.BFLOAT16));
    }

    @Test
    void countsAndOverflow() {
        rejected("gate short conv: proj has 0 elements, expected batch * seqLen * (hcMult + 1) * hiddenSize"
                + " = 2 * 5 * (2 + 1) * 8 = 240 (" + EMPTY_F32 + ")", c -> c.seqLen = 5);
        rejected("gate short conv: element count 4611686014132420609 * 65 * 65536 overflows a long", c -> {
            c.batch = Integer.MAX_VALUE;
            c.seqLen = Integer.MAX_VALUE;
            c.hcMult = 64;
            c.hidden_ = 65536;
        });
    }

    @Test
    void outputsMustNotOverlapInputs() {
        rejected("gate short conv: out must not overlap proj (out " + EMPTY_F32 + ", proj " + EMPTY_F32 + ")",
                c -> c.out = c.proj);
        rejected("gate short conv: out must not overlap hidden (out " + EMPTY_F32 + ", hidden " + EMPTY_F32 + ")",
                c -> c.out = c.hidden);
        rejected("gate short conv: gateOut must not overlap convWeight (gateOut " + EMPTY_F32 + ", convWeight "
                + EMPTY_F32 + ")", c -> c.gateOut = c.convWeight);
        rejected("gate short conv: gateOut must not overlap out (gateOut " + EMPTY_F32 + ", out " + EMPTY_F32 + ")",
                c -> c.gateOut = c.out);
    }

    @Test
    void nullsAndClosedThings() {
        Call call = new Call();
        call.convNorm = null;
        assertEquals("convNormWeight", assertThrows(NullPointerException.class, call::run).getMessage());
        call = new Call();
        call.stream = null;
        assertEquals("stream", assertThrows(NullPointerException.class, call::run).getMessage());
        // Liveness comes before every other check: batch = -1 is not what is reported.
        for (Consumer<Call> closeOne : List.<Consumer<Call>>of(
                c -> c.proj = closed(DType.FLOAT32), c -> c.convWeight = closed(DType.FLOAT32),
                c -> c.out = closed(DType.FLOAT32), c -> c.gateOut = closed(DType.FLOAT32))) {
            Call c = new Call();
            c.batch = -1;
            closeOne.accept(c);
            assertThrows(IllegalStateException.class, c::run);
        }
    }
}
