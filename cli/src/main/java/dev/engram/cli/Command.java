package dev.engram.cli;

import java.io.PrintStream;

/** One sub-command of the CLI. {@link Main} handles {@code --help} and {@code --verbose} for all of them. */
interface Command {
    /** The name typed on the command line. */
    String name();

    /** One line for the command list. */
    String summary();

    /** The full {@code --help} text. */
    String help();

    /**
     * Runs the command with its options (the command name and {@code --verbose} removed).
     *
     * @return the exit code (0 on success)
     * @throws UsageException when the options cannot be run as given
     */
    int run(String[] args, PrintStream out);

    /**
     * Runs the command with somewhere to report progress; by default ignores {@code err} (a command reports errors
     * by throwing, and {@link Main} prints them).
     *
     * @param err where progress lines may go (stderr), never results
     * @return the exit code (0 on success)
     * @throws UsageException when the options cannot be run as given
     */
    default int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out);
    }
}
