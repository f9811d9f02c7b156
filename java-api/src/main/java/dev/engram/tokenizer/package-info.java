/**
 * The compression table that maps tokenizer ids onto the hash's smaller vocabulary
 * ({@link dev.engram.tokenizer.CompressionTable}), and how it is built from decoded tokens with the official
 * normalizer sequence ({@link dev.engram.tokenizer.CompressionTableBuilder}).
 */
package dev.engram.tokenizer;
