package dev.engram.reference;

import dev.engram.EngramConfig;
import dev.engram.hash.NgramHashMapping;
import dev.engram.testing.Golden;
import dev.engram.tokenizer.CompressionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input is an exception whose message names the problem, raised before any work is done. */
class BadInputTest {
    private static final EngramConfig CONFIG = EngramConfig.small().withCompressedVocabSize(4000);
    private static final NgramHashMapping MAPPING = NgramHashMapping.forCompressedIds(CONFIG);
    private static final ReferenceEngramLayer LAYER =
            new ReferenceEngramLayer(MAPPING, 1, RandomWeights.create(CONFIG, MAPPING.layer(1), 1));
    private static final int GH = CONFIG.hcMult() * CONFIG.hiddenSize();

    private static void assertMessage(Class<? extends Throwable> type, String part, Executable call) {
        Throwable e = assertThrows(type, call);
        assertTrue(e.getMessage().contains(part), "message was: " + e.getMessage());
    }

    @Test
    void wrongShapes() {
        assertMessage(IllegalArgumentException.class, "ids have 5 elements, expected [B, T] = [2, 3] = 6",
                () -> LAYER.forward(new long[5], new double[6 * GH], 2, 3));
        assertMessage(IllegalArgumentException.class, "hidden states have 10 elements, expected [B, T, G, H] = [2, 3, 4, 64]",
                () -> LAYER.forward(new long[6], new double[10], 2, 3));
        assertMessage(IllegalArgumentException.class, "batch and seqLen must be >= 1",
                () -> LAYER.forward(new long[0], new double[0], 0, 3));
    }

    @Test
    void idsOutsideTheCompressionTable() {
        long[] ids = {1, 2, 4000};
        assertMessage(IndexOutOfBoundsException.class, "token id 4000 at index 2 is outside the compression table (size 4000)",
                () -> LAYER.forward(ids, new double[3 * GH], 1, 3));
        assertMessage(IndexOutOfBoundsException.class, "token id 9 is outside the compression table (size 3)",
                () -> CompressionTable.of(new long[] {0, 1, 1}).compress(9));
    }

    @Test
    void unknownLayer() {
        assertMessage(IllegalArgumentException.class, "layer 2 is not an Engram layer (layer_ids = [1, 15])",
                () -> MAPPING.layer(2));
    }

    @Test
    void weightsOfAnotherLayer() {
        EngramWeights l15 = RandomWeights.create(CONFIG, MAPPING.layer(15), 2);
        assertMessage(IllegalArgumentException.class, "weights were built for layer 15",
                () -> new ReferenceEngramLayer(MAPPING, 1, l15));
    }

    @Test
    void weightsOfAnotherShape() {
        EngramWeights w = RandomWeights.create(CONFIG, MAPPING.layer(1), 3);
        assertMessage(IllegalArgumentException.class, "value_proj.weight has 10 elements, expected 4096 for shape [64, 64]",
                () -> new EngramWeights(CONFIG, MAPPING.layer(1), w.embedding(), w.keyWeight(), w.keyBias(), new float[10],
                        w.valueBias(), w.keyNormWeight(), w.queryNormWeight(), w.convNormWeight(), w.convWeight()));
        EngramConfig wider = new EngramConfig(CONFIG.engramVocabSize(), 3, 32, 4, CONFIG.layerIds(), 2, 0, 4, 128, 4,
                CONFIG.compressedVocabSize(), CONFIG.gateNormEps(), CONFIG.convNormEps());
        NgramHashMapping wm = NgramHashMapping.forCompressedIds(wider);
        EngramWeights ww = RandomWeights.create(wider, wm.layer(1), 4);
        assertMessage(IllegalArgumentException.class, "does not match the layer's (hidden_size 64",
                () -> new ReferenceEngramLayer(MAPPING, 1, ww));
    }

    @Test
    void stateDictFilesAreChecked(@TempDir Path dir) throws Exception {
        Path golden = Golden.dir().resolve("forward/main/L1/weights");
        EngramConfig main = EngramConfig.small();
        NgramHashMapping m = NgramHashMapping.create(main, CompressionTable.load(Golden.dir().resolve("forward/main/tokenizer/lookup_table.i64.bin")));
        // Layer 1's files offered as layer 15's: the stored offsets give it away.
        assertMessage(IllegalArgumentException.class, "differ from layer 15's",
                () -> StateDictFiles.load(golden, main, m.layer(15)));
        // A truncated file and a missing file.
        try (Stream<Path> files = Files.list(golden)) {
            for (Path f : (Iterable<Path>) files::iterator) Files.copy(f, dir.resolve(f.getFileName()));
        }
        Files.write(dir.resolve("value_proj.bias.f32.bin"), new byte[12]);
        assertMessage(IllegalArgumentException.class, "value_proj.bias.f32.bin: holds 3 elements of 4 bytes, expected 64",
                () -> StateDictFiles.load(dir, main, m.layer(1)));
        Files.write(dir.resolve("value_proj.bias.f32.bin"), new byte[13]);
        assertMessage(IllegalArgumentException.class, "size 13 bytes is not a multiple of 4",
                () -> StateDictFiles.load(dir, main, m.layer(1)));
        Files.copy(golden.resolve("value_proj.bias.f32.bin"), dir.resolve("value_proj.bias.f32.bin"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.delete(dir.resolve("norm2.3.weight.f32.bin"));
        assertMessage(IllegalArgumentException.class, "missing weight file for norm2.3.weight",
                () -> StateDictFiles.load(dir, main, m.layer(1)));
    }

    @Test
    void compressionTableFiles(@TempDir Path dir) throws Exception {
        Path noDtype = Files.write(dir.resolve("lut.bin"), new byte[8]);
        assertMessage(IllegalArgumentException.class, "cannot tell the dtype", () -> CompressionTable.load(noDtype));
        Path negative = Files.write(dir.resolve("lut.i32.bin"), new byte[] {0, 0, 0, 0, -1, -1, -1, -1});
        assertMessage(IllegalArgumentException.class, "compression table entry 1 is negative (-1)",
                () -> CompressionTable.load(negative));
        assertMessage(IllegalArgumentException.class, "pad_id -4 is outside the compression table (size 3)",
                () -> CompressionTable.of(new long[] {0, 1, 2}).compressPadId(-4));
    }
}
