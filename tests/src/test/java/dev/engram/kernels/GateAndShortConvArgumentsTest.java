package dev.engram.kernels;

import dev.engram.bindings.engram_h;
import dev.engram.nativelib.NativeLibraryLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * engram_gate, engram_short_conv and engram_gate_short_conv check every argument on the host before any CUDA call, so these
 * run without GPU, driver or nvcc: each bad argument gives ENGRAM_STATUS_INVALID_ARGUMENT and the
 * exact last-error text. Host segments stand in for device pointers; nothing is launched with bad
 * arguments, so they are never touched. Empty inputs succeed without a launch in a CUDA build (and
 * say NOT_BUILT_WITH_CUDA without one); valid non-empty inputs would launch and are not run here.
 */
class GateAndShortConvArgumentsTest {
    private static final int F32 = 0, BF16 = 1;
    private static final int G = 2, H = 8;
    private static final long N = 6;

    @BeforeAll
    static void load() {
        NativeLibraryLoader.require();
    }

    private static final class Gate {
        MemorySegment proj, kb, vb, hidden, kw, qw, vout, gout;
        float eps = 1.1920929e-7f;
        long tokens = N;
        int hcMult = G, hidden_ = H, dtype = F32;

        Gate(Arena a) {
            proj = a.allocate(N * (G + 1) * H * 4, 16);
            kb = a.allocate(G * H * 4, 16);
            vb = a.allocate(H * 4, 16);
            hidden = a.allocate(N * G * H * 4, 16);
            kw = a.allocate(G * H * 4, 16);
            qw = a.allocate(G * H * 4, 16);
            vout = a.allocate(N * G * H * 4, 16);
            gout = a.allocate(N * G * 4, 16);
        }

        int run() {
            return engram_h.engram_gate(proj, kb, vb, hidden, kw, qw, eps, tokens, hcMult, hidden_, dtype, vout, gout,
                    MemorySegment.NULL);
        }
    }

    private static final class Conv {
        MemorySegment value, normW, convW, out;
        float eps = 1e-5f;
        long batch = 2, seqLen = 3;
        int hcMult = G, hidden = H, kernelSize = 4, dilation = 3, dtype = F32;

        Conv(Arena a) {
            value = a.allocate(2 * 3 * G * H * 4, 16);
            normW = a.allocate(G * H * 4, 16);
            convW = a.allocate(G * H * 4 * 4, 16);
            out = a.allocate(2 * 3 * G * H * 4, 16);
        }

        int run() {
            return engram_h.engram_short_conv(value, normW, convW, eps, batch, seqLen, hcMult, hidden, kernelSize,
                    dilation, dtype, out, MemorySegment.NULL);
        }
    }

    private static final class Fused {
        MemorySegment proj, kb, vb, hidden, kw, qw, normW, convW, out, gout;
        float gateEps = 1.1920929e-7f, convEps = 1e-5f;
        long batch = 2, seqLen = 3;
        int hcMult = G, hidden_ = H, kernelSize = 4, dilation = 3, dtype = F32;

        Fused(Arena a) {
            proj = a.allocate(N * (G + 1) * H * 4, 16);
            kb = a.allocate(G * H * 4, 16);
            vb = a.allocate(H * 4, 16);
            hidden = a.allocate(N * G * H * 4, 16);
            kw = a.allocate(G * H * 4, 16);
            qw = a.allocate(G * H * 4, 16);
            normW = a.allocate(G * H * 4, 16);
            convW = a.allocate(G * H * 4 * 4, 16);
            out = a.allocate(N * G * H * 4, 16);
            gout = a.allocate(N * G * 4, 16);
        }

        int run() {
            return engram_h.engram_gate_short_conv(proj, kb, vb, hidden, kw, qw, gateEps, normW, convW, convEps, batch,
                    seqLen, hcMult, hidden_, kernelSize, dilation, dtype, out, gout, MemorySegment.NULL);
        }
    }

    private static void fusedInvalid(String lastError, Consumer<Fused> breakIt) {
        try (Arena arena = Arena.ofConfined()) {
            Fused call = new Fused(arena);
            breakIt.accept(call);
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), call.run(), lastError);
            assertEquals(lastError, engram_h.engram_last_error().getString(0));
        }
    }

    private static void gateInvalid(String lastError, Consumer<Gate> breakIt) {
        try (Arena arena = Arena.ofConfined()) {
            Gate call = new Gate(arena);
            breakIt.accept(call);
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), call.run(), lastError);
            assertEquals(lastError, engram_h.engram_last_error().getString(0));
        }
    }

    private static void convInvalid(String lastError, Consumer<Conv> breakIt) {
        try (Arena arena = Arena.ofConfined()) {
            Conv call = new Conv(arena);
            breakIt.accept(call);
            assertEquals(engram_h.ENGRAM_STATUS_INVALID_ARGUMENT(), call.run(), lastError);
            assertEquals(lastError, engram_h.engram_last_error().getString(0));
        }
    }

    /** Success with nothing launched in a CUDA build; NOT_BUILT_WITH_CUDA after the check without one. */
    private static int expectedForValidEmptyCall() {
        return engram_h.engram_built_with_cuda() == 1 ? engram_h.ENGRAM_STATUS_SUCCESS()
                : engram_h.ENGRAM_STATUS_NOT_BUILT_WITH_CUDA();
    }

    @Test
    void gateNullPointers() {
        gateInvalid("engram_gate: null d_proj", c -> c.proj = MemorySegment.NULL);
        gateInvalid("engram_gate: null d_key_bias", c -> c.kb = MemorySegment.NULL);
        gateInvalid("engram_gate: null d_value_bias", c -> c.vb = MemorySegment.NULL);
        gateInvalid("engram_gate: null d_hidden", c -> c.hidden = MemorySegment.NULL);
        gateInvalid("engram_gate: null d_key_norm_w", c -> c.kw = MemorySegment.NULL);
        gateInvalid("engram_gate: null d_query_norm_w", c -> c.qw = MemorySegment.NULL);
        gateInvalid("engram_gate: null d_value_out", c -> c.vout = MemorySegment.NULL);
    }

    @Test
    void gateSizesDtypeEpsAlignment() {
        gateInvalid("engram_gate: tokens must be >= 0, got -1", c -> c.tokens = -1);
        gateInvalid("engram_gate: hc_mult must be in [1, 64], got 0", c -> c.hcMult = 0);
        gateInvalid("engram_gate: hc_mult must be in [1, 64], got 65", c -> c.hcMult = 65);
        gateInvalid("engram_gate: hidden must be in [1, 65536], got 0", c -> c.hidden_ = 0);
        gateInvalid("engram_gate: hidden must be in [1, 65536], got 65537", c -> c.hidden_ = 65537);
        gateInvalid("engram_gate: unknown dtype 3 (ENGRAM_DTYPE_FLOAT32 = 0, ENGRAM_DTYPE_BFLOAT16 = 1)",
                c -> c.dtype = 3);
        gateInvalid("engram_gate: gate_eps must be finite and > 0", c -> c.eps = 0f);
        gateInvalid("engram_gate: gate_eps must be finite and > 0", c -> c.eps = -1e-6f);
        gateInvalid("engram_gate: gate_eps must be finite and > 0", c -> c.eps = Float.NaN);
        gateInvalid("engram_gate: gate_eps must be finite and > 0", c -> c.eps = Float.POSITIVE_INFINITY);
        gateInvalid("engram_gate: tensor pointers must be aligned to the dtype's 4-byte elements",
                c -> c.hidden = c.hidden.asSlice(2));
        gateInvalid("engram_gate: tensor pointers must be aligned to the dtype's 2-byte elements", c -> {
            c.dtype = BF16;
            c.vout = c.vout.asSlice(1);
        });
        gateInvalid("engram_gate: d_gate_out must be 4-byte aligned", c -> c.gout = c.gout.asSlice(2));
        gateInvalid("engram_gate: tokens * (hc_mult + 1) * hidden bytes overflows int64",
                c -> c.tokens = Long.MAX_VALUE / 8);
    }

    @Test
    void gateWithoutTokensLaunchesNothing() {
        try (Arena arena = Arena.ofConfined()) {
            Gate call = new Gate(arena);
            call.tokens = 0;
            call.gout = MemorySegment.NULL;  // optional
            assertEquals(expectedForValidEmptyCall(), call.run(), () -> engram_h.engram_last_error().getString(0));
        }
    }

    @Test
    void shortConvNullPointersAndInPlace() {
        convInvalid("engram_short_conv: null d_value", c -> c.value = MemorySegment.NULL);
        convInvalid("engram_short_conv: null d_norm_w", c -> c.normW = MemorySegment.NULL);
        convInvalid("engram_short_conv: null d_conv_w", c -> c.convW = MemorySegment.NULL);
        convInvalid("engram_short_conv: null d_out", c -> c.out = MemorySegment.NULL);
        convInvalid("engram_short_conv: d_out must not be d_value (the conv reads neighbouring time steps)",
                c -> c.out = c.value);
    }

    @Test
    void shortConvSizesDtypeEpsAlignment() {
        convInvalid("engram_short_conv: batch and seq_len must be >= 0", c -> c.batch = -1);
        convInvalid("engram_short_conv: batch and seq_len must be >= 0", c -> c.seqLen = -1);
        convInvalid("engram_short_conv: hc_mult must be in [1, 64], got 0", c -> c.hcMult = 0);
        convInvalid("engram_short_conv: hidden must be in [1, 65536], got -3", c -> c.hidden = -3);
        convInvalid("engram_short_conv: kernel_size must be in [1, 16], got 0", c -> c.kernelSize = 0);
        convInvalid("engram_short_conv: kernel_size must be in [1, 16], got 17", c -> c.kernelSize = 17);
        convInvalid("engram_short_conv: dilation must be >= 1, got 0", c -> c.dilation = 0);
        convInvalid("engram_short_conv: unknown dtype -1 (ENGRAM_DTYPE_FLOAT32 = 0, ENGRAM_DTYPE_BFLOAT16 = 1)",
                c -> c.dtype = -1);
        convInvalid("engram_short_conv: eps must be finite and > 0", c -> c.eps = 0f);
        convInvalid("engram_short_conv: eps must be finite and > 0", c -> c.eps = Float.NaN);
        convInvalid("engram_short_conv: tensor pointers must be aligned to the dtype's 4-byte elements",
                c -> c.convW = c.convW.asSlice(2));
        convInvalid("engram_short_conv: batch * seq_len overflows int64", c -> {
            c.batch = Long.MAX_VALUE / 2;
            c.seqLen = 3;
        });
        convInvalid("engram_short_conv: batch * seq_len * hc_mult * hidden bytes overflows int64", c -> {
            c.batch = Long.MAX_VALUE / 32;  // 64 bytes per token
            c.seqLen = 1;
        });
    }

    @Test
    void shortConvWithoutTokensLaunchesNothing() {
        try (Arena arena = Arena.ofConfined()) {
            Conv call = new Conv(arena);
            call.seqLen = 0;
            assertEquals(expectedForValidEmptyCall(), call.run(), () -> engram_h.engram_last_error().getString(0));
        }
    }

    @Test
    void gateShortConvNullPointersAndAliasing() {
        String f = "engram_gate_short_conv: ";
        fusedInvalid(f + "null d_proj", c -> c.proj = MemorySegment.NULL);
        fusedInvalid(f + "null d_key_bias", c -> c.kb = MemorySegment.NULL);
        fusedInvalid(f + "null d_value_bias", c -> c.vb = MemorySegment.NULL);
        fusedInvalid(f + "null d_hidden", c -> c.hidden = MemorySegment.NULL);
        fusedInvalid(f + "null d_key_norm_w", c -> c.kw = MemorySegment.NULL);
        fusedInvalid(f + "null d_query_norm_w", c -> c.qw = MemorySegment.NULL);
        fusedInvalid(f + "null d_conv_norm_w", c -> c.normW = MemorySegment.NULL);
        fusedInvalid(f + "null d_conv_w", c -> c.convW = MemorySegment.NULL);
        fusedInvalid(f + "null d_out", c -> c.out = MemorySegment.NULL);
        fusedInvalid(f + "d_out must not be d_proj (the conv reads neighbouring time steps)", c -> c.out = c.proj);
        fusedInvalid(f + "d_out must not be d_hidden (the conv reads neighbouring time steps)",
                c -> c.out = c.hidden);
    }

    @Test
    void gateShortConvSizesDtypeEpsAlignment() {
        String f = "engram_gate_short_conv: ";
        fusedInvalid(f + "batch and seq_len must be >= 0", c -> c.batch = -1);
        fusedInvalid(f + "batch and seq_len must be >= 0", c -> c.seqLen = -1);
        fusedInvalid(f + "hc_mult must be in [1, 64], got 0", c -> c.hcMult = 0);
        fusedInvalid(f + "hc_mult must be in [1, 64], got 65", c -> c.hcMult = 65);
        fusedInvalid(f + "hidden must be in [1, 65536], got 0", c -> c.hidden_ = 0);
        fusedInvalid(f + "hidden must be in [1, 65536], got 65537", c -> c.hidden_ = 65537);
        fusedInvalid(f + "kernel_size must be in [1, 16], got 0", c -> c.kernelSize = 0);
        fusedInvalid(f + "kernel_size must be in [1, 16], got 17", c -> c.kernelSize = 17);
        fusedInvalid(f + "dilation must be >= 1, got 0", c -> c.dilation = 0);
        fusedInvalid(f + "unknown dtype 3 (ENGRAM_DTYPE_FLOAT32 = 0, ENGRAM_DTYPE_BFLOAT16 = 1)", c -> c.dtype = 3);
        fusedInvalid(f + "gate_eps must be finite and > 0", c -> c.gateEps = 0f);
        fusedInvalid(f + "gate_eps must be finite and > 0", c -> c.gateEps = Float.NaN);
        fusedInvalid(f + "conv_eps must be finite and > 0", c -> c.convEps = -1e-5f);
        fusedInvalid(f + "conv_eps must be finite and > 0", c -> c.convEps = Float.POSITIVE_INFINITY);
        fusedInvalid(f + "tensor pointers must be aligned to the dtype's 4-byte elements",
                c -> c.convW = c.convW.asSlice(2));
        fusedInvalid(f + "tensor pointers must be aligned to the dtype's 2-byte elements", c -> {
            c.dtype = BF16;
            c.normW = c.normW.asSlice(1);
        });
        fusedInvalid(f + "d_gate_out must be 4-byte aligned", c -> c.gout = c.gout.asSlice(2));
        fusedInvalid(f + "batch * seq_len overflows int64", c -> {
            c.batch = Long.MAX_VALUE / 2;
            c.seqLen = 3;
        });
        fusedInvalid(f + "batch * seq_len * (hc_mult + 1) * hidden bytes overflows int64", c -> {
            c.batch = Long.MAX_VALUE / 32;  // 96 bytes per token
            c.seqLen = 1;
        });
    }

    @Test
    void gateShortConvWithoutTokensLaunchesNothing() {
        try (Arena arena = Arena.ofConfined()) {
            Fused call = new Fused(arena);
            call.batch = 0;
            call.gout = MemorySegment.NULL;  // optional
            assertEquals(expectedForValidEmptyCall(), call.run(), () -> engram_h.engram_last_error().getString(0));
        }
    }
}
