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
 * Gate's and ShortConv's Java-side checks, on a machine without a GPU: zero-element DeviceBuffers make no
 * CUDA call (NULL address), and every check here throws before anything native is touched (a native call
 * with NULL pointers would fail with an EngramNativeException instead). Weights have {@code G*H > 0}
 * elements, which cannot exist without a GPU, so the checks after the first weight count run in
 * {@link GateAndShortConvArgumentsGpuTest}.
 */
class GateAndShortConvArgumentsJavaTest {
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

    /** A gate call with no tokens, G = 2, H = 8; all buffers empty, so it first fails at keyBias's count. */
    private static final class GateCall {
        DeviceArray proj = empty(DType.FLOAT32), keyBias = empty(DType.FLOAT32), valueBias = empty(DType.FLOAT32);
        DeviceArray hidden = empty(DType.FLOAT32), keyNorm = empty(DType.FLOAT32), queryNorm = empty(DType.FLOAT32);
        DeviceArray valueOut = empty(DType.FLOAT32), gateOut = empty(DType.FLOAT32);
        float eps = 0x1p-23f;
        long tokens = 0;
        int hcMult = 2, hidden_ = 8;
        CudaStream stream = CudaStream.legacyDefault();

        void run() {
            Gate.launch().projections(proj).keyBias(keyBias).valueBias(valueBias).hidden(hidden).keyNormWeight(keyNorm)
                    .queryNormWeight(queryNorm).eps(eps).tokens(tokens).branches(hcMult, hidden_).valueOut(valueOut)
                    .gateOut(gateOut).enqueue(stream);
        }
    }

    /** A short conv with B = 2, T = 0, G = 2, H = 8, K = 4, dilation 3; first fails at normWeight's count. */
    private static final class ConvCall {
        DeviceArray value = empty(DType.FLOAT32), normWeight = empty(DType.FLOAT32), convWeight = empty(DType.FLOAT32);
        DeviceArray out = empty(DType.FLOAT32);
        float eps = 1e-5f;
        int batch = 2, seqLen = 0, hcMult = 2, hidden = 8, kernelSize = 4, dilation = 3;
        CudaStream stream = CudaStream.legacyDefault();

        void run() {
            ShortConv.launch().value(value).normWeight(normWeight).convWeight(convWeight).eps(eps).tokens(batch, seqLen)
                    .branches(hcMult, hidden).kernel(kernelSize, dilation).out(out).enqueue(stream);
        }
    }

    private static void gateRejected(String message, Consumer<GateCall> breakIt) {
        GateCall call = new GateCall();
        breakIt.accept(call);
        assertEquals(message, assertThrows(IllegalArgumentException.class, call::run).getMessage());
    }

    private static void convRejected(String message, Consumer<ConvCall> breakIt) {
        ConvCall call = new ConvCall();
        breakIt.accept(call);
        assertEquals(message, assertThrows(IllegalArgumentException.class, call::run).getMessage());
    }

    // ---------------------------------------------------------------- gate

    @Test
    void gateUnbrokenCallReachesTheFirstWeightCount() {
        String message = "gate: keyBias has 0 elements, expected hcMult * hiddenSize = 2 * 8 = 16 (" + EMPTY_F32 + ")";
        gateRejected(message, c -> {});
        gateRejected(message, c -> c.gateOut = null); // optional
    }

    @Test
    void gateScalars() {
        gateRejected("gate: tokens must be >= 0, got -1", c -> c.tokens = -1);
        gateRejected("gate: hcMult must be in [1, 64], got 0", c -> c.hcMult = 0);
        gateRejected("gate: hcMult must be in [1, 64], got 65", c -> c.hcMult = 65);
        gateRejected("gate: hiddenSize must be in [1, 65536], got 0", c -> c.hidden_ = 0);
        gateRejected("gate: hiddenSize must be in [1, 65536], got 65537", c -> c.hidden_ = 65537);
        gateRejected("gate: gateEps must be finite and > 0, got 0.0", c -> c.eps = 0f);
        gateRejected("gate: gateEps must be finite and > 0, got -1.0E-6", c -> c.eps = -1e-6f);
        gateRejected("gate: gateEps must be finite and > 0, got NaN", c -> c.eps = Float.NaN);
        gateRejected("gate: gateEps must be finite and > 0, got Infinity", c -> c.eps = Float.POSITIVE_INFINITY);
    }

    @Test
    void gateDtypes() {
        gateRejected("gate: proj must be FLOAT32 or BFLOAT16, got DeviceBuffer[0 x INT64, 0 bytes, 0x0]",
                c -> c.proj = empty(DType.INT64));
        gateRejected("gate: keyBias (proj's dtype) must be FLOAT32, got " + EMPTY_BF16, c -> c.keyBias = empty(DType.BFLOAT16));
        gateRejected("gate: valueBias (proj's dtype) must be FLOAT32, got " + EMPTY_BF16, c -> c.valueBias = empty(DType.BFLOAT16));
        gateRejected("gate: hidden (proj's dtype) must be FLOAT32, got " + EMPTY_BF16, c -> c.hidden = empty(DType.BFLOAT16));
        gateRejected("gate: keyNormWeight (proj's dtype) must be FLOAT32, got " + EMPTY_BF16, c -> c.keyNorm = empty(DType.BFLOAT16));
        gateRejected("gate: queryNormWeight (proj's dtype) must be FLOAT32, got " + EMPTY_BF16, c -> c.queryNorm = empty(DType.BFLOAT16));
        gateRejected("gate: valueOut (proj's dtype) must be FLOAT32, got " + EMPTY_BF16, c -> c.valueOut = empty(DType.BFLOAT16));
        gateRejected("gate: keyBias (proj's dtype) must be BFLOAT16, got " + EMPTY_F32, c -> c.proj = empty(DType.BFLOAT16));
        gateRejected("gate: gateOut must be FLOAT32, got " + EMPTY_BF16, c -> c.gateOut = empty(DType.BFLOAT16));
        // bf16 tensors with a FLOAT32 gateOut are right: the call gets to the weight counts.
        gateRejected("gate: keyBias has 0 elements, expected hcMult * hiddenSize = 2 * 8 = 16 (" + EMPTY_BF16 + ")", c -> {
            c.proj = empty(DType.BFLOAT16);
            c.keyBias = empty(DType.BFLOAT16);
            c.valueBias = empty(DType.BFLOAT16);
            c.hidden = empty(DType.BFLOAT16);
            c.keyNorm = empty(DType.BFLOAT16);
            c.queryNorm = empty(DType.BFLOAT16);
            c.valueOut = empty(DType.BFLOAT16);
        });
    }

    @Test
    void gateCountsAndOverflow() {
        gateRejected("gate: proj has 0 elements, expected tokens * (hcMult + 1) * hiddenSize = 3 * (2 + 1) * 8 = 72 ("
                + EMPTY_F32 + ")", c -> c.tokens = 3);
        gateRejected("gate: element count 4611686018427387903 * 3 * 8 overflows a long",
                c -> c.tokens = Long.MAX_VALUE / 2);
    }

    @Test
    void gateOutputsMustNotOverlapInputs() {
        gateRejected("gate: valueOut must not overlap hidden (valueOut " + EMPTY_F32 + ", hidden " + EMPTY_F32 + ")",
                c -> c.valueOut = c.hidden);
        gateRejected("gate: gateOut must not overlap proj (gateOut " + EMPTY_F32 + ", proj " + EMPTY_F32 + ")",
                c -> c.gateOut = c.proj);
        gateRejected("gate: gateOut must not overlap valueOut (gateOut " + EMPTY_F32 + ", valueOut " + EMPTY_F32 + ")",
                c -> c.gateOut = c.valueOut);
    }

    @Test
    void gateNullsAndClosedThings() {
        GateCall call = new GateCall();
        call.queryNorm = null;
        assertEquals("queryNormWeight", assertThrows(NullPointerException.class, call::run).getMessage());
        call = new GateCall();
        call.stream = null;
        assertEquals("stream", assertThrows(NullPointerException.class, call::run).getMessage());

        // Liveness comes before every other check: tokens = -1 is not what is reported.
        for (Consumer<GateCall> closeOne : List.<Consumer<GateCall>>of(
                c -> c.proj = closed(DType.FLOAT32), c -> c.keyNorm = closed(DType.FLOAT32),
                c -> c.valueOut = closed(DType.FLOAT32), c -> c.gateOut = closed(DType.FLOAT32))) {
            GateCall c = new GateCall();
            c.tokens = -1;
            closeOne.accept(c);
            assertThrows(IllegalStateException.class, c::run);
        }
    }

    // ---------------------------------------------------------------- short conv

    @Test
    void convUnbrokenCallReachesTheFirstWeightCount() {
        convRejected("short conv: normWeight has 0 elements, expected hcMult * hiddenSize = 2 * 8 = 16 (" + EMPTY_F32
                + ")", c -> {});
    }

    @Test
    void convScalars() {
        convRejected("short conv: batch and seqLen must be >= 0, got -1 x 0", c -> c.batch = -1);
        convRejected("short conv: batch and seqLen must be >= 0, got 2 x -1", c -> c.seqLen = -1);
        convRejected("short conv: hcMult must be in [1, 64], got 0", c -> c.hcMult = 0);
        convRejected("short conv: hcMult must be in [1, 64], got 65", c -> c.hcMult = 65);
        convRejected("short conv: hiddenSize must be in [1, 65536], got -3", c -> c.hidden = -3);
        convRejected("short conv: hiddenSize must be in [1, 65536], got 65537", c -> c.hidden = 65537);
        convRejected("short conv: kernelSize must be in [1, 16], got 0", c -> c.kernelSize = 0);
        convRejected("short conv: kernelSize must be in [1, 16], got 17", c -> c.kernelSize = 17);
        convRejected("short conv: dilation must be >= 1, got 0", c -> c.dilation = 0);
        convRejected("short conv: eps must be finite and > 0, got 0.0", c -> c.eps = 0f);
        convRejected("short conv: eps must be finite and > 0, got NaN", c -> c.eps = Float.NaN);
        convRejected("short conv: eps must be finite and > 0, got -Infinity", c -> c.eps = Float.NEGATIVE_INFINITY);
    }

    @Test
    void convDtypes() {
        convRejected("short conv: value must be FLOAT32 or BFLOAT16, got DeviceBuffer[0 x INT32, 0 bytes, 0x0]",
                c -> c.value = empty(DType.INT32));
        convRejected("short conv: normWeight (value's dtype) must be FLOAT32, got " + EMPTY_BF16,
                c -> c.normWeight = empty(DType.BFLOAT16));
        convRejected("short conv: convWeight (value's dtype) must be FLOAT32, got " + EMPTY_BF16,
                c -> c.convWeight = empty(DType.BFLOAT16));
        convRejected("short conv: out (value's dtype) must be FLOAT32, got " + EMPTY_BF16, c -> c.out = empty(DType.BFLOAT16));
        convRejected("short conv: normWeight (value's dtype) must be BFLOAT16, got " + EMPTY_F32,
                c -> c.value = empty(DType.BFLOAT16));
    }

    @Test
    void convCountsOverflowAndInPlace() {
        convRejected("short conv: value has 0 elements, expected batch * seqLen * hcMult * hiddenSize = 2 * 5 * 2 * 8"
                + " = 160 (" + EMPTY_F32 + ")", c -> c.seqLen = 5);
        convRejected("short conv: element count 2147483647 * 2147483647 * 64 * 65536 overflows a long", c -> {
            c.batch = Integer.MAX_VALUE;
            c.seqLen = Integer.MAX_VALUE;
            c.hcMult = 64;
            c.hidden = 65536;
        });
        // The same buffer as input and output, even empty; two distinct empty buffers (both NULL) are fine.
        convRejected("short conv: out must not overlap value (out " + EMPTY_F32 + ", value " + EMPTY_F32 + ")",
                c -> c.out = c.value);
    }

    @Test
    void convNullsAndClosedThings() {
        ConvCall call = new ConvCall();
        call.convWeight = null;
        assertEquals("convWeight", assertThrows(NullPointerException.class, call::run).getMessage());
        for (Consumer<ConvCall> closeOne : List.<Consumer<ConvCall>>of(
                c -> c.value = closed(DType.FLOAT32), c -> c.normWeight = closed(DType.FLOAT32),
                c -> c.convWeight = closed(DType.FLOAT32), c -> c.out = closed(DType.FLOAT32))) {
            ConvCall c = new ConvCall();
            c.dilation = 0;
            closeOne.accept(c);
            assertThrows(IllegalStateException.class, c::run);
        }
    }

    private static DeviceBuffer closed(DType dtype) {
        DeviceBuffer b = DeviceBuffer.allocate(0, dtype);
        b.close();
        return b;
    }
}
