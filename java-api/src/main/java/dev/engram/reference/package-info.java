/**
 * The CPU reference of the Engram layer in double precision ({@link dev.engram.reference.ReferenceEngramLayer}),
 * against which every GPU result is checked, and its float32 weights as the official state_dict stores them
 * ({@link dev.engram.reference.EngramWeights}, loaded by {@link dev.engram.reference.StateDictFiles}). The layer
 * gathers from any {@link dev.engram.reference.EmbeddingRows}, e.g. an fp8 table with block scales.
 */
package dev.engram.reference;
