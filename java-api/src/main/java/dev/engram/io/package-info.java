/**
 * Files: little-endian raw arrays ({@code .i64.bin}, {@code .f32.bin}: {@link dev.engram.io.LittleEndianFiles}) and
 * safetensors checkpoints, memory-mapped with zero-copy tensors ({@link dev.engram.io.SafetensorsCheckpoint}, one
 * file or sharded through {@code model.safetensors.index.json}; {@link dev.engram.io.LayerPrefix} finds a layer's
 * tensors, {@link dev.engram.io.SafetensorsWriter} writes them).
 */
package dev.engram.io;
