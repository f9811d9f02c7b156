package dev.engram.cuda;

import dev.engram.NativeLibraryException;

/** Run in a fresh JVM by CublasWithoutGpuTest: creates a cuBLAS handle twice and prints what happened. */
public final class CublasProbeMain {
    private CublasProbeMain() {}

    public static void main(String[] args) {
        for (int attempt = 1; attempt <= 2; attempt++) {
            String outcome;
            try (Cublas cublas = Cublas.create()) {
                outcome = "ok, version " + cublas.version();
            } catch (NativeLibraryException | CublasException e) {
                outcome = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            System.out.println("create" + attempt + "=" + outcome);
        }
    }
}
