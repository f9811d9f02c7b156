package dev.engram.cli;

import dev.engram.Engram;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code demo} on the small preset, and the top level: help, unknown command, per-command help. */
class DemoAndMainTest {

    @Test
    void demoRunsTheSmallPresetOnTheCpuReference() {
        CliRun run = CliRun.of("demo", "--preset", "small", "--batch", "2", "--seq", "8", "--repeat", "2", "--device", "cpu")
                .assertOk();
        assertContains(run.out(), DemoCommand.CPU_LINE + " (--device cpu)", "gpu: GPU", "B=2 x T=8 = 16 tokens",
                "tokens/s", "all finite");
        for (String stage : StageTimings.STAGES) assertContains(run.out(), "  " + stage + " ");
    }

    @Test
    void demoRunsOnTheGpuWhenOneIsUsable() {
        CliRun run = CliRun.of("demo", "--preset", "small", "--batch", "1", "--seq", "8", "--repeat", "1").assertOk();
        if (Engram.gpuStatus().available()) {
            assertContains(run.out(), DemoCommand.GPU_LINE + ", bf16", "per-stage GPU time (CUDA events)", "hash+gather",
                    "check: GPU vs CPU reference", "all finite");
        } else {
            assertContains(run.out(), DemoCommand.CPU_LINE, "gpu: GPU unavailable", "all finite");
            CliRun.of("demo", "--device", "gpu").assertError(Main.USAGE_ERROR, "--device gpu, but GPU unavailable");
        }
    }

    @Test
    void demoRejectsUnknownDeviceAndDtype() {
        CliRun.of("demo", "--device", "tpu").assertError(Main.USAGE_ERROR, "--device must be auto, gpu or cpu");
        CliRun.of("demo", "--dtype", "fp16").assertError(Main.USAGE_ERROR, "--dtype must be bf16 or fp32");
    }

    @Test
    void optionsWithoutCommandRunTheDemo() {
        assertContains(CliRun.of("--batch", "1", "--seq", "4", "--repeat", "1").assertOk().out(), "Engram demo", "CPU reference");
    }

    @Test
    void demoRejectsUnknownPresetAndLayer() {
        CliRun.of("demo", "--preset", "huge").assertError(Main.USAGE_ERROR, "unknown preset 'huge'", "small, demo");
        CliRun.of("demo", "--layer", "7").assertError(Main.USAGE_ERROR, "--layer 7", "[1, 15]");
        CliRun.of("demo", "--preset", "small", "--config", "x.json").assertError(Main.USAGE_ERROR, "--preset or --config");
    }

    @Test
    void helpForEveryCommand() {
        assertContains(CliRun.of("--help").assertOk().out(), "usage: engram", "demo", "hash", "forward");
        assertContains(CliRun.of("demo", "--help").assertOk().out(), "usage: engram demo", "--preset", "--repeat");
        assertContains(CliRun.of("hash", "--help").assertOk().out(), "usage: engram hash", "--describe", "--lut");
        assertContains(CliRun.of("forward", "--help").assertOk().out(), "usage: engram forward", "--hidden", "gate_norm_eps",
                "exit codes");
    }

    @Test
    void unknownCommand() {
        CliRun.of("frobnicate").assertError(Main.USAGE_ERROR, "unknown command 'frobnicate'");
    }

    @Test
    void verbosePrintsTheStackTraceAfterTheErrorLine() {
        CliRun run = CliRun.of("hash", "--verbose", "--config", "does-not-exist.json", "--describe");
        assertTrue(run.code() == Main.RUNTIME_ERROR && run.err().startsWith("error: does-not-exist.json: no such file")
                && run.err().contains("\tat "), run.err());
    }

    private static void assertContains(String text, String... fragments) {
        for (String f : fragments) assertTrue(text.contains(f), () -> "expected '" + f + "' in:\n" + text);
    }
}
