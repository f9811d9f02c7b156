package dev.engram.checkpoint;

import dev.engram.cuda.BFloat16;
import dev.engram.io.SafetensorsDType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Little-endian F32, BF16 and F16 elements widened to float32, exactly (every value of the three is a float32). */
final class DenseConversion {
    private static final ValueLayout.OfFloat F32 = (ValueLayout.OfFloat) SafetensorsDType.F32.elementLayout();
    private static final ValueLayout.OfShort HALF = (ValueLayout.OfShort) SafetensorsDType.BF16.elementLayout();

    private DenseConversion() {}

    /** {@return element {@code i} of a little-endian F32, BF16 or F16 segment as a float32} */
    static float get(MemorySegment src, SafetensorsDType dtype, long i) {
        return switch (dtype) {
            case F32 -> src.get(F32, 4 * i);
            case BF16 -> BFloat16.toFloat(src.get(HALF, 2 * i));
            case F16 -> Float.float16ToFloat(src.get(HALF, 2 * i));
            default -> throw new IllegalArgumentException(dtype + " is not a float dtype this library widens");
        };
    }

    /** {@return every element of a small tensor, widened to float32} */
    static float[] toFloats(MemorySegment src, SafetensorsDType dtype) {
        float[] out = new float[Math.toIntExact(src.byteSize() / dtype.byteSize())];
        for (int i = 0; i < out.length; i++) out[i] = get(src, dtype, i);
        return out;
    }
}
