package dev.engram.bench;

import dev.engram.EngramConfig;
import dev.engram.checkpoint.CheckpointHostTable;
import dev.engram.checkpoint.CheckpointHostTable.Placement;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.TableLayout;
import dev.engram.cuda.DType;
import dev.engram.gpu.HostGatherPath;
import dev.engram.gpu.HostTableLayer;
import dev.engram.gpu.Prefetch;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.io.SafetensorsDType;
import dev.engram.io.TensorInfo;
import dev.engram.table.CpuRowGather;
import dev.engram.table.Fp8HostTable;
import dev.engram.table.HostAllocation;
import dev.engram.table.HostMemory;
import dev.engram.table.HostTable;
import dev.engram.table.ProgressListener;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.engram.bench.Stats.median;
import static dev.engram.bench.Stats.min;

/**
 * {@link CheckpointLoadBench}'s host-table steps: the two {@link CheckpointHostTable.Placement}s of the same file's
 * table, so a GPU session can say which to prefer.
 * <ul>
 *   <li>{@code host-copy}: {@code CheckpointHostTable.load(COPY)}, pinned huge-page memory (allocation, pinning and
 *       the parallel copy), ms and GB/s; without a GPU the same copy into huge-page memory that is not pinned;</li>
 *   <li>{@code host-register} (GPU only): {@code load(REGISTER)} ({@code cudaHostRegister} read-only of the file's
 *       range, page cache warm), ms, and the close (unregister + unmap), ms;</li>
 *   <li>{@code host-lookup}: with a GPU, the {@link HostTableLayer} prefetch of {@code batch x seq} random tokens
 *       (hash + gather + copy until the rows are on the device) on each placement's table, CPU and ZERO_COPY paths,
 *       median ms, rows/s and payload GB/s; without one, the CPU gather alone ({@link CpuRowGather}, hashes
 *       precomputed) from the copy (huge pages) and from the file's mapping (the page-cache pages REGISTER would pin,
 *       not registered).</li>
 * </ul>
 * A BF16 table is placed as a {@link HostTable} (BFLOAT16 storage); an fp8 table ({@code --table fp8}) as an
 * {@link Fp8HostTable} ({@link CheckpointHostTable#loadFp8}: codes and scales, the scales checked), its layer
 * dequantizing to BFLOAT16 on the GPU; its load bytes and lookup payload are code + scale bytes.
 */
final class HostTablePlacements {
    /** Untimed prefetches before a path is timed (the JIT compiles the hash and the gather's Java side). */
    private static final int WARMUP_REPS = 10;

    private final Path file;
    private final EngramConfig config;
    private final NgramHashMapping mapping;
    private final TableLayout layout;
    private final String kind;
    private final int reps;
    private final boolean fresh;
    private final int batch, seq, threads;
    private int scalesPerRow; // of an fp8 table, else 0

    HostTablePlacements(Path file, EngramConfig config, NgramHashMapping mapping, TableLayout layout, String kind,
                        int reps, boolean fresh, int batch, int seq, int threads) {
        this.file = file;
        this.config = config;
        this.mapping = mapping;
        this.layout = layout;
        this.kind = kind;
        this.reps = reps;
        this.fresh = fresh;
        this.batch = batch;
        this.seq = seq;
        this.threads = threads;
    }

    void run(boolean gpu) {
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
            CheckpointLayer l = CheckpointLayer.open(c, "", config, layout);
            scalesPerRow = isFp8(l) ? config.headDim() / l.fp8Block().getAsInt() : 0;
            if (gpu) onGpu(l);
            else onCpu(l);
        }
    }

    /** A placed table of either kind and the host-table layer over it. */
    private interface Placed extends AutoCloseable {
        HostTableLayer layer(HostTableLayer.Options options);

        @Override
        void close();
    }

    /** {@code CheckpointHostTable.load} (BF16) or {@code loadFp8} (fp8, dequantized to BF16), as the file's table is. */
    private Placed load(CheckpointLayer l, Placement p) {
        if (isFp8(l)) {
            Fp8HostTable t = CheckpointHostTable.loadFp8(l, p, ProgressListener.NONE);
            return new Placed() {
                public HostTableLayer layer(HostTableLayer.Options o) {
                    return CheckpointHostTable.layer(mapping, l, t, DType.BFLOAT16, o);
                }

                public void close() {
                    t.close();
                }
            };
        }
        HostTable t = CheckpointHostTable.load(l, p, DType.BFLOAT16, ProgressListener.NONE);
        return new Placed() {
            public HostTableLayer layer(HostTableLayer.Options o) {
                return CheckpointHostTable.layer(mapping, l, t, o);
            }

            public void close() {
                t.close();
            }
        };
    }

    private static boolean isFp8(CheckpointLayer l) {
        return l.tableDtype() == SafetensorsDType.F8_E4M3;
    }

    /** The table's bytes in the file: the codes and the scales of an fp8 table. */
    private static long tableBytes(CheckpointLayer l) {
        long bytes = l.tensor(EngramTensorNames.EMBEDDING_WEIGHT).byteSize();
        return isFp8(l) ? bytes + l.tensor(EngramTensorNames.EMBEDDING_SCALE).byteSize() : bytes;
    }

    private void onGpu(CheckpointLayer l) {
        long bytes = tableBytes(l);
        double[] ms = new double[reps];
        for (int r = -1; r < reps; r++) {
            long t = System.nanoTime();
            try (Placed table = load(l, Placement.COPY)) {
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
        }
        CheckpointLoadBench.emit("host-copy", kind, bytes, ms, fresh, "CheckpointHostTable.load" + (isFp8(l) ? "Fp8" : "")
                + "(COPY): huge-page mmap + cudaHostRegister + parallel copy (" + Runtime.getRuntime().availableProcessors()
                + " threads)" + (isFp8(l) ? ", scale bytes checked" : ""));
        double[] close = new double[reps];
        for (int r = -1; r < reps; r++) {
            long t = System.nanoTime();
            Placed table = load(l, Placement.REGISTER);
            long registered = System.nanoTime();
            table.close();
            if (r >= 0) {
                ms[r] = (registered - t) / 1e6;
                close[r] = (System.nanoTime() - registered) / 1e6;
            }
        }
        CheckpointLoadBench.emit("host-register", kind, bytes, ms, fresh, String.format(Locale.ROOT,
                "CheckpointHostTable.load%s(REGISTER): map the range%s + cudaHostRegister(ReadOnly)%s; close (unregister"
                        + " + unmap) median %.2f ms", isFp8(l) ? "Fp8" : "", isFp8(l) ? "s of codes and scales" : "",
                isFp8(l) ? " x2 + scale check" : "", median(close)));
        for (Placement p : Placement.values()) {
            try (Placed table = load(l, p)) {
                for (HostGatherPath path : new HostGatherPath[] {HostGatherPath.CPU, HostGatherPath.ZERO_COPY}) {
                    HostTableLayer.Options o = HostTableLayer.Options.of(path, batch * seq).withGatherThreads(threads);
                    try (HostTableLayer layer = table.layer(o)) {
                        prefetches(layer, p, path);
                    }
                }
            }
        }
    }

    private void prefetches(HostTableLayer layer, Placement placement, HostGatherPath path) {
        long[][] ids = randomIds(4, batch * seq, 13);
        double[] ms = new double[reps];
        for (int r = -WARMUP_REPS; r < reps; r++) {
            long t = System.nanoTime();
            Prefetch p = layer.prefetch(ids[Math.floorMod(r, ids.length)], batch, seq);
            p.ready().synchronize();
            if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
        }
        lookup(placement.name().toLowerCase(Locale.ROOT), path.name(), ms, "HostTableLayer.prefetch until ready (hash +"
                + " gather + copy), " + threads + " gather threads");
    }

    private void onCpu(CheckpointLayer l) {
        if (isFp8(l)) {
            onCpuFp8(l);
            return;
        }
        long bytes = tableBytes(l);
        HostMemory hugePages = HostMemory.anonymousMapping(true);
        double[] ms = new double[reps];
        for (int r = -1; r < reps; r++) {
            long t = System.nanoTime();
            try (HostTable table = CheckpointHostTable.copy(l, DType.BFLOAT16, hugePages, threads, ProgressListener.NONE)) {
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
        }
        CheckpointLoadBench.emit("host-copy", kind, bytes, ms, fresh, "CheckpointHostTable.copy into huge-page mmap,"
                + " NOT pinned (no GPU), " + threads + " threads");
        skip("host-register", "needs a GPU (cudaHostRegister)");
        long[] hash = mapping.hashCompressed(randomIds(1, batch * seq, 17)[0], batch, seq, SyntheticCheckpoint.LAYER_ID);
        try (HostTable copy = CheckpointHostTable.copy(l, DType.BFLOAT16, hugePages, threads, ProgressListener.NONE);
             HostTable mapped = mappedTable(l.tensor(EngramTensorNames.EMBEDDING_WEIGHT))) {
            gatherOnly(copy, hash, "copy", "the COPY table (huge pages, not pinned)");
            gatherOnly(mapped, hash, "register", "the file's mapping (the pages REGISTER pins, not registered)");
        }
    }

    /** {@link #onCpu} for an fp8 table: {@code copyFp8} into huge pages, and the gathers of code and scale rows. */
    private void onCpuFp8(CheckpointLayer l) {
        long bytes = tableBytes(l);
        HostMemory hugePages = HostMemory.anonymousMapping(true);
        double[] ms = new double[reps];
        for (int r = -1; r < reps; r++) {
            long t = System.nanoTime();
            try (Fp8HostTable table = CheckpointHostTable.copyFp8(l, hugePages, threads, ProgressListener.NONE)) {
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
        }
        CheckpointLoadBench.emit("host-copy", kind, bytes, ms, fresh, "CheckpointHostTable.copyFp8 into huge-page mmap,"
                + " NOT pinned (no GPU), " + threads + " threads, scale bytes checked");
        skip("host-register", "needs a GPU (cudaHostRegister)");
        long[] hash = mapping.hashCompressed(randomIds(1, batch * seq, 17)[0], batch, seq, SyntheticCheckpoint.LAYER_ID);
        TensorInfo codes = l.tensor(EngramTensorNames.EMBEDDING_WEIGHT), scales = l.tensor(EngramTensorNames.EMBEDDING_SCALE);
        try (Fp8HostTable copy = CheckpointHostTable.copyFp8(l, hugePages, threads, ProgressListener.NONE);
             Fp8HostTable mapped = Fp8HostTable.of(codes.shape()[0], (int) codes.shape()[1],
                     (int) (codes.shape()[1] / scales.shape()[1]), mapRange(codes), mapRange(scales))) {
            gatherOnlyFp8(copy, hash, "copy", "the COPY table (huge pages, not pinned)");
            gatherOnlyFp8(mapped, hash, "register", "the file's mappings (the pages REGISTER pins, not registered)");
        }
    }

    private void gatherOnlyFp8(Fp8HostTable table, long[] hash, String placement, String what) {
        var layer = mapping.layer(SyntheticCheckpoint.LAYER_ID);
        try (CpuRowGather gather = new CpuRowGather(threads); Arena arena = Arena.ofShared()) {
            long tokens = (long) batch * seq;
            MemorySegment codes = arena.allocate(CpuRowGather.codeBytes(table, layer, tokens), 64);
            MemorySegment scales = arena.allocate(Math.max(1, CpuRowGather.scaleBytes(table, layer, tokens)), 64);
            double[] ms = new double[reps];
            for (int r = -WARMUP_REPS; r < reps; r++) {
                long t = System.nanoTime();
                gather.gather(table, layer, hash, codes, scales);
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
            lookup(placement, "cpu-gather-only", ms, "CpuRowGather of code + scale rows (" + threads + " threads, "
                    + (gather.copiesNatively() ? "native" : "Java") + " copy) from " + what + ", no GPU");
        }
    }

    private void gatherOnly(HostTable table, long[] hash, String placement, String what) {
        try (CpuRowGather gather = new CpuRowGather(threads); Arena arena = Arena.ofShared()) {
            MemorySegment dst = arena.allocate(CpuRowGather.outputBytes(table, mapping.layer(SyntheticCheckpoint.LAYER_ID),
                    (long) batch * seq), 64);
            double[] ms = new double[reps];
            for (int r = -WARMUP_REPS; r < reps; r++) {
                long t = System.nanoTime();
                gather.gather(table, mapping.layer(SyntheticCheckpoint.LAYER_ID), hash, dst);
                if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
            }
            lookup(placement, "cpu-gather-only", ms, "CpuRowGather (" + threads + " threads, " + (gather.copiesNatively()
                    ? "native" : "Java") + " copy) from " + what + ", no GPU");
        }
    }

    /** The tensor's range of the file mapped read-only, as a table: what REGISTER pins, here without a GPU. */
    private static HostTable mappedTable(TensorInfo t) {
        long rows = t.shape()[0];
        return HostTable.allocate(rows, (int) t.shape()[1], DType.BFLOAT16, bytes -> mapRange(t));
    }

    /** The tensor's range of the file mapped read-only (not registered). */
    private static HostAllocation mapRange(TensorInfo t) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(t.file(), StandardOpenOption.READ)) {
            return new HostAllocation(ch.map(FileChannel.MapMode.READ_ONLY, t.fileOffset(), t.byteSize(), arena),
                    arena::close);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException(e);
        }
    }

    private void lookup(String placement, String path, double[] ms, String what) {
        long tokens = (long) batch * seq;
        long rows = tokens * config.headsPerLayer();
        long payload = scalesPerRow == 0 ? tokens * config.engramHiddenSize() * 2 // bf16 rows; fp8: code + scale bytes
                : rows * (config.headDim() + scalesPerRow);
        double med = median(ms);
        System.out.printf(Locale.ROOT, "  host-lookup %-8s %-15s %dx%d tokens: median %.3f ms [min %.3f], %.1f M rows/s,"
                        + " %.2f GB/s of payload: %s%n", placement, path, batch, seq, med, min(ms), rows / (med * 1e-3) / 1e6,
                payload / (med * 1e-3) / 1e9, what);
        Map<String, Object> json = CheckpointLoadBench.head("host-lookup", kind);
        json.put("placement", placement);
        json.put("path", path);
        json.put("tokens", tokens);
        json.put("ms", med);
        json.put("ms_min", min(ms));
        json.put("rows_per_s", rows / (med * 1e-3));
        json.put("payload_GBps", payload / (med * 1e-3) / 1e9);
        System.out.println(JsonLine.of(json));
    }

    private void skip(String step, String why) {
        System.out.println("  " + step + ": skipped: " + why);
        Map<String, Object> json = CheckpointLoadBench.head(step, kind);
        json.put("skipped", why);
        System.out.println(JsonLine.of(json));
    }

    private static long[][] randomIds(int sets, int tokens, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[][] ids = new long[sets][tokens];
        for (long[] set : ids) for (int i = 0; i < tokens; i++) set[i] = r.nextLong(99_000); // the config's compressed vocab
        return ids;
    }
}
