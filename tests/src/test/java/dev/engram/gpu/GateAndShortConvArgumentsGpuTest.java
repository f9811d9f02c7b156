package dev.engram.gpu;

import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.testing.DeviceMemoryReturned;
import dev.engram.testing.RequiresGpu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The checks of Gate and ShortConv that need non-empty buffers (weight counts, partial overlap, a closed
 * stream) and the no-token call that must not reach native code: with NULL per-token pointers
 * {@code engram_gate}/{@code engram_short_conv} would answer INVALID_ARGUMENT, so a quiet return proves
 * no native call was made.
 */
@RequiresGpu
@ExtendWith(DeviceMemoryReturned.class)
class GateAndShortConvArgumentsGpuTest {
    private static final int G = 2, H = 8, TOKENS = 3, K = 4;

    private final List<DeviceBuffer> owned = new ArrayList<>();
    @AfterEach
    void free() { // runs before DeviceMemoryReturned checks the live bytes
        owned.forEach(DeviceBuffer::close);
    }

    private DeviceBuffer f32(long n) {
        DeviceBuffer b = DeviceBuffer.allocate(n, DType.FLOAT32);
        owned.add(b);
        return b;
    }

    /** A gate call whose buffers all have the right sizes (a valid launch, never run here). */
    private final class GateCall {
        DeviceArray proj = f32(TOKENS * (G + 1) * H), keyBias = f32(G * H), valueBias = f32(H);
        DeviceArray hidden = f32(TOKENS * G * H), keyNorm = f32(G * H), queryNorm = f32(G * H);
        DeviceArray valueOut = f32(TOKENS * G * H), gateOut = f32(TOKENS * G);
        long tokens = TOKENS;
        CudaStream stream = CudaStream.legacyDefault();

        void run() {
            Gate.launch().projections(proj).keyBias(keyBias).valueBias(valueBias).hidden(hidden).keyNormWeight(keyNorm)
                    .queryNormWeight(queryNorm).eps(0x1p-23f).tokens(tokens).branches(G, H).valueOut(valueOut)
                    .gateOut(gateOut).enqueue(stream);
        }
    }

    private final class ConvCall {
        DeviceArray value = f32(TOKENS * G * H), normWeight = f32(G * H), convWeight = f32(G * H * K);
        DeviceArray out = f32(TOKENS * G * H);
        int batch = 1, seqLen = TOKENS;

        void run() {
            ShortConv.launch().value(value).normWeight(normWeight).convWeight(convWeight).eps(1e-5f)
                    .tokens(batch, seqLen).branches(G, H).kernel(K, 3).out(out).enqueue(CudaStream.legacyDefault());
        }
    }

    private void gateRejected(String messageStart, Consumer<GateCall> breakIt) {
        GateCall call = new GateCall();
        breakIt.accept(call);
        String m = assertThrows(IllegalArgumentException.class, call::run).getMessage();
        assertEquals(messageStart, m.substring(0, Math.min(m.length(), messageStart.length())), m);
    }

    private void convRejected(String messageStart, Consumer<ConvCall> breakIt) {
        ConvCall call = new ConvCall();
        breakIt.accept(call);
        String m = assertThrows(IllegalArgumentException.class, call::run).getMessage();
        assertEquals(messageStart, m.substring(0, Math.min(m.length(), messageStart.length())), m);
    }

    @Test
    void gateCountsOfEveryTensor() {
        gateRejected("gate: proj has 73 elements, expected tokens * (hcMult + 1) * hiddenSize = 3 * (2 + 1) * 8 = 72 (",
                c -> c.proj = f32(73));
        gateRejected("gate: hidden has 47 elements, expected tokens * hcMult * hiddenSize = 3 * 2 * 8 = 48 (",
                c -> c.hidden = f32(47));
        gateRejected("gate: valueOut has 49 elements, expected tokens * hcMult * hiddenSize = 3 * 2 * 8 = 48 (",
                c -> c.valueOut = f32(49));
        gateRejected("gate: gateOut has 5 elements, expected tokens * hcMult = 3 * 2 = 6 (", c -> c.gateOut = f32(5));
        gateRejected("gate: keyBias has 8 elements, expected hcMult * hiddenSize = 2 * 8 = 16 (", c -> c.keyBias = f32(8));
        gateRejected("gate: valueBias has 16 elements, expected hiddenSize = 8 (", c -> c.valueBias = f32(16));
        gateRejected("gate: keyNormWeight has 15 elements, expected hcMult * hiddenSize = 2 * 8 = 16 (",
                c -> c.keyNorm = f32(15));
        gateRejected("gate: queryNormWeight has 17 elements, expected hcMult * hiddenSize = 2 * 8 = 16 (",
                c -> c.queryNorm = f32(17));
    }

    @Test
    void gatePartialOverlapAndClosedStream() {
        DeviceBuffer big = f32(200);
        gateRejected("gate: valueOut must not overlap hidden (", c -> {
            c.hidden = big.slice(0, TOKENS * G * H);
            c.valueOut = big.slice(TOKENS * G * H - 1, TOKENS * G * H);
        });
        gateRejected("gate: gateOut must not overlap queryNormWeight (", c -> {
            c.queryNorm = big.slice(10, G * H);
            c.gateOut = big.slice(20, TOKENS * G);
        });
        // Touching is not overlapping: this launches (on whatever the buffers hold) and must succeed.
        GateCall adjacent = new GateCall();
        adjacent.hidden = big.slice(0, TOKENS * G * H);
        adjacent.valueOut = big.slice(TOKENS * G * H, TOKENS * G * H);
        adjacent.run();
        Cuda.deviceSynchronize();

        GateCall closedStream = new GateCall();
        CudaStream stream = CudaStream.create();
        stream.close();
        closedStream.stream = stream;
        assertThrows(IllegalStateException.class, closedStream::run);
    }

    @Test
    void gateWithoutTokensMakesNoNativeCall() {
        GateCall call = new GateCall();
        call.tokens = 0;
        call.proj = f32(0);
        call.hidden = f32(0);
        call.valueOut = f32(0);
        call.gateOut = null;
        call.run();
    }

    @Test
    void convCountsOfEveryTensor() {
        convRejected("short conv: value has 40 elements, expected batch * seqLen * hcMult * hiddenSize = 1 * 3 * 2 * 8 = 48 (",
                c -> c.value = f32(40));
        convRejected("short conv: out has 56 elements, expected batch * seqLen * hcMult * hiddenSize = 1 * 3 * 2 * 8 = 48 (",
                c -> c.out = f32(56));
        convRejected("short conv: normWeight has 8 elements, expected hcMult * hiddenSize = 2 * 8 = 16 (",
                c -> c.normWeight = f32(8));
        convRejected("short conv: convWeight has 16 elements, expected hcMult * hiddenSize * kernelSize = 2 * 8 * 4 = 64 (",
                c -> c.convWeight = f32(16));
    }

    @Test
    void convPartialOverlap() {
        DeviceBuffer big = f32(200);
        convRejected("short conv: out must not overlap value (", c -> c.out = c.value.slice(0, TOKENS * G * H));
        convRejected("short conv: out must not overlap value (", c -> {
            c.value = big.slice(0, TOKENS * G * H);
            c.out = big.slice(8, TOKENS * G * H);
        });
        convRejected("short conv: out must not overlap convWeight (", c -> {
            c.convWeight = big.slice(0, G * H * K);
            c.out = big.slice(G * H * K - 1, TOKENS * G * H);
        });
    }

    @Test
    void convWithoutTokensMakesNoNativeCall() {
        ConvCall call = new ConvCall();
        call.seqLen = 0;
        call.value = f32(0);
        call.out = f32(0);
        call.run();
        call.batch = 0;
        call.seqLen = 7;
        call.run();
    }
}
