package dev.engram.gpu;

import dev.engram.bindings.engram_h;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceScope;

/**
 * The Java-side argument checks shared by the kernel launchers of this package. Every message starts
 * with the operation's name ({@code "gate: ..."}) and names the argument; element-count messages spell
 * out the shape formula with its values, so a wrong buffer says which dimension is off.
 */
final class ArgumentChecks {
    /** Limits of {@code engram.h}: {@code hc_mult} in [1, 64], {@code hidden} in [1, 65536], kernel size in [1, 16]. */
    static final int MAX_HC_MULT = 64;
    static final int MAX_HIDDEN_SIZE = 65536;
    static final int MAX_KERNEL_SIZE = 16;

    private ArgumentChecks() {}

    /**
     * That a launch's stream and memory belong to the device it runs on: {@code device}, or the current device when
     * {@code device} is negative. Arrays of {@link DeviceArray#ANY_DEVICE} (empty, mapped host memory) and the legacy
     * default stream fit every device. {@code named} alternates names and arrays; null arrays are skipped.
     *
     * @return the device checked against
     */
    static int requireDevice(String op, int device, String where, CudaStream stream, Object... named) {
        int d = device >= 0 ? device : DeviceScope.currentDevice();
        if (stream.device() != CudaStream.CURRENT_DEVICE && stream.device() != d) {
            throw new IllegalArgumentException(op + ": " + stream + " belongs to device " + stream.device() + ", " + where
                    + " device " + d);
        }
        for (int i = 0; i < named.length; i += 2) {
            DeviceArray a = (DeviceArray) named[i + 1];
            if (a != null && a.device() != DeviceArray.ANY_DEVICE && a.device() != d) {
                throw new IllegalArgumentException(op + ": " + named[i] + " " + a + " is memory of device " + a.device()
                        + ", " + where + " device " + d);
            }
        }
        return d;
    }

    static void requireDtype(String op, DeviceArray a, DType expected, String what) {
        if (a.dtype() != expected) {
            throw new IllegalArgumentException(op + ": " + what + " must be " + expected + ", got " + a);
        }
    }

    /** {@return {@code a}'s dtype, which must be FLOAT32 or BFLOAT16 (the storage dtypes of the kernels)} */
    static DType requireFloatDtype(String op, DeviceArray a, String what) {
        DType dtype = a.dtype();
        if (dtype != DType.FLOAT32 && dtype != DType.BFLOAT16) {
            throw new IllegalArgumentException(op + ": " + what + " must be FLOAT32 or BFLOAT16, got " + a);
        }
        return dtype;
    }

    /** {@code formula} is the shape with its values, e.g. {@code "batch * seqLen = 3 * 5"}. */
    static void requireCount(String op, DeviceArray a, long expected, String what, String formula) {
        if (a.elementCount() != expected) {
            throw new IllegalArgumentException(op + ": " + what + " has " + a.elementCount()
                    + " elements, expected " + formula + " = " + expected + " (" + a + ")");
        }
    }

    /** "NAME must be in [LO, HI], got VALUE", as the C checks say it. */
    static void requireRange(String op, String name, long value, long lo, long hi) {
        if (value < lo || value > hi) {
            throw new IllegalArgumentException(op + ": " + name + " must be in [" + lo + ", " + hi + "], got " + value);
        }
    }

    static void requirePositiveFinite(String op, String name, float value) {
        if (!(Float.isFinite(value) && value > 0)) {
            throw new IllegalArgumentException(op + ": " + name + " must be finite and > 0, got " + value);
        }
    }

    /**
     * Rejects an output whose device memory overlaps an input's: the kernels read their inputs through the
     * read-only cache ({@code __restrict__}), so writing over them is undefined. The same object counts as
     * overlapping even when empty (both addresses are NULL then, and it is a mistake at any size).
     */
    static void requireNoOverlap(String op, DeviceArray out, String outName, DeviceArray in, String inName) {
        if (overlaps(out, in)) {
            throw new IllegalArgumentException(op + ": " + outName + " must not overlap " + inName + " (" + outName
                    + " " + out + ", " + inName + " " + in + ")");
        }
    }

    /** The gate's parameters: key bias and both norm weights {@code [G*H]}, value bias {@code [H]}. */
    static void requireGateWeights(String op, DeviceArray keyBias, DeviceArray valueBias, DeviceArray keyNormWeight,
                                   DeviceArray queryNormWeight, int hcMult, int hiddenSize) {
        long weights = (long) hcMult * hiddenSize;
        String weightFormula = "hcMult * hiddenSize = " + hcMult + " * " + hiddenSize;
        requireCount(op, keyBias, weights, "keyBias", weightFormula);
        requireCount(op, valueBias, hiddenSize, "valueBias", "hiddenSize");
        requireCount(op, keyNormWeight, weights, "keyNormWeight", weightFormula);
        requireCount(op, queryNormWeight, weights, "queryNormWeight", weightFormula);
    }

    /** {@return whether two arrays share device bytes (the same object always counts, even empty)} */
    static boolean overlaps(DeviceArray a, DeviceArray b) {
        long x = a.address().address(), y = b.address().address();
        return a == b || (a.byteSize() > 0 && b.byteSize() > 0 && x < y + b.byteSize() && y < x + a.byteSize());
    }

    /**
     * The gate kernels' outputs: {@code out} must not overlap any input, and {@code gateOut} (may be null) neither
     * an input nor {@code out}.
     */
    static void requireOutputsApart(String op, DeviceArray out, String outName, DeviceArray gateOut,
                                    DeviceArray[] inputs, String[] inputNames) {
        for (int k = 0; k < inputs.length; k++) requireNoOverlap(op, out, outName, inputs[k], inputNames[k]);
        if (gateOut != null) {
            for (int k = 0; k < inputs.length; k++) requireNoOverlap(op, gateOut, "gateOut", inputs[k], inputNames[k]);
            requireNoOverlap(op, gateOut, "gateOut", out, outName);
        }
    }

    /**
     * {@return the product of {@code factors}}
     * @throws IllegalArgumentException naming the factors when the product overflows a long
     */
    static long product(String op, long... factors) {
        long p = 1;
        try {
            for (long f : factors) p = Math.multiplyExact(p, f);
            return p;
        } catch (ArithmeticException e) {
            StringBuilder s = new StringBuilder();
            for (long f : factors) s.append(s.isEmpty() ? "" : " * ").append(f);
            throw new IllegalArgumentException(op + ": element count " + s + " overflows a long");
        }
    }

    /** {@return the {@code ENGRAM_DTYPE_*} code of a storage dtype} (load the library first) */
    static int nativeDtype(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> engram_h.ENGRAM_DTYPE_FLOAT32();
            case BFLOAT16 -> engram_h.ENGRAM_DTYPE_BFLOAT16();
            default -> throw new IllegalArgumentException("no ENGRAM_DTYPE for " + dtype);
        };
    }
}
