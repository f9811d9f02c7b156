package dev.engram.gpu;

import dev.engram.cuda.CudaStream;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;
import dev.engram.cuda.DeviceBuffer;
import dev.engram.cuda.PinnedHostBuffer;
import dev.engram.hash.LayerHashing;
import dev.engram.table.CpuRowGather;
import dev.engram.table.Fp8HostTable;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * What a {@link HostTableLayer} adds for an fp8 host table ({@link Fp8HostTable}): fp8 bytes travel, the GPU
 * dequantizes them into the layer's compute dtype.
 * <ul>
 *   <li>CPU path: per staging slot, pinned buffers for the gathered code and scale rows and device buffers they are
 *       copied to; each chunk is gathered ({@link CpuRowGather}, both row kinds with the same ids), copied and
 *       dequantized ({@link Fp8Dequantize}) into the slot's rows, all queued on the side stream.</li>
 *   <li>Zero copy: the table's codes and scales as device views of the mapped host memory, read in place by the fp8
 *       hashed gather ({@code engram_hashed_gather_fp8[_packed]}).</li>
 * </ul>
 * Its allocations go to the layer's resource list, which releases them.
 */
final class Fp8HostStaging {
    private final Fp8HostTable table;
    private final int headDim, block;
    final DeviceArray mappedCodes, mappedScales;  // zero copy, else null
    private final PinnedHostBuffer[] hostCodes, hostScales;
    private final DeviceBuffer[] deviceCodes, deviceScales;

    /**
     * @param maxRows   the most rows one prefetch gathers, {@code maxTokens * heads}
     * @param cpu       whether the CPU path's staging is needed
     * @param zeroCopy  whether the zero-copy views are needed (the table is pinned and mapped)
     * @param resources receives every allocation, in order
     */
    Fp8HostStaging(Fp8HostTable table, int slots, long maxRows, boolean cpu, boolean zeroCopy,
                   List<AutoCloseable> resources) {
        this.table = table;
        this.headDim = table.headDim();
        this.block = table.block();
        hostCodes = new PinnedHostBuffer[slots];
        hostScales = new PinnedHostBuffer[slots];
        deviceCodes = new DeviceBuffer[slots];
        deviceScales = new DeviceBuffer[slots];
        if (zeroCopy) {
            mappedCodes = track(resources, DeviceArray.wrap(MemorySegment.ofAddress(table.codes().address()),
                    table.codes().byteSize(), DType.FP8_E4M3));
            mappedScales = track(resources, DeviceArray.wrap(MemorySegment.ofAddress(table.scales().address()),
                    table.scales().byteSize(), DType.FP8_E8M0));
        } else {
            mappedCodes = mappedScales = null;
        }
        if (cpu) {
            long codes = Math.multiplyExact(maxRows, table.codeRowBytes());
            long scales = Math.multiplyExact(maxRows, table.scaleRowBytes());
            for (int s = 0; s < slots; s++) {
                hostCodes[s] = track(resources, PinnedHostBuffer.allocate(codes, DType.FP8_E4M3));
                hostScales[s] = track(resources, PinnedHostBuffer.allocate(scales, DType.FP8_E8M0));
                deviceCodes[s] = track(resources, DeviceBuffer.allocate(codes, DType.FP8_E4M3));
                deviceScales[s] = track(resources, DeviceBuffer.allocate(scales, DType.FP8_E8M0));
            }
        }
    }

    private static <T extends AutoCloseable> T track(List<AutoCloseable> resources, T resource) {
        resources.add(resource);
        return resource;
    }

    /**
     * CPU path, one chunk: gathers the code and scale rows of tokens {@code [first, first + count)} of
     * {@code hashIds} into slot {@code slot}'s pinned buffers (at the chunk's place, so earlier chunks' copies are
     * not overwritten), queues their copies and the dequantization into {@code rows} (the chunk's rows) on
     * {@code side}.
     */
    void gatherChunk(int slot, CpuRowGather gather, LayerHashing hashing, long[] hashIds, int first, int count,
                     DeviceArray rows, CudaStream side) {
        long firstRow = (long) first * hashing.heads(), rowCount = (long) count * hashing.heads();
        long codeAt = firstRow * table.codeRowBytes(), codeBytes = rowCount * table.codeRowBytes();
        long scaleAt = firstRow * table.scaleRowBytes(), scaleBytes = rowCount * table.scaleRowBytes();
        MemorySegment codes = hostCodes[slot].segment().asSlice(codeAt, codeBytes);
        MemorySegment scales = hostScales[slot].segment().asSlice(scaleAt, scaleBytes);
        gather.gather(table, hashing, hashIds, first, count, codes, scales);
        DeviceArray dCodes = deviceCodes[slot].slice(codeAt, codeBytes);
        DeviceArray dScales = deviceScales[slot].slice(scaleAt, scaleBytes);
        dCodes.copyFromAsync(codes, side);
        dScales.copyFromAsync(scales, side);
        Fp8Dequantize.enqueue(dCodes, dScales, headDim, block, rows, side);
    }

    /** Zero copy, rectangular: the fp8 hashed gather reading the mapped codes and scales, into {@code rows}. */
    void zeroCopyGather(DeviceArray ids, int batch, int seqLen, DeviceArray lut, long padIdCompressed,
                        LayerHashing hashing, int headsPerNgram, DeviceArray rows, CudaStream side) {
        HashedGather.enqueueFp8Checked(ids, batch, seqLen, lut, padIdCompressed, hashing, headsPerNgram, mappedCodes,
                mappedScales, block, headDim, rows, null, side);
    }

    /** {@return the values per scale} */
    int block() {
        return block;
    }
}
