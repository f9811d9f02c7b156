package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code forward --table-placement} usage errors (no GPU needed: they come before the GPU check): only a checkpoint's
 * table on the GPU has a placement, and only device, host-copy and host-register are placements. The GPU runs are
 * {@link ForwardTablePlacementGpuTest}.
 */
class ForwardTablePlacementErrorTest {
    private static final JsonNode LAYER = ForwardGoldenFiles.layers().getFirst();
    private static final JsonNode CASE = ForwardGoldenFiles.cases().getFirst();

    @TempDir
    Path tmp;

    private List<String> args(boolean checkpoint, String... more) {
        Path config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        Path out = tmp.resolve("out.f32.bin");
        List<String> args = new ArrayList<>(checkpoint
                ? CheckpointFiles.forwardArgs(config, LAYER, CASE, tmp.resolve("c.safetensors"), out)
                : ForwardGoldenFiles.args(config, LAYER, CASE, out));
        args.addAll(List.of(more));
        return args;
    }

    private CliRun run(List<String> args) {
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertFalse(Files.exists(tmp.resolve("out.f32.bin")), "no output file on error");
        return r;
    }

    @Test
    void onlyACheckpointOnTheGpuHasAPlacement() {
        run(args(false, "--device", "gpu", "--table-placement", "host-copy"))
                .assertError(Main.USAGE_ERROR, "--table-placement applies to --checkpoint with --device gpu only");
        run(args(true, "--table-placement", "host-register"))
                .assertError(Main.USAGE_ERROR, "--table-placement applies to --checkpoint with --device gpu only");
        run(args(true, "--device", "cpu", "--table-placement", "device"))
                .assertError(Main.USAGE_ERROR, "--table-placement applies to --checkpoint with --device gpu only");
    }

    @Test
    void anUnknownPlacementIsAUsageError() {
        run(args(true, "--device", "gpu", "--table-placement", "host"))
                .assertError(Main.USAGE_ERROR, "--table-placement must be device, host-copy or host-register, got 'host'");
    }

    @Test
    void helpNamesThePlacementsAndProgress() {
        String help = CliRun.of("forward", "--help").assertOk().out();
        for (String s : List.of("[--table-placement device|host-copy|host-register] [--progress]", "host-copy:",
                "host-register:", "--progress", "not measured on a GPU yet")) {
            assertTrue(help.contains(s), s + " in\n" + help);
        }
    }
}
