/**
 * Hugging Face tokenizer.json files read with the real tokenizers library (DJL's JNI binding, offline), for
 * the compression table ({@link dev.engram.cli.tokenizer.TokenizerVocabulary}). Part of the CLI, not of
 * engram-api: the library's own dependencies stay minimal and take decoded strings instead.
 */
package dev.engram.cli.tokenizer;
