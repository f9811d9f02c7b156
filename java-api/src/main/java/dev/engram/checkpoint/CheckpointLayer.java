package dev.engram.checkpoint;

import dev.engram.EngramConfig;
import dev.engram.hash.LayerHashing;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.LayerPrefix;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.SafetensorsException;
import dev.engram.io.TensorInfo;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.EmbeddingRows;
import dev.engram.table.Fp8Table;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;

/**
 * One Engram layer of a safetensors checkpoint, found by the §10 names behind its prefix and checked against the
 * config before anything is read: every tensor present, of an accepted dtype, of the shape the config gives
 * (Linear {@code [out, in]}, conv {@code [G·H, 1, K]}, table {@code [rows, head_dim]}), and nothing else under the
 * prefix. Accepted dtypes: dense parameters F32, BF16 or F16; the table F32, BF16, or F8_E4M3 with an F8_E8M0
 * scale tensor {@code [rows, head_dim / block]} whose block is inferred from its shape and must divide
 * {@code head_dim} (SEMANTICS.md §9). An optional {@code multi_head_embedding.offsets} (I64) must equal the
 * offsets the config gives.
 *
 * <p>From it come the CPU reference's inputs: {@link #denseWeights()} (float32 copies, exact: the dense tensors
 * are small) and {@link #table()}, which reads the mapped table in place (F32 and BF16 rows, or an
 * {@link Fp8Table}), so tables beyond 2^31 elements work. {@link GpuLayerWeights} gives the GPU layer's inputs.
 * The layer does not own the checkpoint: segments stay valid until the caller closes it.
 *
 * <pre>{@code
 * try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(Path.of("model.safetensors.index.json"))) {
 *     CheckpointLayer l = CheckpointLayer.open(ckpt, LayerPrefix.of("model.layers.{layer}.engram."), config,
 *             mapping.layer(15));
 *     ReferenceEngramLayer ref = new ReferenceEngramLayer(mapping, 15, l.denseWeights(), l.table());
 * }
 * }</pre>
 */
public final class CheckpointLayer {
    private final SafetensorsCheckpoint checkpoint;
    private final String prefix;
    private final EngramConfig config;
    private final TableLayout layout;
    private final TensorInfo table;
    private final TensorInfo scale;
    private EmbeddingRows rows; // built on first use: an fp8 table reads every scale byte once

    private CheckpointLayer(SafetensorsCheckpoint checkpoint, String prefix, EngramConfig config, TableLayout layout) {
        this.checkpoint = checkpoint;
        this.prefix = prefix;
        this.config = config;
        this.layout = layout;
        this.table = checkpoint.tensor(prefix + EngramTensorNames.EMBEDDING_WEIGHT);
        this.scale = table.dtype() == SafetensorsDType.F8_E4M3
                ? checkpoint.tensor(prefix + EngramTensorNames.EMBEDDING_SCALE) : null;
    }

    /**
     * Finds and checks the layer {@code hashing} describes.
     *
     * @param checkpoint the open checkpoint
     * @param prefix     where the model's layers live, e.g. {@code model.layers.{layer}.engram.}
     * @param config     the configuration the shapes are checked against
     * @param hashing    the layer's hashing: its id, table rows and head offsets
     * @return the layer
     * @throws SafetensorsException naming the file and the tensor of the first problem (see {@link #check})
     */
    public static CheckpointLayer open(SafetensorsCheckpoint checkpoint, LayerPrefix prefix, EngramConfig config,
                                      LayerHashing hashing) {
        Objects.requireNonNull(prefix, "prefix");
        return open(checkpoint, prefix.prefix(hashing.layerId()), config, TableLayout.of(hashing));
    }

    /**
     * Finds and checks a layer behind a fixed prefix (e.g. {@code ""} for a file of one layer's bare
     * {@code state_dict} names).
     *
     * @param checkpoint  the open checkpoint
     * @param layerPrefix what every full name of the layer starts with, e.g. {@code model.layers.15.engram.}
     * @param config      the configuration the shapes are checked against
     * @param layout      the layer's table rows and head offsets
     * @return the layer
     * @throws SafetensorsException naming the file and the tensor of the first problem (see {@link #check}), and
     *                              how many more there are
     */
    public static CheckpointLayer open(SafetensorsCheckpoint checkpoint, String layerPrefix, EngramConfig config,
                                      TableLayout layout) {
        List<LayerProblem> problems = check(checkpoint, layerPrefix, config, layout);
        if (!problems.isEmpty()) throw problems.getFirst().toException(problems.size() - 1);
        return new CheckpointLayer(checkpoint, layerPrefix, config, layout);
    }

    /**
     * Lists everything about a layer that does not fit the config, reading no tensor data but the small offsets
     * tensor: missing tensors, dtypes not accepted, shapes that differ, a scale tensor that is missing, of the wrong
     * dtype or shape, or present beside a float table, offsets that differ, and tensors under the prefix that a
     * layer of this config has no use for (e.g. {@code key_projs.4.weight} for {@code hc_mult} 4). Scale bytes are
     * checked later, when {@link #table()} builds the fp8 table.
     *
     * @param checkpoint  the open checkpoint
     * @param layerPrefix what every full name of the layer starts with
     * @param config      the configuration
     * @param layout      the layer's table rows and head offsets
     * @return the problems, table first, then in §10 order, unexpected tensors last; empty when the layer fits
     */
    public static List<LayerProblem> check(SafetensorsCheckpoint checkpoint, String layerPrefix, EngramConfig config,
                                           TableLayout layout) {
        Objects.requireNonNull(checkpoint, "checkpoint");
        Objects.requireNonNull(layerPrefix, "layerPrefix");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(layout, "layout");
        Map<String, TensorInfo> found = under(checkpoint, layerPrefix);
        List<LayerProblem> problems = new ArrayList<>();
        Set<String> known = new HashSet<>();
        for (TensorSpec spec : TensorSpec.required(config, layout.rows())) {
            known.add(spec.shortName());
            checkSpec(checkpoint, layerPrefix, spec, found.get(spec.shortName()), problems);
        }
        known.add(EngramTensorNames.EMBEDDING_SCALE);
        checkScale(checkpoint, layerPrefix, config, layout, found, problems);
        known.add(EngramTensorNames.EMBEDDING_OFFSETS);
        checkOffsets(checkpoint, layerPrefix, layout, found.get(EngramTensorNames.EMBEDDING_OFFSETS), problems);
        for (Map.Entry<String, TensorInfo> e : found.entrySet()) {
            if (!known.contains(e.getKey())) {
                TensorInfo t = e.getValue();
                problems.add(new LayerProblem(t.file(), t.name(), "unexpected tensor " + t.dtype() + " "
                        + TensorSpec.shapeText(t.shape()) + ": a layer of this config (hc_mult " + config.hcMult()
                        + ") has no tensor of that name"));
            }
        }
        return problems;
    }

    /** The tensors whose full name starts with the prefix, by short name, sorted. */
    private static Map<String, TensorInfo> under(SafetensorsCheckpoint checkpoint, String prefix) {
        Map<String, TensorInfo> out = new TreeMap<>();
        for (TensorInfo t : checkpoint.tensors()) {
            if (t.name().startsWith(prefix) && t.name().length() > prefix.length()) {
                out.put(t.name().substring(prefix.length()), t);
            }
        }
        return out;
    }

    private static void checkSpec(SafetensorsCheckpoint checkpoint, String prefix, TensorSpec spec, TensorInfo t,
                                  List<LayerProblem> problems) {
        String expected = TensorSpec.dtypeList(spec.dtypes()) + " " + TensorSpec.shapeText(spec.shape()) + " "
                + spec.meaning();
        if (t == null) {
            problems.add(new LayerProblem(checkpoint.path(), prefix + spec.shortName(), "missing from the checkpoint"
                    + " (expected " + expected + ")"));
            return;
        }
        if (!spec.dtypes().contains(t.dtype())) {
            problems.add(new LayerProblem(t.file(), t.name(), "dtype " + t.dtype() + " is not accepted here: expected "
                    + TensorSpec.dtypeList(spec.dtypes())));
        }
        if (!Arrays.equals(t.shape(), spec.shape())) {
            problems.add(new LayerProblem(t.file(), t.name(), "shape " + TensorSpec.shapeText(t.shape())
                    + " does not fit the config: expected " + TensorSpec.shapeText(spec.shape()) + " " + spec.meaning()));
        }
    }

    /** An fp8 table needs its scales {@code [rows, head_dim / block]}; a float table has none. */
    private static void checkScale(SafetensorsCheckpoint checkpoint, String prefix, EngramConfig config,
                                   TableLayout layout, Map<String, TensorInfo> found, List<LayerProblem> problems) {
        TensorInfo table = found.get(EngramTensorNames.EMBEDDING_WEIGHT);
        TensorInfo scale = found.get(EngramTensorNames.EMBEDDING_SCALE);
        if (table == null) return; // reported as missing; nothing to match the scales with
        if (table.dtype() != SafetensorsDType.F8_E4M3) {
            if (scale != null) {
                problems.add(new LayerProblem(scale.file(), scale.name(), "a scale tensor belongs to an F8_E4M3 table,"
                        + " but " + table.name() + " is " + table.dtype()));
            }
            return;
        }
        int headDim = config.headDim();
        String expected = "F8_E8M0 [" + layout.rows() + ", head_dim / block] with a block dividing head_dim " + headDim
                + " (one E8M0 scale per block of a row)";
        if (scale == null) {
            problems.add(new LayerProblem(checkpoint.path(), prefix + EngramTensorNames.EMBEDDING_SCALE,
                    "missing from the checkpoint: the F8_E4M3 table " + table.name() + " needs its scales, " + expected));
            return;
        }
        if (scale.dtype() != SafetensorsDType.F8_E8M0) {
            problems.add(new LayerProblem(scale.file(), scale.name(), "dtype " + scale.dtype()
                    + " is not accepted for fp8 scales: expected F8_E8M0"));
        }
        long[] s = scale.shape();
        boolean fits = s.length == 2 && s[0] == layout.rows() && s[1] >= 1 && s[1] <= headDim && headDim % s[1] == 0;
        if (!fits) {
            problems.add(new LayerProblem(scale.file(), scale.name(), "shape " + TensorSpec.shapeText(s)
                    + " does not fit the table: expected " + expected));
        }
    }

    /** The optional offsets buffer must be the config's: else the table belongs to another config or layer. */
    private static void checkOffsets(SafetensorsCheckpoint checkpoint, String prefix, TableLayout layout, TensorInfo t,
                                     List<LayerProblem> problems) {
        if (t == null) return;
        long[] expected = layout.offsets();
        if (t.dtype() != SafetensorsDType.I64 || !Arrays.equals(t.shape(), new long[] {expected.length})) {
            problems.add(new LayerProblem(t.file(), t.name(), t.dtype() + " " + TensorSpec.shapeText(t.shape())
                    + " does not fit the config: expected I64 [" + expected.length + "] (the heads' first table rows)"));
            return;
        }
        MemorySegment data = checkpoint.data(t.name());
        long[] actual = new long[expected.length];
        for (int i = 0; i < actual.length; i++) {
            actual[i] = data.get((ValueLayout.OfLong) SafetensorsDType.I64.elementLayout(), 8L * i);
        }
        if (!Arrays.equals(actual, expected)) {
            problems.add(new LayerProblem(t.file(), t.name(), "offsets " + Arrays.toString(actual)
                    + " differ from layer " + layout.layerId() + "'s " + Arrays.toString(expected)
                    + " (a table of another config or layer?)"));
        }
    }

    /** {@return the checkpoint the layer is read from} */
    public SafetensorsCheckpoint checkpoint() {
        return checkpoint;
    }

    /** {@return what every full name of the layer starts with, e.g. {@code model.layers.15.engram.}} */
    public String prefix() {
        return prefix;
    }

    /** {@return the configuration the layer was checked against} */
    public EngramConfig config() {
        return config;
    }

    /** {@return the layer id} */
    public int layerId() {
        return layout.layerId();
    }

    /** {@return the layer's table rows and head offsets} */
    public TableLayout layout() {
        return layout;
    }

    /** {@return the table's dtype: F32, BF16 or F8_E4M3} */
    public SafetensorsDType tableDtype() {
        return table.dtype();
    }

    /** {@return the values per E8M0 scale of an F8_E4M3 table, empty for a float table} */
    public OptionalInt fp8Block() {
        return scale == null ? OptionalInt.empty() : OptionalInt.of((int) (config.headDim() / scale.shape()[1]));
    }

    /**
     * {@return one of the layer's tensors}
     *
     * @param shortName the name within the layer, e.g. {@link EngramTensorNames#VALUE_PROJ_WEIGHT}
     * @throws SafetensorsException when the layer has no such tensor
     */
    public TensorInfo tensor(String shortName) {
        return checkpoint.tensor(prefix + shortName);
    }

    /**
     * {@return one tensor's bytes: a zero-copy slice of the mapping}
     *
     * @param shortName the name within the layer
     * @throws SafetensorsException  when the layer has no such tensor
     * @throws IllegalStateException when the checkpoint is closed
     */
    public MemorySegment data(String shortName) {
        return checkpoint.data(prefix + shortName);
    }

    /**
     * {@return the parameters other than the table, converted to float32 (exact from F32, BF16 and F16), per-branch
     * tensors stacked as {@link DenseWeights} lays them out}
     *
     * @throws IllegalStateException when the checkpoint is closed
     */
    public DenseWeights denseWeights() {
        int g = config.hcMult();
        return new DenseWeights(config,
                stacked(g, EngramTensorNames::keyProjWeight), stacked(g, EngramTensorNames::keyProjBias),
                floats(EngramTensorNames.VALUE_PROJ_WEIGHT), floats(EngramTensorNames.VALUE_PROJ_BIAS),
                stacked(g, EngramTensorNames::norm1Weight), stacked(g, EngramTensorNames::norm2Weight),
                stacked(g, EngramTensorNames::shortConvNormWeight), floats(EngramTensorNames.SHORT_CONV_WEIGHT));
    }

    /**
     * The table as the CPU reference reads it, in place: F32 and BF16 rows read from the mapping, or an
     * {@link Fp8Table} over the mapped values and scales (every scale byte checked once, on the first call).
     *
     * @return the table, {@code [rows, head_dim]}; valid until the checkpoint is closed
     * @throws SafetensorsException  naming the scale tensor and its file when a scale byte is 255 (NaN)
     * @throws IllegalStateException when the checkpoint is closed
     */
    public synchronized EmbeddingRows table() {
        if (rows == null) {
            MemorySegment values = checkpoint.data(table.name());
            rows = scale == null ? new MappedFloatRows(values, table.dtype(), layout.rows(), config.headDim())
                    : fp8(values);
        }
        return rows;
    }

    /**
     * {@return the table as an {@link Fp8Table}}
     *
     * @throws IllegalStateException when the table is not F8_E4M3, or the checkpoint is closed
     * @throws SafetensorsException  naming the scale tensor and its file when a scale byte is 255 (NaN)
     */
    public Fp8Table fp8Table() {
        if (scale == null) throw new IllegalStateException(table.name() + " is " + table.dtype() + ", not F8_E4M3");
        return (Fp8Table) table();
    }

    private Fp8Table fp8(MemorySegment values) {
        String name = scale.name();
        try {
            return Fp8Table.of(name, values, checkpoint.data(name), layout.rows(), config.headDim(),
                    fp8Block().getAsInt());
        } catch (IllegalArgumentException e) { // a NaN scale byte: the shapes were checked by check()
            String m = e.getMessage();
            throw new SafetensorsException(scale.file(), name, m.startsWith(name + ": ") ? m.substring(name.length() + 2)
                    : m, e);
        }
    }

    private float[] stacked(int branches, java.util.function.IntFunction<String> name) {
        float[][] parts = new float[branches][];
        int total = 0;
        for (int b = 0; b < branches; b++) {
            parts[b] = floats(name.apply(b));
            total += parts[b].length;
        }
        float[] out = new float[total];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private float[] floats(String shortName) {
        TensorInfo t = tensor(shortName);
        return DenseConversion.toFloats(checkpoint.data(t.name()), t.dtype());
    }

    /** {@return e.g. {@code CheckpointLayer[model.layers.15.engram., table F8_E4M3 [22934, 8] block 8]}} */
    @Override
    public String toString() {
        return "CheckpointLayer[" + prefix + ", table " + table.dtype() + " " + TensorSpec.shapeText(table.shape())
                + (scale == null ? "" : " block " + fp8Block().getAsInt()) + "]";
    }
}
