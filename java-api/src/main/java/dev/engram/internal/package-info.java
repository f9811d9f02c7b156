/**
 * Small helpers several of the library's packages share; not exported from the {@code dev.engram} module, not API.
 */
package dev.engram.internal;
