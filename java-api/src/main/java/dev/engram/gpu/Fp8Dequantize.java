package dev.engram.gpu;

import dev.engram.bindings.engram_h;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.nativelib.EngramNative;
import dev.engram.nativelib.NativeLibraryLoader;

import java.util.Objects;

import static dev.engram.gpu.ArgumentChecks.nativeDtype;
import static dev.engram.gpu.ArgumentChecks.product;
import static dev.engram.gpu.ArgumentChecks.requireCount;
import static dev.engram.gpu.ArgumentChecks.requireDevice;
import static dev.engram.gpu.ArgumentChecks.requireDtype;
import static dev.engram.gpu.ArgumentChecks.requireFloatDtype;
import static dev.engram.gpu.ArgumentChecks.requireNoOverlap;
import static dev.engram.gpu.ArgumentChecks.requireRange;

/**
 * Dequantizes rows of fp8 codes on the GPU ({@code engram_fp8_dequantize_rows}, {@code kernels/fp8_dequantize.cu}):
 * E4M3 codes {@code [rows, headDim]} with one E8M0 scale per block of {@code scaleBlock} values of a row,
 * {@code [rows, headDim / scaleBlock]}, into FLOAT32 or BFLOAT16 rows (SEMANTICS.md 9):
 * <pre>
 *   out[r, c] = e4m3(codes[r, c]) * 2^(scales[r, c / scaleBlock] - 127)
 * </pre>
 * exact in float32, rounded to nearest even for BFLOAT16, NaN codes and scale bytes 255 the canonical NaN: the bits
 * {@link HashedGather}'s fp8 gather gives the same table rows. The fp8 {@link HostTableLayer} runs it on the code and
 * scale rows its CPU gather copied to the device.
 */
public final class Fp8Dequantize {
    private static final String OP = "fp8 dequantize";
    private static final int MAX_HEAD_DIM = 65536;

    private Fp8Dequantize() {}

    /**
     * Checks every argument in Java, then queues the dequantization on {@code stream}. Never allocates device memory
     * and never synchronizes; with no rows nothing is queued (no native call).
     *
     * @param codes      {@code [rows, headDim]} {@link DType#FP8_E4M3} codes, row-major; {@code rows} is its element
     *                   count over {@code headDim}
     * @param scales     {@code [rows, headDim / scaleBlock]} {@link DType#FP8_E8M0} scales, row-major
     * @param headDim    values per row, in {@code [1, 65536]}
     * @param scaleBlock consecutive values of a row per scale, {@code >= 1}, dividing {@code headDim}
     * @param out        {@code [rows, headDim]} FLOAT32 or BFLOAT16, not overlapping the inputs
     * @param stream     the stream to queue on
     * @throws IllegalArgumentException naming the problem, for a wrong dtype, count, block or device, or overlapping
     *                                  memory
     * @throws IllegalStateException    when a buffer or the stream is closed
     * @throws dev.engram.cuda.CudaException        when the launch fails (a CUDA error, e.g. one left pending)
     * @throws dev.engram.EngramNativeException when libengram rejects an argument the Java checks let through
     */
    public static void enqueue(DeviceArray codes, DeviceArray scales, int headDim, int scaleBlock, DeviceArray out,
                               CudaStream stream) {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(scales, "scales");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(stream, "stream");
        codes.address(); // liveness first: a closed buffer or stream is an IllegalStateException whatever else is wrong
        scales.address();
        out.address();
        stream.handle();

        requireDtype(OP, codes, DType.FP8_E4M3, "codes");
        requireDtype(OP, scales, DType.FP8_E8M0, "scales");
        DType outDtype = requireFloatDtype(OP, out, "out");
        requireRange(OP, "headDim", headDim, 1, MAX_HEAD_DIM);
        if (scaleBlock < 1 || headDim % scaleBlock != 0) {
            throw new IllegalArgumentException(OP + ": scaleBlock must be >= 1 and divide headDim " + headDim + ", got "
                    + scaleBlock);
        }
        if (codes.elementCount() % headDim != 0) {
            throw new IllegalArgumentException(OP + ": codes has " + codes.elementCount() + " elements, not a whole number"
                    + " of rows of headDim " + headDim + " (" + codes + ")");
        }
        long rows = codes.elementCount() / headDim;
        requireCount(OP, scales, product(OP, rows, headDim / scaleBlock), "scales",
                "rows * (headDim / scaleBlock) = " + rows + " * (" + headDim + " / " + scaleBlock + ")");
        requireCount(OP, out, codes.elementCount(), "out", "rows * headDim = " + rows + " * " + headDim);
        if (rows == 0) return; // zero-element buffers have NULL addresses; the C ABI would launch nothing anyway
        requireNoOverlap(OP, out, "out", codes, "codes");
        requireNoOverlap(OP, out, "out", scales, "scales");
        requireDevice(OP, -1, "the current device is", stream, "codes", codes, "scales", scales, "out", out);
        NativeLibraryLoader.require();
        int status = engram_h.engram_fp8_dequantize_rows(codes.address(), scales.address(), rows, headDim, scaleBlock,
                nativeDtype(outDtype), out.address(), stream.handle());
        EngramNative.check("engram_fp8_dequantize_rows", status);
    }
}
