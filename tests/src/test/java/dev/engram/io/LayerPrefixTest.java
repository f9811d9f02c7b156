package dev.engram.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A layer's tensors found by a prefix with a {layer} placeholder, by their SEMANTICS.md §10 short names. */
class LayerPrefixTest {
    private static final LayerPrefix ENGRAM = LayerPrefix.of("model.layers.{layer}.engram.");

    @TempDir
    Path dir;

    private SafetensorsFile checkpoint() throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        byte value = 0;
        for (int layer : new int[] {15, 1}) {
            for (String name : EngramTensorNames.required(2)) {
                w.add(ENGRAM.fullName(layer, name), SafetensorsDType.U8, new long[] {1},
                        MemorySegment.ofArray(new byte[] {value++}));
            }
        }
        for (String other : new String[] {"model.embed_tokens.weight", "model.layers.1.mlp.up_proj.weight",
                "model.layers.01.engram.value_proj.weight", "model.layers.2.engram.", "model.layers.x.engram.a",
                "model.layers.99999999999.engram.a"}) {
            w.add(other, SafetensorsDType.U8, new long[] {0}, MemorySegment.ofArray(new byte[0]));
        }
        Path file = dir.resolve("model.safetensors");
        w.write(file);
        return SafetensorsFile.open(file);
    }

    @Test
    void layersAndTheirTensorsByShortName() throws IOException {
        try (SafetensorsFile c = checkpoint()) {
            assertEquals(List.of(1, 15), ENGRAM.layers(c), "zero-padded, empty, non-numeric and huge ids are not layers");
            var layer1 = ENGRAM.tensors(c, 1);
            assertEquals(EngramTensorNames.required(2).stream().sorted().toList(), List.copyOf(layer1.keySet()));
            assertEquals("model.layers.1.engram.value_proj.weight", layer1.get(EngramTensorNames.VALUE_PROJ_WEIGHT).name());
            // Layer 15 was written first: its value_proj.weight byte is its index in required(2).
            int at = EngramTensorNames.required(2).indexOf(EngramTensorNames.VALUE_PROJ_WEIGHT);
            assertEquals(at, ENGRAM.data(c, 15, EngramTensorNames.VALUE_PROJ_WEIGHT).get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(EngramTensorNames.shortConvNormWeight(1),
                    ENGRAM.tensor(c, 15, "short_conv.norms.1.weight").name().substring("model.layers.15.engram.".length()));
            assertEquals(0, ENGRAM.tensors(c, 3).size());
        }
    }

    @Test
    void aMissingTensorIsNamedInFull() throws IOException {
        try (SafetensorsFile c = checkpoint()) {
            var e = assertThrows(SafetensorsException.class, () -> ENGRAM.tensor(c, 3, EngramTensorNames.EMBEDDING_SCALE));
            assertEquals("model.layers.3.engram.multi_head_embedding.embedding.scale", e.tensor().orElseThrow());
            assertTrue(e.getMessage().startsWith(c.path() + ": tensor \"model.layers.3.engram.multi_head_embedding.embedding.scale\""),
                    e.getMessage());
            assertThrows(SafetensorsException.class, () -> ENGRAM.data(c, 1, EngramTensorNames.EMBEDDING_SCALE));
        }
    }

    @Test
    void layerOfParsesOnlyPlainDecimalIds() {
        assertEquals(OptionalInt.of(0), ENGRAM.layerOf("model.layers.0.engram.x"));
        assertEquals(OptionalInt.of(2147483647), ENGRAM.layerOf("model.layers.2147483647.engram.x"));
        assertEquals(OptionalInt.empty(), ENGRAM.layerOf("model.layers.2147483648.engram.x"));
        assertEquals(OptionalInt.empty(), ENGRAM.layerOf("model.layers.00.engram.x"));
        assertEquals(OptionalInt.empty(), ENGRAM.layerOf("model.layers.-1.engram.x"));
        assertEquals(OptionalInt.empty(), ENGRAM.layerOf("model.layers.1.engramx"));
        assertEquals(OptionalInt.empty(), ENGRAM.layerOf("model.layers.1.engram."));
        assertEquals(OptionalInt.empty(), ENGRAM.layerOf("other.layers.1.engram.x"));
        assertEquals("model.layers.7.engram.", ENGRAM.prefix(7));
        assertEquals(OptionalInt.of(4), LayerPrefix.of("{layer}.").layerOf("4.w"));
    }

    @Test
    void patternsNeedExactlyOnePlaceholder() {
        assertThrows(IllegalArgumentException.class, () -> LayerPrefix.of("model.layers.engram."));
        assertThrows(IllegalArgumentException.class, () -> LayerPrefix.of("a.{layer}.b.{layer}."));
        assertThrows(IllegalArgumentException.class, () -> LayerPrefix.of("a.{layer}0."));
        assertThrows(IllegalArgumentException.class, () -> ENGRAM.prefix(-1));
    }

    @Test
    void engramTensorNamesAreTheSection10Names() {
        assertEquals(List.of("multi_head_embedding.embedding.weight",
                "key_projs.0.weight", "key_projs.1.weight", "key_projs.0.bias", "key_projs.1.bias",
                "value_proj.weight", "value_proj.bias", "norm1.0.weight", "norm1.1.weight", "norm2.0.weight",
                "norm2.1.weight", "short_conv.conv.weight", "short_conv.norms.0.weight", "short_conv.norms.1.weight"),
                EngramTensorNames.required(2));
        assertThrows(IllegalArgumentException.class, () -> EngramTensorNames.required(0));
        assertThrows(IllegalArgumentException.class, () -> EngramTensorNames.keyProjWeight(-1));
    }
}
