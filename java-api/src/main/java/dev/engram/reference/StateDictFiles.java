package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.LayerHashing;
import dev.engram.io.LittleEndianFiles;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Loads one layer's weights from a directory of raw float32 files named after the reference's
 * state_dict ({@code <name>.f32.bin}, e.g. {@code key_projs.0.weight.f32.bin}), the layout the golden
 * vectors use and that {@code tensor.float().numpy().tofile()} writes. Sizes are checked against the
 * config; a {@code multi_head_embedding.offsets.i64.bin} file, when present, must equal the offsets
 * this library derives (a mismatch means the weights belong to another config or layer).
 */
public final class StateDictFiles {
    private StateDictFiles() {}

    /**
     * {@return the weights of the layer described by {@code hashing}, read from {@code dir}}
     *
     * @param dir     the directory of {@code <name>.f32.bin} files (per-branch names numbered from 0)
     * @param config  the configuration the sizes are checked against
     * @param hashing the layer's hashing: the table's size, and the offsets a stored offsets file must match
     * @throws IllegalArgumentException     when {@code dir} is not a directory, a file is missing or has the wrong
     *                                      size, or the stored offsets differ
     * @throws java.io.UncheckedIOException when a file cannot be read
     */
    public static EngramWeights load(Path dir, EngramConfig config, LayerHashing hashing) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a directory of weight files");
        Path offsetsFile = dir.resolve("multi_head_embedding.offsets.i64.bin");
        if (Files.exists(offsetsFile)) {
            long[] offsets = LittleEndianFiles.readInt64(offsetsFile);
            if (!Arrays.equals(offsets, hashing.offsets())) {
                throw new IllegalArgumentException(offsetsFile + ": offsets " + Arrays.toString(offsets)
                        + " differ from layer " + hashing.layerId() + "'s " + Arrays.toString(hashing.offsets())
                        + " (weights of another config or layer?)");
            }
        }
        int g = config.hcMult(), h = config.hiddenSize(), e = config.engramHiddenSize();
        return new EngramWeights(config, hashing,
                read(dir, "multi_head_embedding.embedding.weight", EngramWeights.tableElements(config, hashing)),
                perBranch(dir, "key_projs.%d.weight", g, h * e),
                perBranch(dir, "key_projs.%d.bias", g, h),
                read(dir, "value_proj.weight", h * e),
                read(dir, "value_proj.bias", h),
                perBranch(dir, "norm1.%d.weight", g, h),
                perBranch(dir, "norm2.%d.weight", g, h),
                perBranch(dir, "short_conv.norms.%d.weight", g, h),
                read(dir, "short_conv.conv.weight", g * h * config.kernelSize()));
    }

    private static float[] perBranch(Path dir, String pattern, int branches, int each) {
        float[] out = new float[branches * each];
        for (int b = 0; b < branches; b++) {
            System.arraycopy(read(dir, String.format(pattern, b), each), 0, out, b * each, each);
        }
        return out;
    }

    private static float[] read(Path dir, String name, int expected) {
        Path file = dir.resolve(name + ".f32.bin");
        if (!Files.exists(file)) throw new IllegalArgumentException(file + ": missing weight file for " + name);
        double[] v = LittleEndianFiles.readFloat32AsDouble(file, expected);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (float) v[i];
        return out;
    }
}
