package dev.engram.bench;

import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceBuffer;

import java.util.Arrays;

/**
 * The device-to-device copy rate measured in the same process as the benchmark: the HBM ceiling a
 * memory-bound stage is read against (CEILINGS.md: about 3.0 TB/s on the H100, bytes read + written).
 */
final class CopyCeiling {
    private CopyCeiling() {}

    /** @return GB/s (1e9 bytes/s) counting the bytes read and the bytes written, median of {@code reps} copies */
    static double deviceToDeviceGBps(long bytes, int reps) {
        try (DeviceBuffer src = DeviceBuffer.allocate(bytes / 4, DType.INT32);
             DeviceBuffer dst = DeviceBuffer.allocate(bytes / 4, DType.INT32);
             CudaStream stream = CudaStream.create();
             CudaEvent start = CudaEvent.create();
             CudaEvent end = CudaEvent.create()) {
            src.zeroAsync(stream);
            double[] ms = new double[reps];
            for (int r = -2; r < reps; r++) { // two warm-up copies
                start.record(stream);
                dst.copyFromAsync(src, stream);
                end.record(stream);
                end.synchronize();
                if (r >= 0) ms[r] = CudaEvent.elapsedMillis(start, end);
            }
            Arrays.sort(ms);
            double median = ms[reps / 2];
            return 2.0 * dst.byteSize() / (median * 1e-3) / 1e9;
        }
    }
}
