package dev.engram.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code engram} command line: {@code demo} (the default) runs one Engram layer on the CPU
 * reference with random weights and prints per-stage timings; {@code hash} writes the n-gram hash ids
 * of a file of token ids, or describes the hash parameters of a config; {@code forward} writes one layer's
 * output for given weights (a directory of {@code .f32.bin} files or a safetensors checkpoint), ids and hidden
 * states (CPU reference or GPU); {@code inspect} lists a checkpoint's Engram layers and what does not fit a config;
 * {@code convert} writes layers as safetensors, the table in fp32, bf16 or fp8; {@code table} writes the compression
 * table of a Hugging Face tokenizer.json.
 *
 * <p>Run it with {@code mvn -q -B package -DskipTests exec:exec -Dengram.args="hash --help"} from the
 * repository root, with the launcher {@code bin/engram} after {@code mvn -q -B package -DskipTests}, or
 * {@code java --enable-native-access=ALL-UNNAMED -cp <classpath> dev.engram.cli.Main}.
 *
 * <p>Exit codes: {@value #OK} success, {@value #RUNTIME_ERROR} runtime error (missing or malformed
 * file, bad config, id out of range), {@value #USAGE_ERROR} usage error (unknown or missing option).
 * Errors are one line on stderr, {@code error: <message>}; {@code --verbose} adds the stack trace.
 */
public final class Main {
    /** Exit code of a successful run. */
    public static final int OK = 0;
    /** Exit code when the command failed while running. */
    public static final int RUNTIME_ERROR = 1;
    /** Exit code when the command line itself is wrong. */
    public static final int USAGE_ERROR = 2;

    private static final List<Command> COMMANDS = List.of(new DemoCommand(), new HashCommand(), new ForwardCommand(),
            new InspectCommand(), new ConvertCommand(), new TableCommand());

    private Main() {}

    /** Runs the CLI and exits the JVM with its exit code. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs the CLI in-process (for tests and embedding): never calls {@link System#exit}.
     *
     * @param args the command line, e.g. {@code ["hash", "--describe", "--config", "cfg.json"]}
     * @param out  where results go
     * @param err  where the one-line error (and with {@code --verbose} its stack trace) goes
     * @return the exit code: {@link #OK}, {@link #RUNTIME_ERROR} or {@link #USAGE_ERROR}
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        boolean verbose = rest.remove("--verbose");
        try {
            if (rest.isEmpty() || rest.getFirst().startsWith("-") && !isHelp(rest.getFirst())) {
                rest.addFirst("demo"); // options without a command go to the default command
            }
            String name = rest.removeFirst();
            if (isHelp(name) || name.equals("help")) {
                out.print(overview());
                return OK;
            }
            Command command = COMMANDS.stream().filter(c -> c.name().equals(name)).findFirst()
                    .orElseThrow(() -> new UsageException("unknown command '" + name + "' (commands: " + commandNames() + ")"));
            if (rest.stream().anyMatch(Main::isHelp)) {
                out.print(command.help());
                return OK;
            }
            int code = command.run(rest.toArray(String[]::new), out, err);
            out.flush();
            return code;
        } catch (UsageException e) {
            return fail(err, e, verbose, USAGE_ERROR);
        } catch (RuntimeException e) {
            return fail(err, e, verbose, RUNTIME_ERROR);
        } catch (OutOfMemoryError e) {
            long maxGiB = Runtime.getRuntime().maxMemory() >> 30;
            return fail(err, new RuntimeException("out of memory (max heap " + maxGiB
                    + " GiB); use a smaller --batch/--seq or a larger -Xmx", e), verbose, RUNTIME_ERROR);
        }
    }

    private static int fail(PrintStream err, Throwable e, boolean verbose, int code) {
        err.println("error: " + oneLine(e));
        if (verbose) e.printStackTrace(err);
        err.flush();
        return code;
    }

    /** The message on one line: some messages (of the JDK, of libraries) span several. */
    private static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        return m.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    private static boolean isHelp(String arg) {
        return arg.equals("--help") || arg.equals("-h");
    }

    private static String commandNames() {
        return String.join(", ", COMMANDS.stream().map(Command::name).toList());
    }

    private static String overview() {
        StringBuilder sb = new StringBuilder();
        sb.append("usage: engram <command> [options]   (no command: demo)\n\ncommands:\n");
        for (Command c : COMMANDS) sb.append(String.format("  %-8s %s%n", c.name(), c.summary()));
        sb.append("""

                `engram <command> --help` describes a command's options. --verbose prints stack traces.
                Exit codes: 0 ok, 1 runtime error, 2 usage error.
                From the repository root: bin/engram <command> ... (after mvn -q -B package -DskipTests),
                or mvn -q -B package -DskipTests exec:exec -Dengram.args="<command> ..."
                """);
        return sb.toString();
    }
}
