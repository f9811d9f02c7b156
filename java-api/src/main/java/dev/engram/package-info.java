/**
 * Engram for the JVM: DeepSeek's Engram layer (conditional memory via hashed n-gram lookup). This package holds the
 * model's configuration ({@link dev.engram.EngramConfig}, read from the official config.json by
 * {@link dev.engram.EngramConfigJson}), the library's status ({@link dev.engram.Engram#gpuStatus()}) and its one
 * exception family, rooted at {@link dev.engram.EngramException}.
 *
 * <p>Where the rest lives: {@code dev.engram.hash} (the n-gram hash, exact to the official code),
 * {@code dev.engram.tokenizer} (the compression table), {@code dev.engram.reference} (the double-precision CPU
 * reference and its float32 weights), {@code dev.engram.cuda} (device memory, streams, events, cuBLAS, views of
 * another stack's memory), {@code dev.engram.gpu} (the GPU layers and kernels) and {@code dev.engram.table}
 * (host-memory tables).
 */
package dev.engram;
