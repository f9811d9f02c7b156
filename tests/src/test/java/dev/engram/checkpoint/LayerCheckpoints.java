package dev.engram.checkpoint;

import dev.engram.EngramConfig;
import dev.engram.cuda.BFloat16;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsWriter;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.RandomWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Small random Engram layers written as checkpoints for the library tests, dense tensors in chosen dtypes (their
 * values exact in all three, so reading them back is exact and comparable).
 */
final class LayerCheckpoints {
    static final String PREFIX = "model.layers.{layer}.engram.";

    /** Two layers, G = 2, H = 16, 3-grams, 2 heads of 8 values per order, K = 3; ids already compressed. */
    static final EngramConfig CONFIG = new EngramConfig(List.of(211L, 163L), 3, 16, 2, List.of(2, 5), 0, 7, 3, 16, 2,
            OptionalLong.of(97), EngramConfig.FLOAT32_EPS, EngramConfig.CONV_NORM_EPS);

    private LayerCheckpoints() {}

    static NgramHashMapping mapping() {
        return NgramHashMapping.forCompressedIds(CONFIG);
    }

    /**
     * Random weights of a layer with every value exact in F32, BF16 and F16 alike (rounded to bf16, values below
     * F16's normal range flushed to zero), so a tensor may be stored in any of the three and read back exactly.
     */
    static EngramWeights weights(int layerId, long seed) {
        return RandomWeights.create(CONFIG, mapping().layer(layerId), seed, 0.3).mapArrays(LayerCheckpoints::exact);
    }

    private static float[] exact(float[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            float b = BFloat16.toFloat(BFloat16.fromFloat(a[i]));
            out[i] = Math.abs(b) < 0x1p-14f ? 0f : b;
        }
        return out;
    }

    /**
     * Adds the layer through {@link LayerTensorWriter}, then overwrites the dense tensors named in {@code dtypes}
     * with copies in that dtype (the writer keeps the last of a name: here we build a fresh writer instead).
     */
    static void add(SafetensorsWriter writer, int layerId, DenseWeights dense, TableEncoding table,
                    Map<String, SafetensorsDType> dtypes, Arena arena) {
        SafetensorsWriter f32 = new SafetensorsWriter();
        String prefix = PREFIX.replace("{layer}", String.valueOf(layerId));
        LayerTensorWriter.add(f32, prefix, dense, table, TableLayout.of(CONFIG, layerId), arena);
        // Re-add every tensor of the F32 writer into the real one, converting those asked for.
        Path tmp = null;
        try {
            tmp = java.nio.file.Files.createTempFile("layer", ".safetensors");
            f32.write(tmp);
            try (dev.engram.io.SafetensorsFile f = dev.engram.io.SafetensorsFile.open(tmp)) {
                for (dev.engram.io.TensorInfo t : f.tensors()) {
                    String shortName = t.name().substring(prefix.length());
                    SafetensorsDType to = dtypes.getOrDefault(shortName, t.dtype());
                    MemorySegment data = to == t.dtype() ? copy(f.data(t.name()), arena) : convert(f.data(t.name()), to, arena);
                    writer.add(t.name(), to, t.shape(), data);
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            if (tmp != null) tmp.toFile().delete();
        }
    }

    private static MemorySegment copy(MemorySegment src, Arena arena) {
        MemorySegment out = arena.allocate(src.byteSize(), 16);
        out.copyFrom(src);
        return out;
    }

    /** F32 little-endian to BF16 or F16 (the values are exact in the target: see {@link #weights}). */
    private static MemorySegment convert(MemorySegment f32, SafetensorsDType to, Arena arena) {
        ValueLayout.OfFloat in = (ValueLayout.OfFloat) SafetensorsDType.F32.elementLayout();
        ValueLayout.OfShort out = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
        long n = f32.byteSize() / 4;
        MemorySegment dst = arena.allocate(2 * n, 16);
        for (long i = 0; i < n; i++) {
            float v = f32.getAtIndex(in, i);
            short bits = to == SafetensorsDType.BF16 ? BFloat16.fromFloat(v) : Float.floatToFloat16(v);
            if ((to == SafetensorsDType.BF16 ? BFloat16.toFloat(bits) : Float.float16ToFloat(bits)) != v) {
                throw new IllegalStateException("value " + v + " is not exact in " + to);
            }
            dst.setAtIndex(out, i, bits);
        }
        return dst;
    }
}
