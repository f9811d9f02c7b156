package dev.engram.nativelib;

import dev.engram.NativeLibraryException;
import dev.engram.Engram;
import dev.engram.GpuStatus;

/** Run in a fresh JVM by NativeLibraryLoaderFailureTest: prints what loading and the GPU probe report. */
public final class LoaderProbeMain {
    private LoaderProbeMain() {}

    public static void main(String[] args) {
        NativeLibraryStatus status = NativeLibraryLoader.load();
        System.out.println("outcome=" + status.outcome());
        System.out.println("message=" + status.message());
        GpuStatus gpu = Engram.gpuStatus();
        System.out.println("gpu.available=" + gpu.available());
        System.out.println("gpu.reasons=" + String.join(" | ", gpu.reasons()));
        try {
            NativeLibraryLoader.require();
            System.out.println("require=ok");
        } catch (NativeLibraryException e) {
            System.out.println("require=" + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        try {
            System.out.println("version=" + Engram.version());
        } catch (NativeLibraryException e) {
            System.out.println("version=" + e.getClass().getSimpleName());
        }
    }
}
