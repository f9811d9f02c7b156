package dev.engram.bench;

import dev.engram.cuda.DType;
import dev.engram.hash.LayerHashing;
import dev.engram.nativelib.NativeLibraryLoader;
import dev.engram.table.CpuRowGather;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.RandomRows;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@link CpuRowGather} at the reference default config's shape: 16 heads x 64 columns, B=4 x T=4096 =
 * {@value #TOKENS} tokens, so one operation copies {@value #ROWS_PER_OP} random rows: 32 MiB of payload in
 * BFLOAT16 (128 B rows), 64 MiB in FLOAT32. GB/s of payload = payload bytes / (time per op).
 *
 * <p>The table holds {@code tableMiB} MiB of random rows (default 1 GiB, to fit small machines; pass e.g.
 * {@code -p tableMiB=16384} on a large one), split into 16 equal head ranges; hash ids are uniform in each
 * head's range, as random tokens hash. {@code memory} picks the table's allocator: {@code plain}
 * ({@link HostMemory#plain()}), {@code mmap} or {@code mmap-huge} (anonymous mapping without or with
 * {@code MADV_HUGEPAGE}, Linux). The destination is plain memory here; on a GPU machine it would be a pinned
 * staging buffer. {@code copy} picks the row copy: libengram's prefetching {@code engram_host_gather_rows} or
 * {@code MemorySegment.copy} per row in Java. {@link #copyContiguous} copies the same payload from one contiguous range on one thread,
 * the machine's memory-copy ceiling for comparison (it ignores {@code threads}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CpuGatherBenchmark {
    /** Tokens per operation (B=4 x T=4096). */
    public static final int TOKENS = 4 * 4096;
    /** Hash heads per token at the default config ((N-1) x K = 2 x 8). */
    public static final int HEADS = 16;
    /** Columns per head at the default config. */
    public static final int HEAD_DIM = 64;
    /** Rows copied per operation. */
    public static final int ROWS_PER_OP = TOKENS * HEADS;

    /** Table size in MiB. */
    @Param("1024")
    public long tableMiB;

    /** Table dtype: BFLOAT16 or FLOAT32. */
    @Param({"BFLOAT16", "FLOAT32"})
    public String dtype;

    /** Gather threads, the caller's included. */
    @Param({"1", "2"})
    public int threads;

    /** Table memory: plain, mmap or mmap-huge. */
    @Param("plain")
    public String memory;

    /** Tokens per call in {@link #gatherInChunks} (HostTableLayer's CPU path uses 2048). */
    @Param("2048")
    public int chunkTokens;

    /** Row copy: native (libengram's prefetching copy) or java ({@code MemorySegment.copy} per row). */
    @Param({"native", "java"})
    public String copy;

    private HostTable table;
    private LayerHashing layer;
    private long[] hashIds;
    private Arena arena;
    private MemorySegment dst;
    private CpuRowGather gather;

    /** Allocates and fills the table, draws the hash ids and starts the pool; none of it is measured. */
    @Setup
    public void setUp() {
        DType type = DType.valueOf(dtype);
        long rowBytes = (long) HEAD_DIM * type.byteSize();
        long rows = (tableMiB << 20) / rowBytes / HEADS * HEADS;
        long[] moduli = new long[HEADS];
        java.util.Arrays.fill(moduli, rows / HEADS);
        layer = LayerHashing.of(0, new long[] {1, 1, 1}, moduli);
        HostMemory mem = switch (memory) {
            case "plain" -> HostMemory.plain();
            case "mmap" -> HostMemory.anonymousMapping(false);
            case "mmap-huge" -> HostMemory.anonymousMapping(true);
            default -> throw new IllegalArgumentException("memory must be plain, mmap or mmap-huge, got " + memory);
        };
        table = HostTable.allocate(rows, HEAD_DIM, type, mem);
        RandomRows.fill(table, 1, 1.0, Runtime.getRuntime().availableProcessors());
        SplittableRandom rng = new SplittableRandom(42);
        hashIds = new long[ROWS_PER_OP];
        for (int i = 0; i < hashIds.length; i++) hashIds[i] = rng.nextLong(moduli[i % HEADS]);
        arena = Arena.ofShared();
        dst = arena.allocate(CpuRowGather.outputBytes(table, layer, TOKENS), HostMemory.PAGE_BYTES);
        gather = new CpuRowGather(threads, switch (copy) {
            case "native" -> true;
            case "java" -> false;
            default -> throw new IllegalArgumentException("copy must be native or java, got " + copy);
        });
        if (copy.equals("native") && !gather.copiesNatively()) {
            throw new IllegalStateException("copy=native, but libengram is not loaded: "
                    + NativeLibraryLoader.load().describe());
        }
    }

    /** Releases the pool, the destination and the table. */
    @TearDown
    public void tearDown() {
        gather.close();
        arena.close();
        table.close();
    }

    /** One layer's rows for {@value #TOKENS} tokens into the staging buffer (ids validated, then copied). */
    @Benchmark
    public void gather() {
        gather.gather(table, layer, hashIds, dst);
    }

    /**
     * The same rows gathered {@code chunkTokens} tokens per call, as {@code HostTableLayer}'s CPU path does to
     * overlap each chunk's copy to the device with the next chunk's gather: adds the per-call cost (two pool
     * jobs per call: validate, copy).
     */
    @Benchmark
    public void gatherInChunks() {
        int heads = layer.heads();
        long tokenBytes = (long) heads * table.rowBytes();
        for (int first = 0; first < TOKENS; first += chunkTokens) {
            int n = Math.min(chunkTokens, TOKENS - first);
            gather.gather(table, layer, hashIds, first, n, dst.asSlice(first * tokenBytes, n * tokenBytes));
        }
    }

    /**
     * The same payload copied contiguously from the table's start on one thread (wrapping around a table smaller
     * than the payload): the memory-copy ceiling of the machine, for comparison.
     */
    @Benchmark
    public void copyContiguous() {
        MemorySegment src = table.segment();
        for (long off = 0; off < dst.byteSize(); ) {
            long n = Math.min(src.byteSize(), dst.byteSize() - off);
            MemorySegment.copy(src, 0, dst, off, n);
            off += n;
        }
    }
}
