package example;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The few CUDA runtime calls a "host stack" makes for itself, with plain FFM downcalls and nothing from Engram:
 * the memory and the stream it lends to the library. libcudart.so.13 is already loaded by the library (its class
 * loader is this program's), so its symbols are found through {@link SymbolLookup#loaderLookup()}.
 */
final class ForeignCuda {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MALLOC = handle("cudaMalloc", ValueLayout.ADDRESS, ValueLayout.JAVA_LONG);
    private static final MethodHandle FREE = handle("cudaFree", ValueLayout.ADDRESS);
    private static final MethodHandle MEMCPY_ASYNC = handle("cudaMemcpyAsync", ValueLayout.ADDRESS, ValueLayout.ADDRESS,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS);
    private static final MethodHandle STREAM_CREATE = handle("cudaStreamCreateWithFlags", ValueLayout.ADDRESS,
            ValueLayout.JAVA_INT);
    private static final MethodHandle STREAM_SYNC = handle("cudaStreamSynchronize", ValueLayout.ADDRESS);
    private static final MethodHandle STREAM_DESTROY = handle("cudaStreamDestroy", ValueLayout.ADDRESS);
    private static final int HOST_TO_DEVICE = 1, DEVICE_TO_HOST = 2, NON_BLOCKING = 1;

    private ForeignCuda() {}

    private static MethodHandle handle(String name, ValueLayout... args) {
        MemorySegment f = SymbolLookup.loaderLookup().find(name)
                .orElseThrow(() -> new IllegalStateException(name + " not found: is libcudart loaded?"));
        return LINKER.downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_INT, args));
    }

    static MemorySegment malloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check("cudaMalloc", (int) MALLOC.invokeExact(out, bytes));
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void free(MemorySegment p) {
        try {
            check("cudaFree", (int) FREE.invokeExact(p));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Queued on the stack's stream, like the rest of its work: {@code host} stays alive until the stream is synchronized. */
    static void copyToDevice(MemorySegment device, MemorySegment host, MemorySegment stream) {
        try {
            check("cudaMemcpyAsync", (int) MEMCPY_ASYNC.invokeExact(device, host, host.byteSize(), HOST_TO_DEVICE, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Queued on the stack's stream; read {@code host} after synchronizing it. */
    static void copyToHost(MemorySegment host, MemorySegment device, MemorySegment stream) {
        try {
            check("cudaMemcpyAsync", (int) MEMCPY_ASYNC.invokeExact(host, device, host.byteSize(), DEVICE_TO_HOST, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static MemorySegment createStream() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check("cudaStreamCreateWithFlags", (int) STREAM_CREATE.invokeExact(out, NON_BLOCKING));
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void synchronize(MemorySegment stream) {
        try {
            check("cudaStreamSynchronize", (int) STREAM_SYNC.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void destroyStream(MemorySegment stream) {
        try {
            check("cudaStreamDestroy", (int) STREAM_DESTROY.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void check(String call, int status) {
        if (status != 0) throw new IllegalStateException(call + " returned cudaError " + status);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
