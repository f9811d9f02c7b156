package dev.engram.cli;

import dev.engram.io.LittleEndianFiles;

import java.nio.file.Path;
import java.util.Locale;

/** The element type of {@code forward}'s output file, given by its name, and the writing in that type. */
enum ForwardOutput {
    FLOAT64(".f64.bin", "float64"),
    FLOAT32(".f32.bin", "float32");

    private final String suffix;
    final String label;

    ForwardOutput(String suffix, String label) {
        this.suffix = suffix;
        this.label = label;
    }

    /** The type named by {@code file}'s suffix; any other name is a usage error. */
    static ForwardOutput of(Path file) {
        String n = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        for (ForwardOutput o : values()) {
            if (n.endsWith(o.suffix)) return o;
        }
        throw new UsageException("--out must name a *.f64.bin (float64) or *.f32.bin (float32) file, got " + file);
    }

    /** Writes doubles little-endian, as they are (float64) or rounded to the nearest float (float32). */
    void write(Path file, double[] values) {
        if (this == FLOAT64) {
            LittleEndianFiles.writeFloat64(file, values);
            return;
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        LittleEndianFiles.writeFloat32(file, f);
    }

    /** Writes floats little-endian, as they are (float32) or widened exactly (float64). */
    void write(Path file, float[] values) {
        if (this == FLOAT32) {
            LittleEndianFiles.writeFloat32(file, values);
            return;
        }
        double[] d = new double[values.length];
        for (int i = 0; i < d.length; i++) d[i] = values[i];
        LittleEndianFiles.writeFloat64(file, d);
    }
}
