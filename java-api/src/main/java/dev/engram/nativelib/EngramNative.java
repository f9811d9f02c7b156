package dev.engram.nativelib;

import dev.engram.EngramNativeException;
import dev.engram.NativeLibraryException;
import dev.engram.bindings.engram_h;
import dev.engram.cuda.Cuda;
import dev.engram.cuda.CudaException;
import dev.engram.hash.NgramHasher;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Checked Java calls into libengram's C ABI ({@code native/include/engram.h}).
 *
 * <p>Every method loads the library first ({@link NativeLibraryLoader#require()}, so a missing
 * library is a {@link NativeLibraryException}), and every status-returning downcall goes through
 * {@link #check(String, int)}, which turns a failure into a {@link CudaException} (a CUDA error) or an
 * {@link EngramNativeException} (anything else). Array
 * arguments are validated in Java before anything reaches native code.
 */
public final class EngramNative {
    private EngramNative() {}

    /**
     * The one place a libengram status is checked.
     *
     * @param call   the C function that returned {@code status}, e.g. {@code "engram_ngram_hash_host"}
     * @param status its return value
     * @throws CudaException         for {@code ENGRAM_STATUS_CUDA_ERROR}: the {@code cudaError_t} libengram recorded
     *         ({@code engram_last_cuda_error}), as any CUDA call's error
     * @throws EngramNativeException for any other status but {@code ENGRAM_STATUS_SUCCESS}, with the status name
     *         and the {@code engram_last_error} text (both read at once, on the calling thread: they are
     *         thread-local)
     */
    public static void check(String call, int status) {
        if (status == engram_h.ENGRAM_STATUS_SUCCESS()) {
            return;
        }
        String lastError = cString(engram_h.engram_last_error());
        if (status == engram_h.ENGRAM_STATUS_CUDA_ERROR()) {
            throw Cuda.reportedByLibengram(call, engram_h.engram_last_cuda_error(), lastError);
        }
        throw new EngramNativeException(call, status, cString(engram_h.engram_status_string(status)), lastError);
    }

    /** {@return libengram's version, {@code "major.minor.patch"} (e.g. {@code "0.1.0"})} */
    public static String version() {
        NativeLibraryLoader.require();
        return cString(engram_h.engram_version());
    }

    /** {@return {@code ENGRAM_ABI_VERSION} as compiled into the loaded libengram} */
    public static int abiVersion() {
        NativeLibraryLoader.require();
        return engram_h.engram_abi_version();
    }

    /** {@return whether libengram was compiled with CUDA (nvcc found when it was built)} */
    public static boolean builtWithCuda() {
        NativeLibraryLoader.require();
        return engram_h.engram_built_with_cuda() != 0;
    }

    /**
     * {@return the CUDA runtime version libengram runs against, e.g. {@code 13000}; needs no GPU}
     * @throws EngramNativeException {@code ENGRAM_STATUS_NOT_BUILT_WITH_CUDA} for a library built without CUDA
     * @throws CudaException         when the runtime cannot report its version
     */
    public static int cudaRuntimeVersion() {
        NativeLibraryLoader.require();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("engram_cuda_runtime_version", engram_h.engram_cuda_runtime_version(out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * {@return the number of visible CUDA devices}
     * @throws CudaException         naming the CUDA error on a machine without a GPU or driver
     * @throws EngramNativeException {@code ENGRAM_STATUS_NOT_BUILT_WITH_CUDA} for a library built without CUDA
     */
    public static int cudaDeviceCount() {
        NativeLibraryLoader.require();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("engram_cuda_device_count", engram_h.engram_cuda_device_count(out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * The Engram n-gram hash computed by libengram on the host ({@code engram_ngram_hash_host}), with
     * the CUDA kernels' arithmetic. Same contract and result as
     * {@link dev.engram.hash.NgramHasher#hash(long[], int, int, long, long[], long[], int)}.
     *
     * @param compressedIds {@code [batch * seqLen]} compressed token ids, row-major; negatives allowed
     * @param batch         number of sequences, {@code >= 0}
     * @param seqLen        tokens per sequence, {@code >= 0}
     * @param padId         the compressed pad id used before each sequence start
     * @param multipliers   {@code [maxNgram]} multipliers, {@code maxNgram >= 2}
     * @param moduli        {@code [(maxNgram-1) * headsPerNgram]} moduli, each {@code > 0}, order-major
     * @param headsPerNgram heads per n-gram order, {@code >= 1}
     * @return {@code [batch * seqLen * (maxNgram-1) * headsPerNgram]} hash ids, each in {@code [0, p)}
     * @throws IllegalArgumentException for shapes or values the C function would reject (nothing is
     *         passed to native code then)
     * @throws NullPointerException     for a null array
     */
    public static long[] ngramHashHost(long[] compressedIds, int batch, int seqLen, long padId,
                                       long[] multipliers, long[] moduli, int headsPerNgram) {
        Objects.requireNonNull(compressedIds, "compressedIds");
        Objects.requireNonNull(multipliers, "multipliers");
        Objects.requireNonNull(moduli, "moduli");
        int heads = NgramHasher.checkArguments(compressedIds.length, batch, seqLen, multipliers.length, moduli, headsPerNgram);
        int outLength;
        try {
            outLength = Math.multiplyExact(compressedIds.length, heads);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("output of " + compressedIds.length + " positions * " + heads
                    + " heads does not fit in a Java array");
        }
        NativeLibraryLoader.require();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = allocateFrom(arena, compressedIds);
            MemorySegment mult = allocateFrom(arena, multipliers);
            MemorySegment mod = allocateFrom(arena, moduli);
            // At least one element so no segment is ever NULL (the C side rejects null pointers).
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG, Math.max(1, outLength));
            check("engram_ngram_hash_host", engram_h.engram_ngram_hash_host(ids, batch, seqLen, padId, mult,
                    multipliers.length, mod, headsPerNgram, out));
            long[] result = new long[outLength];
            MemorySegment.copy(out, ValueLayout.JAVA_LONG, 0, result, 0, outLength);
            return result;
        }
    }

    private static MemorySegment allocateFrom(Arena arena, long[] values) {
        return values.length == 0
                ? arena.allocate(ValueLayout.JAVA_LONG, 1)
                : arena.allocateFrom(ValueLayout.JAVA_LONG, values);
    }

    /** Reads a NUL-terminated UTF-8 string returned by libengram; {@code ""} for a NULL pointer. */
    private static String cString(MemorySegment pointer) {
        return pointer.address() == 0 ? "" : pointer.getString(0);
    }
}
