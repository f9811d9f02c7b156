package dev.engram.gpu;

import dev.engram.cuda.BFloat16;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;

import dev.engram.cuda.DeviceBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Float tensors on the device in FLOAT32 or BFLOAT16 storage for the GPU tests: random values already
 * rounded to the storage dtype (so the CPU reference sees exactly what the device holds), uploads,
 * NaN poisoning and read-back as double.
 */
final class DeviceTensors {
    private DeviceTensors() {}

    /** {@code x} rounded to {@code dtype} (bf16: round to nearest even), as a float. */
    static float rounded(float x, DType dtype) {
        return dtype == DType.BFLOAT16 ? BFloat16.toFloat(BFloat16.fromFloat(x)) : x;
    }

    /** {@code n} values U(lo, hi), each exactly representable in {@code dtype}. */
    static float[] uniform(SplittableRandom r, int n, double lo, double hi, DType dtype) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rounded((float) r.nextDouble(lo, hi), dtype);
        return a;
    }

    /** Copies {@code values} (exactly representable in the array's dtype) into {@code dst}. */
    static void upload(DeviceArray dst, float[] values) {
        if (dst.dtype() == DType.BFLOAT16) {
            dst.copyFrom(BFloat16.fromFloats(values));
        } else {
            dst.copyFrom(values);
        }
    }

    /** Fills {@code dst} with 0xFF bytes: a NaN in FLOAT32 and in BFLOAT16, so unwritten elements show. */
    static void poison(DeviceArray dst) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ff = arena.allocate(Math.max(1, dst.byteSize()));
            ff.fill((byte) 0xFF);
            dst.copyFrom(ff.asSlice(0, dst.byteSize()));
        }
    }

    /** The device values, widened exactly to double. */
    static double[] download(DeviceArray src) {
        int n = Math.toIntExact(src.elementCount());
        double[] out = new double[n];
        if (src.dtype() == DType.BFLOAT16) {
            short[] s = new short[n];
            src.copyTo(s);
            for (int i = 0; i < n; i++) out[i] = BFloat16.toFloat(s[i]);
        } else {
            float[] f = new float[n];
            src.copyTo(f);
            for (int i = 0; i < n; i++) out[i] = f[i];
        }
        return out;
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /**
     * Owns the buffers of one launch. Every tensor sits {@code offset} elements into its own buffer: 0 gives
     * the allocation's 256-byte alignment (the kernels' 16-byte path), 1 an address aligned only to the
     * element size (their element-by-element path).
     */
    static final class Scope implements AutoCloseable {
        private final List<DeviceBuffer> owned = new ArrayList<>();
        private final int offset;

        Scope(int offset) {
            this.offset = offset;
        }

        /** A device tensor holding {@code values}. */
        DeviceArray upload(float[] values, DType dtype) {
            DeviceArray a = allocate(values.length, dtype);
            DeviceTensors.upload(a, values);
            return a;
        }

        /** A device tensor of {@code n} NaNs. */
        DeviceArray poisoned(long n, DType dtype) {
            DeviceArray a = allocate(n, dtype);
            poison(a);
            return a;
        }

        private DeviceArray allocate(long n, DType dtype) {
            DeviceBuffer b = DeviceBuffer.allocate(n + offset, dtype);
            owned.add(b);
            return offset == 0 ? b : b.slice(offset, n);
        }

        @Override
        public void close() {
            owned.forEach(DeviceBuffer::close);
        }
    }
}
