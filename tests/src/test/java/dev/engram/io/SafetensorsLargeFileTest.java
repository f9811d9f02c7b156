package dev.engram.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Offsets and sizes past 2^31: a sparse file with a 3 GiB tensor and a small one behind it. */
class SafetensorsLargeFileTest {
    private static final long BIG = 3L << 30;

    @TempDir
    Path dir;

    @Test
    void tensorsBeyondTwoGibibytesAreMappedAndSliced() throws IOException {
        // Sparse: the 3 GiB of zeros take no disk space where the file system supports holes (ext4, xfs, tmpfs);
        // the check keeps a file system without holes from being filled.
        long usable = Files.getFileStore(dir).getUsableSpace();
        assumeTrue(usable > BIG + (1L << 30), "needs " + (BIG >> 30) + " GiB free in " + dir + " in case the file "
                + "system has no sparse files; " + (usable >> 20) + " MiB free");
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[3,1073741824],\"data_offsets\":[0," + BIG + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + BIG + "," + (BIG + 8) + "]}}";
        byte[] head = SafetensorsBytes.padded(header, new byte[0]);
        Path file = dir.resolve("large.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(head);
            raf.seek(head.length + BIG);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.25f).putFloat(-3f).array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorInfo big = f.tensor("big");
            assertEquals(BIG, big.byteSize());
            assertEquals(BIG, big.elementCount());
            assertEquals(BIG, f.data("big").byteSize());
            assertEquals(0, f.data("big").get(ValueLayout.JAVA_BYTE, BIG - 1));
            TensorInfo tail = f.tensor("tail");
            assertTrue(tail.fileOffset() > Integer.MAX_VALUE);
            ValueLayout.OfFloat le = (ValueLayout.OfFloat) SafetensorsDType.F32.elementLayout();
            assertEquals(1.25f, f.data("tail").get(le, 0));
            assertEquals(-3f, f.data("tail").get(le, 4));
        }
    }
}
