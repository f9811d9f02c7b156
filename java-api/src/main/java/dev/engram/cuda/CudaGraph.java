package dev.engram.cuda;

import dev.engram.bindings.cuda_runtime_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An executable CUDA graph ({@code cudaGraphExec_t}) captured from the work a block of code queues on one stream, to be
 * replayed with one {@code cudaGraphLaunch} instead of one host call per kernel: the way a decode step's host cost is
 * taken off the critical path.
 *
 * <pre>{@code
 * try (CudaGraph step = CudaGraph.capture(stream, () -> layer.forward(deviceBatch, ids, hidden, out, state, stream))) {
 *     for (...) {
 *         ids.copyFromAsync(nextIds, stream);   // new inputs into the SAME device buffers
 *         step.launch(stream);                  // replays gather, GEMM, gate, conv, state commit
 *     }
 * }
 * }</pre>
 *
 * <p>What a graph holds is the captured work with its arguments as they were during capture: the same device
 * pointers, sizes and launch shapes on every replay. Replays read whatever those buffers hold then. The capture uses
 * {@code cudaStreamCaptureModeThreadLocal}: on the capturing thread, calls CUDA forbids during capture (allocation,
 * synchronization, waits on events recorded outside the capture) fail, and the capture with them; other threads are
 * not affected. A graph belongs to the device of its stream; closing it ({@code cudaGraphExecDestroy}) does not wait
 * for replays in flight (CUDA keeps them valid). Not thread-safe.
 */
public final class CudaGraph implements AutoCloseable {
    private final MemorySegment exec;
    private final int device;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaGraph(MemorySegment exec, int device) {
        this.exec = exec;
        this.device = device;
    }

    /**
     * Captures what {@code work} queues on {@code stream} and instantiates it. Nothing runs during the capture: the
     * work is recorded, and runs on each {@link #launch}.
     *
     * @param stream the stream to capture: an owned or wrapped stream, not the legacy default stream (CUDA cannot
     *               capture it)
     * @param work   queues the work on {@code stream}, and only there (or on streams it joins to it with events)
     * @return the executable graph
     * @throws IllegalArgumentException for the legacy default stream
     * @throws IllegalStateException    when the stream is closed or already capturing
     * @throws CudaException            when the capture fails, e.g. because {@code work} allocated or synchronized
     *                                  ({@code cudaErrorStreamCaptureUnsupported}, {@code cudaErrorStreamCaptureInvalidated})
     * @throws RuntimeException         whatever {@code work} throws; the capture is ended and discarded first
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(work, "work");
        MemorySegment s = stream.handle();
        if (s.address() == 0) {
            throw new IllegalArgumentException("CudaGraph.capture: the legacy default stream cannot be captured; "
                    + "use a stream of your own (CudaStream.create())");
        }
        if (stream.isCapturing()) throw new IllegalStateException("CudaGraph.capture: " + stream + " is already capturing");
        try (DeviceScope scope = DeviceScope.enter(stream.device()); Arena arena = Arena.ofConfined()) {
            Cuda.check("cudaStreamBeginCapture",
                    cuda_runtime_h.cudaStreamBeginCapture(s, cuda_runtime_h.cudaStreamCaptureModeThreadLocal()));
            MemorySegment graphOut = arena.allocate(ValueLayout.ADDRESS);
            try {
                work.run();
            } catch (RuntimeException | Error e) {
                // End the capture so the stream is usable again; its graph (if any) is of no use.
                int code = cuda_runtime_h.cudaStreamEndCapture(s, graphOut);
                if (code == 0) destroyGraph(graphOut.get(ValueLayout.ADDRESS, 0));
                else cuda_runtime_h.cudaGetLastError(); // the capture's error belongs to this failure, not the next call
                throw e;
            }
            Cuda.check("cudaStreamEndCapture", cuda_runtime_h.cudaStreamEndCapture(s, graphOut));
            MemorySegment graph = graphOut.get(ValueLayout.ADDRESS, 0);
            try {
                MemorySegment execOut = arena.allocate(ValueLayout.ADDRESS);
                Cuda.check("cudaGraphInstantiate", cuda_runtime_h.cudaGraphInstantiate(execOut, graph, 0L));
                return new CudaGraph(execOut.get(ValueLayout.ADDRESS, 0), stream.device());
            } finally {
                destroyGraph(graph); // the executable graph is independent of the template
            }
        }
    }

    private static void destroyGraph(MemorySegment graph) {
        if (graph.address() != 0) Cuda.check("cudaGraphDestroy", cuda_runtime_h.cudaGraphDestroy(graph));
    }

    /**
     * Queues one replay of the captured work on {@code stream} ({@code cudaGraphLaunch}); returns without waiting.
     *
     * @param stream a stream of this graph's device (not necessarily the captured one)
     * @throws IllegalArgumentException when the stream belongs to another device
     * @throws IllegalStateException    when this graph or the stream is closed
     * @throws CudaException            when CUDA rejects the launch
     */
    public void launch(CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        if (closed.get()) throw new IllegalStateException(this + " is closed");
        MemorySegment s = stream.handle();
        if (stream.device() != CudaStream.CURRENT_DEVICE && stream.device() != device) {
            throw new IllegalArgumentException("CudaGraph.launch: the graph is on device " + device + ", " + stream
                    + " on device " + stream.device());
        }
        try (DeviceScope scope = DeviceScope.enter(device)) {
            Cuda.check("cudaGraphLaunch", cuda_runtime_h.cudaGraphLaunch(exec, s));
        }
    }

    /** {@return the device of the stream the graph was captured on} */
    public int device() {
        return device;
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed.get();
    }

    /** Destroys the executable graph ({@code cudaGraphExecDestroy}); idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        try (DeviceScope scope = DeviceScope.enter(device)) {
            Cuda.check("cudaGraphExecDestroy", cuda_runtime_h.cudaGraphExecDestroy(exec));
        }
    }

    @Override
    public String toString() {
        return "CudaGraph[0x" + Long.toHexString(exec.address()) + ", device " + device + (closed.get() ? ", closed]" : "]");
    }
}
