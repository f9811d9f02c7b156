package dev.engram.cli;

import dev.engram.EngramConfig;
import dev.engram.EngramConfigJson;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LittleEndianFiles;
import dev.engram.tokenizer.CompressionTable;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** {@code hash}: n-gram hash ids of a file of token ids for every layer, or the hash parameters as JSON. */
final class HashCommand implements Command {
    private static final Set<String> VALUES = Set.of("config", "lut", "ids", "batch", "seq", "out");
    private static final List<String> HASH_ONLY = List.of("ids", "batch", "seq", "out");

    @Override
    public String name() {
        return "hash";
    }

    @Override
    public String summary() {
        return "hash ids of a token-id file for every layer, or (--describe) the hash parameters as JSON";
    }

    @Override
    public String help() {
        return """
                usage: engram hash --config CONFIG.json [--lut LUT.i32.bin] --ids IDS.i64.bin --batch B --seq T --out OUT.i64.bin
                       engram hash --config CONFIG.json [--lut LUT.i32.bin] --describe

                Hashes token ids [B, T] (int64 little-endian, row-major) exactly as the reference
                NgramHashMapping does and writes, for each layer in layer_ids order, the hash ids [B, T, heads]
                as int64 little-endian, concatenated: layer_ids.size() * B * T * heads values.

                options:
                  --config FILE   EngramConfig JSON (snake_case keys, flat or {engram_config, backbone_config})
                  --lut FILE      compression table: raw id -> compressed id, int32 (*.i32.bin) or int64 (*.i64.bin)
                                  little-endian; ids are raw tokenizer ids and pad_id is a raw id.
                                  Without --lut the config must give compressed_vocab_size: the ids are then
                                  taken as already compressed, and so is pad_id (use the compressed pad id).
                  --ids FILE      token ids, int64 little-endian, exactly B*T*8 bytes; negative ids pass through
                                  uncompressed, ids past the table are an error
                  --batch B       rows (sequences); each row is left-padded with the pad id on its own
                  --seq T         tokens per row
                  --out FILE      where to write the hash ids
                  --describe      print compressed_vocab_size, pad_id_compressed and per layer the multipliers,
                                  moduli, table offsets and total_rows as JSON, instead of hashing
                """;
    }

    @Override
    public int run(String[] argv, PrintStream out) {
        Args args = Args.parse(name(), argv, VALUES, Set.of("describe"));
        boolean describe = args.flag("describe");
        Path configFile = args.requiredPath("config");
        if (describe) {
            for (String o : HASH_ONLY) {
                if (args.has(o)) throw new UsageException("--describe only prints the hash parameters; drop --" + o);
            }
        }
        // Every usage error before any file is read.
        int batch = describe ? 0 : args.requiredInt("batch", 1);
        int seqLen = describe ? 0 : args.requiredInt("seq", 1);
        Path idsFile = describe ? null : args.requiredPath("ids");
        Path outFile = describe ? null : args.requiredPath("out");
        Path lut = args.path("lut");
        if (lut != null && !isTableName(lut)) {
            throw new UsageException("--lut must name a *.i32.bin or *.i64.bin file (the name gives the dtype), got " + lut);
        }
        NgramHashMapping mapping = mapping(EngramConfigJson.read(configFile), lut);
        if (describe) {
            out.println(HashDescription.toJson(mapping));
            return Main.OK;
        }
        long[] ids = readIds(idsFile, batch, seqLen);
        int heads = mapping.config().headsPerLayer();
        List<Integer> layers = mapping.layerIds();
        long[] all = new long[Math.multiplyExact(Math.multiplyExact(ids.length, heads), layers.size())];
        for (int i = 0; i < layers.size(); i++) {
            long[] h = mapping.hash(ids, batch, seqLen, layers.get(i));
            System.arraycopy(h, 0, all, i * h.length, h.length);
        }
        LittleEndianFiles.writeInt64(outFile, all);
        out.printf(Locale.ROOT, "wrote %s: layers %s, each [%d, %d, %d] int64 hash ids (%d bytes in all)%n",
                outFile, layers, batch, seqLen, heads, 8L * all.length);
        return Main.OK;
    }

    private static NgramHashMapping mapping(EngramConfig config, Path lut) {
        if (lut == null) {
            if (config.compressedVocabSize().isEmpty()) {
                throw new UsageException("without --lut the config must give compressed_vocab_size"
                        + " (the ids are then taken as already compressed)");
            }
            return NgramHashMapping.forCompressedIds(config);
        }
        CompressionTable table = CompressionTable.load(lut);
        if (config.compressedVocabSize().isPresent() && config.compressedVocabSize().getAsLong() != table.compressedVocabSize()) {
            // V' sets the multipliers: a mismatch would silently give other hash ids.
            throw new IllegalArgumentException("config compressed_vocab_size " + config.compressedVocabSize().getAsLong()
                    + " differs from the V' of " + lut + " (" + table.compressedVocabSize() + ")");
        }
        return NgramHashMapping.create(config, table);
    }

    private static long[] readIds(Path file, int batch, int seqLen) {
        long expected = 8L * batch * seqLen;
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        if (size != expected) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s: %d bytes, expected B*T*8 = %d*%d*8 = %d bytes of int64 ids", file, size, batch, seqLen, expected));
        }
        return LittleEndianFiles.readInt64(file, (long) batch * seqLen);
    }

    private static boolean isTableName(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".i32.bin") || n.endsWith(".i64.bin");
    }
}
