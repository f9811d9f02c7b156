// Written by hand in the layout jextract 22 generates for a struct (jextract is not installable where this
// project is built); bindings/jextract/regenerate.sh regenerates it where jextract is installed.
// CudaRuntimeBindingTest checks the fields against driver_types.h.

package dev.engram.bindings;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout.OfInt;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * {@snippet lang=c :
 * struct cudaPointerAttributes {
 *     enum cudaMemoryType type;
 *     int device;
 *     void *devicePointer;
 *     void *hostPointer;
 *     long reserved[8];
 * }
 * }
 */
public class cudaPointerAttributes {

    cudaPointerAttributes() {
        // Should not be called directly
    }

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        cuda_runtime_h.C_INT.withName("type"),
        cuda_runtime_h.C_INT.withName("device"),
        cuda_runtime_h.C_POINTER.withName("devicePointer"),
        cuda_runtime_h.C_POINTER.withName("hostPointer"),
        MemoryLayout.sequenceLayout(8, cuda_runtime_h.C_LONG).withName("reserved")
    ).withName("cudaPointerAttributes");

    /**
     * The layout of this struct
     */
    public static final GroupLayout layout() {
        return $LAYOUT;
    }

    private static final OfInt type$LAYOUT = (OfInt)$LAYOUT.select(groupElement("type"));

    /**
     * Layout for field:
     * {@snippet lang=c :
     * enum cudaMemoryType type
     * }
     */
    public static final OfInt type$layout() {
        return type$LAYOUT;
    }

    private static final long type$OFFSET = 0;

    /**
     * Offset for field:
     * {@snippet lang=c :
     * enum cudaMemoryType type
     * }
     */
    public static final long type$offset() {
        return type$OFFSET;
    }

    /**
     * Getter for field:
     * {@snippet lang=c :
     * enum cudaMemoryType type
     * }
     */
    public static int type(MemorySegment struct) {
        return struct.get(type$LAYOUT, type$OFFSET);
    }

    /**
     * Setter for field:
     * {@snippet lang=c :
     * enum cudaMemoryType type
     * }
     */
    public static void type(MemorySegment struct, int fieldValue) {
        struct.set(type$LAYOUT, type$OFFSET, fieldValue);
    }

    private static final OfInt device$LAYOUT = (OfInt)$LAYOUT.select(groupElement("device"));

    /**
     * Layout for field:
     * {@snippet lang=c :
     * int device
     * }
     */
    public static final OfInt device$layout() {
        return device$LAYOUT;
    }

    private static final long device$OFFSET = 4;

    /**
     * Offset for field:
     * {@snippet lang=c :
     * int device
     * }
     */
    public static final long device$offset() {
        return device$OFFSET;
    }

    /**
     * Getter for field:
     * {@snippet lang=c :
     * int device
     * }
     */
    public static int device(MemorySegment struct) {
        return struct.get(device$LAYOUT, device$OFFSET);
    }

    /**
     * Setter for field:
     * {@snippet lang=c :
     * int device
     * }
     */
    public static void device(MemorySegment struct, int fieldValue) {
        struct.set(device$LAYOUT, device$OFFSET, fieldValue);
    }

    private static final AddressLayout devicePointer$LAYOUT = (AddressLayout)$LAYOUT.select(groupElement("devicePointer"));

    /**
     * Layout for field:
     * {@snippet lang=c :
     * void *devicePointer
     * }
     */
    public static final AddressLayout devicePointer$layout() {
        return devicePointer$LAYOUT;
    }

    private static final long devicePointer$OFFSET = 8;

    /**
     * Offset for field:
     * {@snippet lang=c :
     * void *devicePointer
     * }
     */
    public static final long devicePointer$offset() {
        return devicePointer$OFFSET;
    }

    /**
     * Getter for field:
     * {@snippet lang=c :
     * void *devicePointer
     * }
     */
    public static MemorySegment devicePointer(MemorySegment struct) {
        return struct.get(devicePointer$LAYOUT, devicePointer$OFFSET);
    }

    /**
     * Setter for field:
     * {@snippet lang=c :
     * void *devicePointer
     * }
     */
    public static void devicePointer(MemorySegment struct, MemorySegment fieldValue) {
        struct.set(devicePointer$LAYOUT, devicePointer$OFFSET, fieldValue);
    }

    private static final AddressLayout hostPointer$LAYOUT = (AddressLayout)$LAYOUT.select(groupElement("hostPointer"));

    /**
     * Layout for field:
     * {@snippet lang=c :
     * void *hostPointer
     * }
     */
    public static final AddressLayout hostPointer$layout() {
        return hostPointer$LAYOUT;
    }

    private static final long hostPointer$OFFSET = 16;

    /**
     * Offset for field:
     * {@snippet lang=c :
     * void *hostPointer
     * }
     */
    public static final long hostPointer$offset() {
        return hostPointer$OFFSET;
    }

    /**
     * Getter for field:
     * {@snippet lang=c :
     * void *hostPointer
     * }
     */
    public static MemorySegment hostPointer(MemorySegment struct) {
        return struct.get(hostPointer$LAYOUT, hostPointer$OFFSET);
    }

    /**
     * Setter for field:
     * {@snippet lang=c :
     * void *hostPointer
     * }
     */
    public static void hostPointer(MemorySegment struct, MemorySegment fieldValue) {
        struct.set(hostPointer$LAYOUT, hostPointer$OFFSET, fieldValue);
    }

    private static final SequenceLayout reserved$LAYOUT = (SequenceLayout)$LAYOUT.select(groupElement("reserved"));

    /**
     * Layout for field:
     * {@snippet lang=c :
     * long reserved[8]
     * }
     */
    public static final SequenceLayout reserved$layout() {
        return reserved$LAYOUT;
    }

    private static final long reserved$OFFSET = 24;

    /**
     * Offset for field:
     * {@snippet lang=c :
     * long reserved[8]
     * }
     */
    public static final long reserved$offset() {
        return reserved$OFFSET;
    }

    /**
     * Getter for field:
     * {@snippet lang=c :
     * long reserved[8]
     * }
     */
    public static MemorySegment reserved(MemorySegment struct) {
        return struct.asSlice(reserved$OFFSET, reserved$LAYOUT.byteSize());
    }

    /**
     * Allocate a segment of size {@code layout().byteSize()} using {@code allocator}
     */
    public static MemorySegment allocate(SegmentAllocator allocator) {
        return allocator.allocate(layout());
    }

    /**
     * The size (in bytes) of this struct
     */
    public static long sizeof() {
        return layout().byteSize();
    }
}
