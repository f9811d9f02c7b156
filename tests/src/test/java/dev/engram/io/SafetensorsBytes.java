package dev.engram.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Safetensors files built byte by byte, as the format describes them, independently of SafetensorsWriter. */
final class SafetensorsBytes {
    private SafetensorsBytes() {}

    /** 8-byte little-endian header length, the header as given (no padding added), then the data. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).put(data).array();
    }

    /** As {@link #file}, the header padded with spaces to a multiple of 8 bytes, as the reference writer does. */
    static byte[] padded(String header, byte[] data) {
        int len = header.getBytes(StandardCharsets.UTF_8).length;
        return file(header + " ".repeat((8 - len % 8) % 8), data);
    }

    /** Bytes from ints 0..255, for the reference's test vectors. */
    static byte[] ofInts(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) out[i] = (byte) values[i];
        return out;
    }

    static Path write(Path file, byte[] bytes) {
        try {
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
