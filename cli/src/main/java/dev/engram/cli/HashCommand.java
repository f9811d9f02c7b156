package dev.engram.cli;

import dev.engram.EngramConfigJson;
import dev.engram.hash.NgramHashMapping;
import dev.engram.io.LittleEndianFiles;

import java.io.PrintStream;
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
        if (lut != null) InputFiles.checkTableName(lut);
        NgramHashMapping mapping = InputFiles.mapping(EngramConfigJson.read(configFile), lut);
        if (describe) {
            out.println(HashDescription.toJson(mapping));
            return Main.OK;
        }
        InputFiles.checkIdsSize(idsFile, batch, seqLen);
        long[] ids = LittleEndianFiles.readInt64(idsFile, (long) batch * seqLen);
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
}
