package dev.engram.interop;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Another stack's CUDA resources, made and destroyed with raw cudart calls and none of this library's types:
 * what a Java ML stack owning its context, tensors and streams hands to {@code DeviceArray.wrap} and
 * {@code CudaStream.wrap}. Every call's status is checked.
 */
final class ForeignStack {
    private ForeignStack() {}

    static MemorySegment malloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check("cudaMalloc", cuda_runtime_h.cudaMalloc(out, bytes));
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    static void free(MemorySegment p) {
        check("cudaFree", cuda_runtime_h.cudaFree(p));
    }

    static MemorySegment nonBlockingStream() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check("cudaStreamCreateWithFlags", cuda_runtime_h.cudaStreamCreateWithFlags(out, cuda_runtime_h.cudaStreamNonBlocking()));
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    static void destroy(MemorySegment stream) {
        check("cudaStreamDestroy", cuda_runtime_h.cudaStreamDestroy(stream));
    }

    static void sync(MemorySegment stream) {
        check("cudaStreamSynchronize", cuda_runtime_h.cudaStreamSynchronize(stream));
    }

    /** Host → device on the stack's stream; {@code host} is native memory that stays alive until {@link #sync}. */
    static void upload(MemorySegment device, MemorySegment host, MemorySegment stream) {
        check("cudaMemcpyAsync", cuda_runtime_h.cudaMemcpyAsync(device, host, host.byteSize(),
                cuda_runtime_h.cudaMemcpyHostToDevice(), stream));
    }

    static void download(MemorySegment host, MemorySegment device, MemorySegment stream) {
        check("cudaMemcpyAsync", cuda_runtime_h.cudaMemcpyAsync(host, device, host.byteSize(),
                cuda_runtime_h.cudaMemcpyDeviceToHost(), stream));
    }

    /** Every byte 0xFF: NaN in fp32 and bf16, so an output the forward did not write shows. */
    static void poison(MemorySegment device, long bytes, MemorySegment stream) {
        check("cudaMemsetAsync", cuda_runtime_h.cudaMemsetAsync(device, 0xFF, bytes, stream));
    }

    static void check(String call, int status) {
        assertEquals(0, status, call + " returned cudaError " + status);
    }
}
