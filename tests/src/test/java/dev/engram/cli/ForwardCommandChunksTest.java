package dev.engram.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code forward --chunks}: every row fed chunk by chunk, the rows' chunks packed into one call per step, writes
 * the very file the whole forward writes (golden layers and cases, float64 and float32 output); bad lists are usage
 * errors. The GPU side: {@link ForwardCommandGpuTest}.
 */
class ForwardCommandChunksTest {
    /** 1-token decode, short and long chunks, chunks past T, empty chunks at the start and in between. */
    private static final List<String> LISTS = List.of("1", "2,3", "0,5,1", "100", "4,0", "9,1,1", "16,1");

    @TempDir
    Path tmp;

    @TestFactory
    List<DynamicTest> chunkedOutputIsTheWholeOutput() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode layer : ForwardGoldenFiles.layers()) {
            for (JsonNode c : ForwardGoldenFiles.cases()) {
                String name = "L" + ForwardGoldenFiles.layerId(layer) + " " + c.get("name").asText();
                tests.add(DynamicTest.dynamicTest(name + " float64", () -> checkLists(layer, c, ".f64.bin")));
                tests.add(DynamicTest.dynamicTest(name + " float32", () -> checkLists(layer, c, ".f32.bin")));
            }
        }
        return tests;
    }

    private void checkLists(JsonNode layer, JsonNode c, String suffix) throws IOException {
        Path config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        Path whole = tmp.resolve("whole" + suffix);
        CliRun.of(ForwardGoldenFiles.args(config, layer, c, whole).toArray(String[]::new)).assertOk();
        byte[] expected = Files.readAllBytes(whole);
        for (int i = 0; i < LISTS.size(); i++) {
            Path out = tmp.resolve("chunks" + i + suffix);
            List<String> args = ForwardGoldenFiles.args(config, layer, c, out);
            args.addAll(List.of("--chunks", LISTS.get(i), "--device", "cpu"));
            CliRun run = CliRun.of(args.toArray(String[]::new)).assertOk();
            assertTrue(run.out().contains("in chunks of " + LISTS.get(i)), run.out());
            assertArrayEquals(expected, Files.readAllBytes(out), "--chunks " + LISTS.get(i) + " vs the whole forward");
        }
    }

    private List<String> goodArgs(Path out) {
        Path config = ForwardGoldenFiles.writeConfig(tmp, "config.json", JsonNodeFactory.instance.objectNode());
        return ForwardGoldenFiles.args(config, ForwardGoldenFiles.layers().getFirst(), ForwardGoldenFiles.cases().getFirst(), out);
    }

    private CliRun withChunks(Path out, String list, String... more) {
        List<String> args = goodArgs(out);
        args.addAll(List.of("--chunks", list));
        args.addAll(List.of(more));
        return CliRun.of(args.toArray(String[]::new));
    }

    @Test
    void badListsAreUsageErrors() {
        Path out = tmp.resolve("out.f64.bin");
        withChunks(out, "").assertError(Main.USAGE_ERROR, "--chunks needs a comma-separated list of chunk sizes");
        withChunks(out, "a").assertError(Main.USAGE_ERROR, "--chunks entry 1 must be an integer >= 0, got 'a'");
        withChunks(out, "-1").assertError(Main.USAGE_ERROR, "--chunks entry 1 must be >= 0, got -1");
        withChunks(out, "0").assertError(Main.USAGE_ERROR, "--chunks needs at least one size > 0");
        withChunks(out, "0,0").assertError(Main.USAGE_ERROR, "--chunks needs at least one size > 0");
        withChunks(out, "1,,2").assertError(Main.USAGE_ERROR, "--chunks entry 2 must be an integer >= 0, got ''");
        withChunks(out, "3,1.5").assertError(Main.USAGE_ERROR, "--chunks entry 2 must be an integer >= 0, got '1.5'");
        withChunks(out, "99999999999").assertError(Main.USAGE_ERROR, "--chunks entry 1 must be an integer >= 0");
        assertFalse(Files.exists(out), "no output file on error");
    }

    @Test
    void helpDescribesChunks() {
        CliRun help = CliRun.of("forward", "--help").assertOk();
        assertTrue(help.out().contains("--chunks LIST"), help.out());
        assertTrue(help.out().contains("[--chunks N1,N2,...]"), help.out());
    }
}
