package dev.engram.gpu;

import dev.engram.PackedBatch;
import dev.engram.cuda.DType;
import dev.engram.cuda.DeviceArray;

import java.lang.foreign.MemorySegment;

/**
 * The checks the packed launchers share: a state array against the batch (O(1): the batch was validated when
 * built, and knows its largest slot and whether every sequence starts).
 */
final class PackedChecks {
    private PackedChecks() {}

    /**
     * A state array of {@code slots} rows of {@code rowElements}: dtype, count, every slot of the batch in range.
     * {@code state} may be null only when every sequence of the batch starts (nothing is read then) or a row is
     * empty.
     *
     * @param rowFormula the row's size as a formula, for messages
     */
    static void requireState(String op, DeviceBatch batch, DeviceArray state, String name, DType dtype, int slots,
                             long rowElements, String rowFormula) {
        if (slots < 0) throw new IllegalArgumentException(op + ": slots must be >= 0, got " + slots);
        if (state == null) {
            if (rowElements > 0 && !batch.allStart()) {
                throw new IllegalArgumentException(op + ": " + name + " is null, but the batch has sequences that "
                        + "continue their slot (only a batch whose sequences all start may omit the state)");
            }
            return;
        }
        ArgumentChecks.requireDtype(op, state, dtype, name);
        ArgumentChecks.requireCount(op, state, ArgumentChecks.product(op, slots, rowElements), name,
                "slots * " + rowFormula + " = " + slots + " * " + rowElements);
        if (rowElements > 0) requireSlots(op, batch.batch(), slots);
    }

    /** Every slot of {@code batch} below {@code slots}, the message prefixed with {@code op}. */
    static void requireSlots(String op, PackedBatch batch, int slots) {
        if (batch.maxSlot() < slots) return;
        try {
            batch.requireSlotsBelow(slots);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(op + ": " + e.getMessage(), e);
        }
    }

    /** The address of a possibly null or empty array, NULL for either. */
    static MemorySegment addressOrNull(DeviceArray a) {
        return a == null || a.elementCount() == 0 ? MemorySegment.NULL : a.address();
    }
}
