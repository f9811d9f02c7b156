/**
 * Engram tables in host memory: {@link dev.engram.table.HostTable} (an off-heap row-major table from a
 * pluggable {@link dev.engram.table.HostMemory}), filling it ({@link dev.engram.table.RowFile},
 * {@link dev.engram.table.RandomRows}, {@link dev.engram.table.EmbeddingTables}) and the multi-threaded CPU
 * gather of a layer's hashed rows into a staging buffer ({@link dev.engram.table.CpuRowGather}). fp8 tables with
 * block scales ({@link dev.engram.table.Fp8Table}, codec {@link dev.engram.table.Fp8}) are read in place by the CPU
 * reference; {@link dev.engram.table.Fp8HostTable} is one in (pinned) host memory, whose code and scale rows the
 * CPU gather copies for the GPU to dequantize.
 *
 * <p>Hash ids depend only on token ids, so a layer's rows can be gathered from host memory before the layer
 * runs; the staging buffer then goes to the device in one asynchronous copy. Everything here is host-side
 * and needs no GPU; pinned allocators and the copies live with the CUDA API.
 */
package dev.engram.table;
