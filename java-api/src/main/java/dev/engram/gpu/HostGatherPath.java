package dev.engram.gpu;

import dev.engram.table.HostTable;

/**
 * How a {@link HostTableLayer} brings a layer's rows from host memory to the GPU.
 */
public enum HostGatherPath {
    /**
     * The CPU hashes the ids and gathers the rows into pinned staging with {@link dev.engram.table.CpuRowGather}
     * (many threads), then one asynchronous host-to-device copy moves them: PCIe-rate transfers whatever the
     * table size, at the cost of CPU threads.
     */
    CPU,
    /**
     * The hashed-gather kernel reads the rows straight from the pinned, mapped table over PCIe. No CPU work,
     * but the GPU's address translation over host memory limits it on large tables (on an H100: 50.8 GB/s
     * from a 64 MiB table, 15.0 GB/s from 1 GiB, 4.9 GB/s from 8 GiB).
     */
    ZERO_COPY;

    /** Tables up to this size take {@link #ZERO_COPY} by default: up to here zero-copy reads run near the PCIe rate. */
    public static final long ZERO_COPY_MAX_TABLE_BYTES = 256L << 20;

    /**
     * {@return the default path for {@code table}: {@link #ZERO_COPY} up to {@link #ZERO_COPY_MAX_TABLE_BYTES},
     * else {@link #CPU}} The threshold follows zero-copy read rates measured on an H100; the host-table benchmark
     * measures both paths on the machine at hand.
     *
     * @param table the layer's rows in host memory; only its size in bytes matters
     */
    public static HostGatherPath defaultFor(HostTable table) {
        return table.byteSize() <= ZERO_COPY_MAX_TABLE_BYTES ? ZERO_COPY : CPU;
    }
}
