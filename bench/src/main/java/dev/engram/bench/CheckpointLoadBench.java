package dev.engram.bench;

import dev.engram.Engram;
import dev.engram.EngramConfig;
import dev.engram.GpuStatus;
import dev.engram.checkpoint.CheckpointLayer;
import dev.engram.checkpoint.GpuLayerWeights;
import dev.engram.checkpoint.TableLayout;
import dev.engram.cuda.CudaDevice;
import dev.engram.cuda.DType;
import dev.engram.gpu.EngramLayer;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.EngramTensorNames;
import dev.engram.io.SafetensorsCheckpoint;
import dev.engram.reference.DenseWeights;
import dev.engram.reference.EmbeddingRows;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import static dev.engram.bench.Stats.median;
import static dev.engram.bench.Stats.min;

/**
 * Checkpoint loading (issue 13): a one-layer safetensors file with a table of about {@code --gib} GiB
 * ({@link SyntheticCheckpoint}: BF16, or F8_E4M3 + E8M0 scales with {@code --table fp8}) and F32 dense tensors,
 * written once and reused while its size fits, then, each the median of {@code --reps}:
 * <ol>
 *   <li>{@code read}: a plain sequential read of the whole file (FileChannel into an 8 MiB direct buffer), GB/s: the
 *       rate every other step is compared with;</li>
 *   <li>{@code open}: {@code SafetensorsCheckpoint.open} (map, parse and validate the header) plus
 *       {@code CheckpointLayer.open} (names, dtypes and shapes against the config), ms;</li>
 *   <li>{@code touch}: a sum of every long of the table through the mapped segment, GB/s;</li>
 *   <li>{@code cpu-load}: what the CPU reference needs, {@code denseWeights()} and {@code table()} (in place for
 *       BF16; an fp8 table reads every scale byte once), on a fresh open each time, ms;</li>
 *   <li>{@code gpu-upload} (with a GPU): {@code GpuLayerWeights.of} + {@code EngramLayer.create} (BF16 storage; an
 *       fp8 table is uploaded as its codes and scales), in table bytes per second (the total the upload's progress
 *       listener reports), beside a pinned H2D
 *       {@code cudaMemcpyAsync} of the same bytes; without one a skip line says why;</li>
 *   <li>{@code host-copy}, {@code host-register}, {@code host-lookup} ({@link HostTablePlacements}, with
 *       {@code --host on}, the default; a BF16 table as a HostTable, an fp8 one as an Fp8HostTable of its codes
 *       and scales): the two ways to keep the table in host memory for a
 *       {@code HostTableLayer} ({@code CheckpointHostTable.Placement}), their load times and the prefetch rate of
 *       {@code --lookup-batch x --lookup-seq} tokens on each (CPU and ZERO_COPY paths); without a GPU the copy into
 *       unpinned huge pages and the CPU gather alone.</li>
 * </ol>
 * <b>The page cache is not dropped</b> (that needs root, and {@code posix_fadvise(POSIX_FADV_DONTNEED)} is not
 * reachable from Java without a native binding the library lacks), so these are warm-cache rates: the file was just
 * written or read. Cold rates need {@code echo 1 > /proc/sys/vm/drop_caches} (root) before a run with
 * {@code --reps 1}. A benchmark, not a test: it prints numbers and JSON lines ({@code "bench": "checkpoint-load"}).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx4g -cp bench/target/benchmarks.jar dev.engram.bench.CheckpointLoadBench \
 *      [--gib 0.25] [--table bf16|fp8] [--block 32] [--reps 5] [--file PATH] [--gpu auto|off]
 *      [--host on|off] [--lookup-batch 4] [--lookup-seq 4096] [--threads N]
 * </pre>
 */
public final class CheckpointLoadBench {
    private CheckpointLoadBench() {}

    /**
     * Runs the benchmark.
     *
     * @param argv the options of the class comment
     * @throws IOException when the checkpoint file cannot be written, sized or read
     */
    public static void main(String[] argv) throws IOException {
        Map<String, String> a = BenchArgs.parse(argv, "CheckpointLoadBench [--gib G] [--table bf16|fp8] [--block B] [--reps R]"
                        + " [--file PATH] [--gpu auto|off] [--host on|off] [--lookup-batch B] [--lookup-seq T] [--threads N]",
                "gib", "table", "block", "reps", "file", "gpu", "host", "lookup-batch", "lookup-seq", "threads");
        double gib = Double.parseDouble(a.getOrDefault("gib", "0.25"));
        boolean fp8 = a.getOrDefault("table", "bf16").equals("fp8");
        int block = fp8 ? Integer.parseInt(a.getOrDefault("block", "32")) : 0;
        int reps = Integer.parseInt(a.getOrDefault("reps", "5"));
        String kind = fp8 ? "fp8-b" + block : "bf16";
        Path file = Path.of(a.getOrDefault("file", Path.of(System.getProperty("java.io.tmpdir"),
                String.format(Locale.ROOT, "engram-ckptbench-%s-%.3fgib.safetensors", kind, gib)).toString()));
        EngramConfig config = SyntheticCheckpoint.config(gib, fp8 ? 1 + 1.0 / block : 2);
        NgramHashMapping mapping = NgramHashMapping.forCompressedIds(config);
        TableLayout layout = TableLayout.of(mapping.layer(SyntheticCheckpoint.LAYER_ID));

        boolean fresh = !fits(file, config, layout);
        if (fresh) {
            long t = System.nanoTime();
            long bytes = SyntheticCheckpoint.write(file, config, block, 13);
            System.out.printf(Locale.ROOT, "CheckpointLoadBench: wrote %s (%.3f GiB) in %.1f s%n", file,
                    bytes / (double) (1L << 30), (System.nanoTime() - t) / 1e9);
        } else {
            System.out.printf(Locale.ROOT, "CheckpointLoadBench: reusing %s%n", file);
        }
        long fileBytes = Files.size(file);
        long tableBytes;
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
            tableBytes = c.tensor(EngramTensorNames.EMBEDDING_WEIGHT).byteSize();
        }
        System.out.printf(Locale.ROOT, "  table %s %,d rows x %d = %.3f GiB; file %.3f GiB; page cache NOT dropped:"
                        + " warm-cache rates (%s)%n", kind, layout.rows(), config.headDim(), tableBytes / (double) (1L << 30),
                fileBytes / (double) (1L << 30), fresh ? "the file was just written" : "the file was reused");
        System.out.printf(Locale.ROOT, "  %d cpus, load average %s%n", Runtime.getRuntime().availableProcessors(),
                Fp8GatherBench.loadAverage());

        double[] ms = new double[reps];
        for (int r = -1; r < reps; r++) put(ms, r, timeMs(() -> sequentialRead(file)));
        emit("read", kind, fileBytes, ms, fresh, "plain sequential read, FileChannel -> 8 MiB direct buffer");

        for (int r = -1; r < reps; r++) {
            put(ms, r, timeMs(() -> {
                try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
                    CheckpointLayer.open(c, "", config, layout);
                }
            }));
        }
        emit("open", kind, 0, ms, fresh, "SafetensorsCheckpoint.open + CheckpointLayer.open (header, names, shapes)");

        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
            MemorySegment table = c.data(EngramTensorNames.EMBEDDING_WEIGHT);
            long[] sink = new long[1];
            for (int r = -1; r < reps; r++) put(ms, r, timeMs(() -> sink[0] += sumLongs(table)));
            emit("touch", kind, tableBytes, ms, fresh, "sum of every long of the mapped table (checksum " + sink[0] + ")");
        }

        for (int r = -1; r < reps; r++) {
            put(ms, r, timeMs(() -> {
                try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
                    CheckpointLayer l = CheckpointLayer.open(c, "", config, layout);
                    DenseWeights dense = l.denseWeights();
                    EmbeddingRows rows = l.table();
                    if (dense.config() != config || rows.rows() != layout.rows()) throw new AssertionError("layer");
                }
            }));
        }
        emit("cpu-load", kind, fileBytes, ms, fresh, "open + denseWeights() + table() for the CPU reference"
                + (fp8 ? " (fp8: every scale byte checked)" : " (BF16 rows read in place)"));

        gpuUpload(a.getOrDefault("gpu", "auto"), file, config, mapping, layout, kind, reps, fresh);

        if (!a.getOrDefault("host", "on").equals("off")) {
            boolean gpu = !a.getOrDefault("gpu", "auto").equals("off") && Engram.gpuStatus().available();
            int threads = Integer.parseInt(a.getOrDefault("threads",
                    String.valueOf(Runtime.getRuntime().availableProcessors())));
            new HostTablePlacements(file, config, mapping, layout, kind, reps, fresh,
                    Integer.parseInt(a.getOrDefault("lookup-batch", "4")), Integer.parseInt(a.getOrDefault("lookup-seq", "4096")),
                    threads).run(gpu);
        }
    }

    private static void gpuUpload(String gpu, Path file, EngramConfig config, NgramHashMapping mapping, TableLayout layout,
                                  String kind, int reps, boolean fresh) {
        GpuStatus status = Engram.gpuStatus();
        String why = gpu.equals("off") ? "--gpu off" : status.available() ? null : status.describe();
        if (why != null) {
            System.out.println("  gpu-upload: skipped: " + why);
            Map<String, Object> json = head("gpu-upload", kind);
            json.put("skipped", why);
            System.out.println(JsonLine.of(json));
            return;
        }
        CudaDevice.get(0).makeCurrent();
        long[] uploaded = new long[1]; // the table upload's total, as its progress listener reports it
        double[] ms = new double[reps];
        long[] deviceBytes = new long[1];
        for (int r = -1; r < reps; r++) {
            try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file); Arena arena = Arena.ofShared()) {
                CheckpointLayer l = CheckpointLayer.open(c, "", config, layout);
                long t = System.nanoTime();
                var weights = GpuLayerWeights.of(l, DType.BFLOAT16, arena, (done, total) -> uploaded[0] = total);
                try (EngramLayer layer = EngramLayer.create(mapping, SyntheticCheckpoint.LAYER_ID, weights,
                        EngramLayer.Options.of(64))) {
                    if (r >= 0) ms[r] = (System.nanoTime() - t) / 1e6;
                    deviceBytes[0] = layer.deviceBytes();
                }
            }
        }
        long deviceTableBytes = uploaded[0];
        double memcpy = HostTableBench.pinnedCopyGBps(deviceTableBytes, Math.max(3, reps), 1);
        emit("gpu-upload", kind, deviceTableBytes, ms, fresh,
                "GpuLayerWeights.of + EngramLayer.create, BF16 storage; bytes = the table upload's (the dense"
                        + " tensors, converted to BF16, and the scratch come on top)");
        System.out.printf(Locale.ROOT, "  pinned H2D cudaMemcpyAsync of the same %.3f GiB: %.2f GB/s%n",
                deviceTableBytes / (double) (1L << 30), memcpy);
        Map<String, Object> json = head("gpu-upload-memcpy", kind);
        json.put("bytes", deviceTableBytes);
        json.put("layer_device_bytes", deviceBytes[0]); // the whole layer: table, dense tensors, scratch
        json.put("pinned_memcpy_GBps", memcpy);
        System.out.println(JsonLine.of(json));
    }

    /** Whether {@code file} exists and holds a layer of this config's shapes (else it is rewritten). */
    private static boolean fits(Path file, EngramConfig config, TableLayout layout) {
        if (!Files.isRegularFile(file)) return false;
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
            return CheckpointLayer.check(c, "", config, layout).isEmpty();
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static long sequentialRead(Path file) {
        ByteBuffer buf = ByteBuffer.allocateDirect(8 << 20);
        long total = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            int n;
            while ((n = ch.read(buf.clear())) >= 0) total += n;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return total;
    }

    private static long sumLongs(MemorySegment s) {
        long sum = 0, n = s.byteSize() / 8;
        for (long i = 0; i < n; i++) sum += s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
        for (long i = n * 8; i < s.byteSize(); i++) sum += s.get(ValueLayout.JAVA_BYTE, i);
        return sum;
    }

    /** Stores a timed repetition; {@code r < 0} is the untimed warm-up (JIT, first mapping). */
    private static void put(double[] ms, int r, double value) {
        if (r >= 0) ms[r] = value;
    }

    private static double timeMs(Runnable r) {
        long t = System.nanoTime();
        r.run();
        return (System.nanoTime() - t) / 1e6;
    }

    static Map<String, Object> head(String step, String kind) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("bench", "checkpoint-load");
        json.put("step", step);
        json.put("table", kind);
        return json;
    }

    static void emit(String step, String kind, long bytes, double[] ms, boolean fresh, String what) {
        double med = median(ms);
        double gbps = bytes > 0 ? bytes / (med * 1e-3) / 1e9 : Double.NaN; // no rate for the header-only step
        System.out.printf(Locale.ROOT, "  %-10s median %.2f ms [min %.2f]%s: %s%n", step, med, min(ms), bytes > 0
                ? String.format(Locale.ROOT, ", %.2f GB/s of %.3f GiB", gbps, bytes / (double) (1L << 30)) : "", what);
        Map<String, Object> json = head(step, kind);
        json.put("bytes", bytes);
        json.put("ms", med);
        json.put("ms_min", min(ms));
        json.put("GBps", gbps);
        json.put("page_cache", fresh ? "warm (just written)" : "warm (reused, not dropped)");
        System.out.println(JsonLine.of(json));
    }
}
