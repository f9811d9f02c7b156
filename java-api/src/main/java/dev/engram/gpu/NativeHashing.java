package dev.engram.gpu;

import dev.engram.hash.LayerHashing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A layer's multipliers, moduli and row offsets in native memory, as the gather entry points take them (host
 * arrays read before the launch returns). A layer keeps one for its lifetime, so its forwards marshal nothing.
 */
final class NativeHashing {
    final LayerHashing layer;
    final MemorySegment multipliers;
    final MemorySegment moduli;
    final MemorySegment offsets;

    NativeHashing(LayerHashing layer, Arena arena) {
        this.layer = layer;
        this.multipliers = arena.allocateFrom(ValueLayout.JAVA_LONG, layer.multipliers());
        this.moduli = arena.allocateFrom(ValueLayout.JAVA_LONG, layer.moduli());
        this.offsets = arena.allocateFrom(ValueLayout.JAVA_LONG, layer.offsets());
    }
}
