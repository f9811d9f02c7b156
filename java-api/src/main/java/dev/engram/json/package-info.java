/**
 * The library's own strict JSON reader and writer (no JSON dependency in the core), used for config files and
 * safetensors headers. Internal: the module does not export this package.
 */
package dev.engram.json;
