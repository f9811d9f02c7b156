package dev.engram.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One in-process run of the CLI: exit code and everything it printed. */
record CliRun(int code, String out, String err) {

    static CliRun of(String... args) {
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code;
        try (var o = new PrintStream(out, true, StandardCharsets.UTF_8);
             var e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Main.run(args, o, e);
        }
        return new CliRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Asserts success with nothing on stderr. */
    CliRun assertOk() {
        assertEquals(Main.OK, code, () -> "exit code; stderr: " + err);
        assertEquals("", err, "stderr");
        return this;
    }

    /** Asserts the exit code and a single {@code error: ...} line on stderr that contains every fragment. */
    CliRun assertError(int expectedCode, String... fragments) {
        assertEquals(expectedCode, code, () -> "exit code; stderr: " + err);
        String[] lines = err.strip().split("\\R");
        assertEquals(1, lines.length, () -> "stderr must be one line, got: " + err);
        assertTrue(lines[0].startsWith("error: "), () -> "stderr must start with 'error: ', got: " + err);
        for (String f : fragments) {
            assertTrue(lines[0].contains(f), () -> "stderr should mention '" + f + "', got: " + err);
        }
        return this;
    }
}
