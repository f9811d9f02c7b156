package dev.engram.cli;

import dev.engram.EngramConfig;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.GpuLayerWeights;
import dev.engram.cuda.DType;
import dev.engram.gpu.LayerWeights;
import dev.engram.hash.LayerHashing;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LayerPrefix;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.reference.EngramWeights;
import dev.engram.reference.ReferenceEngramLayer;
import dev.engram.reference.StateDictFiles;
import dev.engram.table.ProgressListener;

import java.lang.foreign.Arena;
import java.nio.file.Path;

/**
 * Where {@code forward} takes one layer's weights from: a directory of {@code .f32.bin} files ({@code --weights}) or
 * a safetensors checkpoint ({@code --checkpoint}, kept open and mapped until {@link #close()}). Both are read and
 * checked against the config when opened, before anything is computed.
 */
sealed interface ForwardWeights extends AutoCloseable {
    /** The reference layer on these weights. */
    ReferenceEngramLayer reference(NgramHashMapping mapping, int layerId);

    /**
     * The GPU layer's weights for {@code storage}; what they allocate lives in {@code arena}; a checkpoint's table
     * upload reports to {@code tableUpload} (the directory's arrays report nothing).
     */
    LayerWeights gpu(DType storage, Arena arena, ProgressListener tableUpload);

    /** Where the weights came from, for the summary line ("" for the directory: the command line says it). */
    String describe();

    @Override
    void close();

    static ForwardWeights directory(Path dir, EngramConfig config, LayerHashing hashing) {
        return new Directory(StateDictFiles.load(dir, config, hashing));
    }

    static ForwardWeights checkpoint(Path file, LayerPrefix prefix, EngramConfig config, LayerHashing hashing) {
        SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(file);
        try {
            CheckpointLayer layer = CheckpointLayer.open(ckpt, prefix, config, hashing);
            layer.table(); // an fp8 table's scale bytes are checked here, before anything is computed
            return new Checkpoint(ckpt, layer);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    /** Float32 arrays on the heap, as StateDictFiles reads them. */
    record Directory(EngramWeights weights) implements ForwardWeights {
        @Override
        public ReferenceEngramLayer reference(NgramHashMapping mapping, int layerId) {
            return new ReferenceEngramLayer(mapping, layerId, weights);
        }

        @Override
        public LayerWeights gpu(DType storage, Arena arena, ProgressListener tableUpload) {
            return LayerWeights.of(weights);
        }

        @Override
        public String describe() {
            return "";
        }

        @Override
        public void close() {}
    }

    /** A checked layer of an open checkpoint: the table read in place. */
    record Checkpoint(SafetensorsCheckpoint checkpoint, CheckpointLayer layer) implements ForwardWeights {
        @Override
        public ReferenceEngramLayer reference(NgramHashMapping mapping, int layerId) {
            return new ReferenceEngramLayer(mapping, layerId, layer.denseWeights(), layer.table());
        }

        @Override
        public LayerWeights gpu(DType storage, Arena arena, ProgressListener tableUpload) {
            return GpuLayerWeights.of(layer, storage, arena, tableUpload);
        }

        @Override
        public String describe() {
            String block = layer.fp8Block().isPresent() ? " block " + layer.fp8Block().getAsInt() : "";
            return "; weights from " + checkpoint.path() + " (" + layer.prefix() + ", table " + layer.tableDtype()
                    + block + ")";
        }

        @Override
        public void close() {
            checkpoint.close();
        }
    }
}
