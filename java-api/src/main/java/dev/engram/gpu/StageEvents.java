package dev.engram.gpu;

import dev.engram.cuda.CudaEvent;
import dev.engram.cuda.CudaStream;

import java.util.ArrayList;
import java.util.List;

/**
 * CUDA events recorded between the stages of an {@link EngramLayer} forward, for per-stage timing
 * without synchronizing inside the forward. Pass one to
 * {@link EngramLayer#forward(dev.engram.cuda.DeviceArray, int, int, dev.engram.cuda.DeviceArray,
 * dev.engram.cuda.DeviceArray, CudaStream, StageEvents)}, then read {@link #stageMillis()} (which waits
 * for the last event). Reusable across forwards; not thread-safe. When the layer runs the fused gate +
 * ShortConv kernel ({@link EngramLayer#fusedGateConv()}), "gate" times both and "short conv" is empty.
 */
public final class StageEvents implements AutoCloseable {
    /** Stage names, in order: what runs between consecutive events. */
    public static final List<String> STAGES = List.of("hash+gather", "projections", "gate", "short conv");

    private final List<CudaEvent> events = new ArrayList<>(STAGES.size() + 1);
    private boolean recorded;

    /**
     * Creates the {@code STAGES.size() + 1} timing events.
     *
     * @throws dev.engram.cuda.CudaException when an event cannot be created (e.g. no device)
     */
    public StageEvents() {
        try {
            for (int i = 0; i <= STAGES.size(); i++) events.add(CudaEvent.create());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Records boundary {@code i} (0 = before the first stage) on {@code stream}. */
    void record(int i, CudaStream stream) {
        if (i == 0) recorded = false; // a forward that fails midway must not mix its events with an earlier one's
        events.get(i).record(stream);
        if (i == STAGES.size()) recorded = true;
    }

    /**
     * {@return the milliseconds of each stage of the last recorded forward, in {@link #STAGES} order;
     * waits for the forward to finish}
     * @throws IllegalStateException when no forward has recorded into these events yet
     */
    public float[] stageMillis() {
        if (!recorded) throw new IllegalStateException("no forward has recorded into these StageEvents yet");
        events.getLast().synchronize();
        float[] ms = new float[STAGES.size()];
        for (int i = 0; i < ms.length; i++) ms[i] = CudaEvent.elapsedMillis(events.get(i), events.get(i + 1));
        return ms;
    }

    /** {@return the milliseconds from the first to the last boundary of the last recorded forward} */
    public float totalMillis() {
        if (!recorded) throw new IllegalStateException("no forward has recorded into these StageEvents yet");
        events.getLast().synchronize();
        return CudaEvent.elapsedMillis(events.getFirst(), events.getLast());
    }

    @Override
    public void close() {
        events.forEach(CudaEvent::close);
    }
}
