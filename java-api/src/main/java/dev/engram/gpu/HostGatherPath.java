package dev.engram.gpu;

import dev.engram.table.Fp8HostTable;
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
    ZERO_COPY,
    /**
     * Both, chosen per prefetch: {@link #ZERO_COPY} for a prefetch of at most {@code zeroCopyMaxTokens} tokens
     * ({@link HostTableLayer.Options#zeroCopyMaxTokens()}, default {@link #autoZeroCopyMaxTokens()}), {@link #CPU}
     * above. A lookup of a few tokens (a decode step) is latency bound: the kernel's few reads over PCIe should beat
     * waking CPU threads and a separate copy, while a large batch moves faster through the CPU gather. The layer keeps
     * both paths' staging (the zero-copy ids staging only for {@code zeroCopyMaxTokens} tokens). Zero-copy needs the
     * table in pinned, mapped host memory ({@link dev.engram.table.PinnedHostMemory}); with any other table
     * {@code AUTO} takes the CPU path for every prefetch.
     */
    AUTO;

    /**
     * The default of {@code zeroCopyMaxTokens} for {@link #AUTO}: 64 tokens. <b>A guess, not a measurement</b>: no
     * GPU was lent when it was set; the host-table benchmark should measure where the two paths cross on the machine
     * at hand and this value should follow. Overridden by the system property
     * {@value #AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY} or per layer.
     */
    public static final int AUTO_ZERO_COPY_MAX_TOKENS = 64;

    /** The system property that overrides {@link #AUTO_ZERO_COPY_MAX_TOKENS} (an integer {@code >= 0}). */
    public static final String AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY = "engram.hostTable.autoZeroCopyMaxTokens";

    /**
     * {@return the default {@code zeroCopyMaxTokens} of {@link #AUTO}: the system property
     * {@value #AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY} when set, else {@link #AUTO_ZERO_COPY_MAX_TOKENS}}
     *
     * @throws IllegalArgumentException when the property is set but not an integer {@code >= 0}
     */
    public static int autoZeroCopyMaxTokens() {
        String value = System.getProperty(AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY);
        if (value == null) return AUTO_ZERO_COPY_MAX_TOKENS;
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("system property " + AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY + " must be an integer"
                + " >= 0, got \"" + value + "\"");
    }

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

    /**
     * {@return the default path for an fp8 table: by its size in bytes (codes and scales), as
     * {@link #defaultFor(HostTable)}}
     *
     * @param table the layer's fp8 rows in host memory; only its size in bytes matters
     */
    public static HostGatherPath defaultFor(Fp8HostTable table) {
        return table.byteSize() <= ZERO_COPY_MAX_TABLE_BYTES ? ZERO_COPY : CPU;
    }
}
