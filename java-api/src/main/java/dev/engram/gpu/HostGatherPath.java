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
     * Both, chosen per prefetch: {@link #ZERO_COPY} for a prefetch of {@code zeroCopyMinTokens} to
     * {@code zeroCopyMaxTokens} tokens ({@link HostTableLayer.Options}, defaults {@link #autoZeroCopyMinTokens()} and
     * {@link #autoZeroCopyMaxTokens()}), {@link #CPU} for smaller and larger ones. Measured on the H200 machine with a
     * 1 GiB bf16 table (bench/RESULTS.md, "Serving shapes"): a pipelined decode step took 28.0 / 31.9 / 61.7 / 97.5 us
     * on the CPU path and 33.2 / 34.5 / 35.7 / 92.3 us zero copy for 1 / 8 / 64 / 256 tokens; a 16,384-token prefetch
     * runs faster through the CPU path, and zero copy slows concurrent GEMMs. The layer keeps both paths' staging
     * (the zero-copy ids staging only for {@code zeroCopyMaxTokens} tokens). Zero-copy needs the table in pinned,
     * mapped host memory ({@link dev.engram.table.PinnedHostMemory}); with any other table {@code AUTO} takes the CPU
     * path for every prefetch.
     */
    AUTO;

    /**
     * The default of {@code zeroCopyMaxTokens} for {@link #AUTO}: 64 tokens, where zero copy measured 1.7x faster than
     * the CPU path (35.7 against 61.7 us per decode step, H200, 1 GiB table); at 256 tokens the two were within 6%.
     * Overridden by the system property {@value #AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY} or per layer.
     */
    public static final int AUTO_ZERO_COPY_MAX_TOKENS = 64;

    /** The system property that overrides {@link #AUTO_ZERO_COPY_MAX_TOKENS} (an integer {@code >= 0}). */
    public static final String AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY = "engram.hostTable.autoZeroCopyMaxTokens";

    /**
     * The default of {@code zeroCopyMinTokens} for {@link #AUTO}: 16 tokens. The CPU path measured faster at 1 and 8
     * tokens (28.0 and 31.9 against 33.2 and 34.5 us per decode step), zero copy at 64; where they cross between 8
     * and 64 is <b>not measured</b>, 16 is a point in that interval. Overridden by the system property
     * {@value #AUTO_ZERO_COPY_MIN_TOKENS_PROPERTY} or per layer.
     */
    public static final int AUTO_ZERO_COPY_MIN_TOKENS = 16;

    /** The system property that overrides {@link #AUTO_ZERO_COPY_MIN_TOKENS} (an integer {@code >= 0}). */
    public static final String AUTO_ZERO_COPY_MIN_TOKENS_PROPERTY = "engram.hostTable.autoZeroCopyMinTokens";

    /**
     * {@return the default {@code zeroCopyMaxTokens} of {@link #AUTO}: the system property
     * {@value #AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY} when set, else {@link #AUTO_ZERO_COPY_MAX_TOKENS}}
     *
     * @throws IllegalArgumentException when the property is set but not an integer {@code >= 0}
     */
    public static int autoZeroCopyMaxTokens() {
        return tokensProperty(AUTO_ZERO_COPY_MAX_TOKENS_PROPERTY, AUTO_ZERO_COPY_MAX_TOKENS);
    }

    /**
     * {@return the default {@code zeroCopyMinTokens} of {@link #AUTO}: the system property
     * {@value #AUTO_ZERO_COPY_MIN_TOKENS_PROPERTY} when set, else {@link #AUTO_ZERO_COPY_MIN_TOKENS}}
     *
     * @throws IllegalArgumentException when the property is set but not an integer {@code >= 0}
     */
    public static int autoZeroCopyMinTokens() {
        return tokensProperty(AUTO_ZERO_COPY_MIN_TOKENS_PROPERTY, AUTO_ZERO_COPY_MIN_TOKENS);
    }

    private static int tokensProperty(String name, int fallback) {
        String value = System.getProperty(name);
        if (value == null) return fallback;
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("system property " + name + " must be an integer >= 0, got \"" + value + "\"");
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
