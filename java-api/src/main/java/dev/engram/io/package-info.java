/** Little-endian binary files of the formats the CLI and the golden vectors use ({@code .i64.bin}, {@code .f32.bin}). */
package dev.engram.io;
