package dev.engram.table;

import dev.engram.bindings.engram_h;
import dev.engram.hash.LayerHashing;
import dev.engram.nativelib.EngramNative;
import dev.engram.nativelib.NativeLibraryLoader;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The row copy of {@link CpuRowGather} through libengram's {@code engram_host_gather_rows}, which prefetches
 * rows ahead of the copy so that one core keeps many cache misses in flight (a plain per-row copy waits on
 * one miss at a time; random rows of a large table are latency bound). One instance per gather part (thread):
 * it owns that part's native scratch for hash ids, so parts never share mutable state.
 *
 * <p>Calls are split into blocks of at most {@value #BLOCK_ROWS} rows: heap hash ids are copied block by block
 * into the native scratch (8 bytes per copied row, sequential), and no single downcall runs long. Per block
 * it allocates one small slice object for the destination (and one for segment ids).
 */
final class NativeRowCopy {
    /** Rows per downcall: large enough that the ~0.1 us call cost vanishes, small enough for a 64 KiB scratch. */
    static final int BLOCK_ROWS = 8192;

    private final MemorySegment scratchIds;
    private final MemorySegment firstBad;
    private LayerHashing layer;
    private MemorySegment layerModuli, layerOffsets;

    /** Scratch from {@code arena}, which must outlive this object and be accessible by the part's thread. */
    NativeRowCopy(Arena arena) {
        scratchIds = arena.allocate(ValueLayout.JAVA_LONG, BLOCK_ROWS);
        firstBad = arena.allocate(ValueLayout.JAVA_LONG);
    }

    /** {@return whether libengram is loaded, so this copy can run} */
    static boolean available() {
        return NativeLibraryLoader.load().loaded();
    }

    /** {@return whether the native copy can read {@code src} and write {@code dst} (both off-heap)} */
    static boolean canCopy(MemorySegment src, MemorySegment dst) {
        return src.isNative() && dst.isNative();
    }

    /**
     * Copies the rows of tokens {@code [from, to)} into {@code dst} at token {@code from}'s place (ids already
     * validated by the caller; the native side checks them again, so no read can leave the table).
     *
     * @param ids         the hash ids: a {@code long[]} (with {@code arrayBase}, the flat index of token 0) or
     *                    an INT64 segment (then {@code arrayBase} is ignored)
     */
    void copy(MemorySegment src, long tableRows, long rowBytes, LayerHashing l, long[] moduli, long[] offsets,
              long[] idArray, long arrayBase, MemorySegment idSegment, long from, long to, MemorySegment dst) {
        selectLayer(l, moduli, offsets);
        int heads = moduli.length;
        long tokensPerBlock = Math.max(1, BLOCK_ROWS / heads);
        for (long t = from; t < to; t += tokensPerBlock) {
            long n = Math.min(tokensPerBlock, to - t);
            long rows = n * heads;
            MemorySegment ids;
            if (idArray != null) {
                ids = scratchIds;
                if (rows > BLOCK_ROWS) ids = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG, rows); // heads > BLOCK_ROWS
                MemorySegment.copy(idArray, (int) (arrayBase + t * heads), ids, ValueLayout.JAVA_LONG, 0, (int) rows);
            } else if (idSegment.isNative() && idSegment.address() % Long.BYTES == 0) {
                ids = idSegment.asSlice(t * heads * Long.BYTES, rows * Long.BYTES);
            } else {
                ids = rows > BLOCK_ROWS ? Arena.ofAuto().allocate(ValueLayout.JAVA_LONG, rows) : scratchIds;
                MemorySegment.copy(idSegment, t * heads * Long.BYTES, ids, 0, rows * Long.BYTES);
            }
            int status = engram_h.engram_host_gather_rows(src, tableRows, rowBytes, ids, n, heads, layerModuli, layerOffsets,
                    dst.asSlice(t * heads * rowBytes, rows * rowBytes), firstBad);
            EngramNative.check("engram_host_gather_rows", status);
        }
    }

    private void selectLayer(LayerHashing l, long[] moduli, long[] offsets) {
        if (l == layer) return;
        // Small and per layer: an automatic arena frees it once no part refers to it any more.
        Arena arena = Arena.ofAuto();
        layerModuli = arena.allocateFrom(ValueLayout.JAVA_LONG, moduli);
        layerOffsets = arena.allocateFrom(ValueLayout.JAVA_LONG, offsets);
        layer = l;
    }
}
