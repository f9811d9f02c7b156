/**
 * Engram layers loaded from safetensors checkpoints (SEMANTICS.md §9–10): {@link dev.engram.checkpoint.CheckpointLayer}
 * finds one layer's tensors by their {@code state_dict} names behind a prefix and checks every dtype and shape
 * against the config, then gives the CPU reference's inputs (float32 dense weights, and the mapped table read in
 * place: F32, BF16 or fp8 with block scales); {@link dev.engram.checkpoint.GpuLayerWeights} gives the GPU layer's
 * (mapped slices uploaded in chunks; fp8 tables uploaded as their fp8 bytes);
 * {@link dev.engram.checkpoint.CheckpointHostTable} keeps a table in host memory for a
 * {@link dev.engram.gpu.HostTableLayer} (copied into pinned memory, or the file's pages registered in place; F32 and
 * BF16 tables as a {@link dev.engram.table.HostTable}, fp8 ones as an {@link dev.engram.table.Fp8HostTable});
 * {@link dev.engram.checkpoint.TableEncoding} and {@link dev.engram.checkpoint.LayerTensorWriter} write layers back,
 * the table in F32, BF16 or fp8.
 */
package dev.engram.checkpoint;
