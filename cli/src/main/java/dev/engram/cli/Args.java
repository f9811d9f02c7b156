package dev.engram.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The options of one command: {@code --name value}, {@code --name=value} and boolean {@code --flag}s.
 * Each command declares the names it accepts, so a typo is a usage error rather than silently ignored.
 * No positional arguments, except one operand for a command that declares it ({@code inspect CHECKPOINT}): every
 * other input is named, which keeps the commands self-describing.
 */
final class Args {
    private final String command;
    private final Map<String, String> values;
    private final Set<String> flags;
    private final String operand;

    private Args(String command, Map<String, String> values, Set<String> flags, String operand) {
        this.command = command;
        this.values = values;
        this.flags = flags;
        this.operand = operand;
    }

    /**
     * Parses {@code args} for a command that takes one operand (an argument not starting with {@code --}, anywhere
     * among the options), e.g. {@code inspect CHECKPOINT --prefix P}.
     *
     * @param operandName what the operand is, for messages, e.g. {@code CHECKPOINT}
     * @throws UsageException as {@link #parse}, and when the operand is missing or given twice
     */
    static Args parseWithOperand(String command, String[] args, Set<String> valueOptions, Set<String> flagOptions,
                                 String operandName) {
        java.util.List<String> options = new java.util.ArrayList<>();
        String operand = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.startsWith("--") && arg.length() > 2) {
                options.add(arg);
                String name = arg.substring(2);
                String bare = name.contains("=") ? name.substring(0, name.indexOf('=')) : name;
                if (!valueOptions.contains(bare) && !flagOptions.contains(bare)) {
                    parse(command, new String[] {arg}, valueOptions, flagOptions); // the unknown-option error
                }
                if (!name.contains("=") && valueOptions.contains(name) && i + 1 < args.length) options.add(args[++i]);
            } else if (operand == null) {
                operand = arg;
            } else {
                throw new UsageException("'" + command + "' takes one " + operandName + ", got '" + operand + "' and '"
                        + arg + "'");
            }
        }
        if (operand == null) throw new UsageException("'" + command + "' needs a " + operandName + " (see '" + command
                + " --help')");
        Args parsed = parse(command, options.toArray(String[]::new), valueOptions, flagOptions);
        return new Args(command, parsed.values, parsed.flags, operand);
    }

    /** The operand of {@link #parseWithOperand}, or {@code null}. */
    String operand() {
        return operand;
    }

    /**
     * Parses {@code args} for {@code command}.
     *
     * @param valueOptions options that take a value, without the leading dashes
     * @param flagOptions  options that take none
     * @throws UsageException on an unknown option, a missing value, a repeated option or a positional argument
     */
    static Args parse(String command, String[] args, Set<String> valueOptions, Set<String> flagOptions) {
        Map<String, String> values = new LinkedHashMap<>();
        Set<String> flags = new LinkedHashSet<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--") || arg.length() == 2) {
                throw new UsageException("unexpected argument '" + arg + "' for '" + command + "' (options start with --; see '"
                        + command + " --help')");
            }
            String name = arg.substring(2);
            String inlineValue = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inlineValue = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (flagOptions.contains(name)) {
                if (inlineValue != null) throw new UsageException("option --" + name + " takes no value");
                flags.add(name);
            } else if (valueOptions.contains(name)) {
                String value = inlineValue;
                if (value == null) {
                    if (i + 1 >= args.length) throw new UsageException("option --" + name + " needs a value");
                    value = args[++i];
                }
                if (values.put(name, value) != null) throw new UsageException("option --" + name + " is given twice");
            } else {
                throw new UsageException("unknown option --" + name + " for '" + command + "' (see '" + command + " --help')");
            }
        }
        return new Args(command, values, flags, null);
    }

    /** Whether a boolean flag was given. */
    boolean flag(String name) {
        return flags.contains(name);
    }

    /** Whether a value option was given. */
    boolean has(String name) {
        return values.containsKey(name);
    }

    /** The value of an option, or {@code null}. */
    String value(String name) {
        return values.get(name);
    }

    /** The value of an option that must be given. */
    String required(String name) {
        String v = values.get(name);
        if (v == null) throw new UsageException("missing required option --" + name + " for '" + command + "'");
        return v;
    }

    /** A path option that must be given. */
    Path requiredPath(String name) {
        return Path.of(required(name));
    }

    /** A path option, or {@code null}. */
    Path path(String name) {
        String v = values.get(name);
        return v == null ? null : Path.of(v);
    }

    /** An integer option that must be given and be >= {@code min}. */
    int requiredInt(String name, int min) {
        return parseInt(name, required(name), min);
    }

    /** An integer option >= {@code min}, or {@code dflt} when absent. */
    int intValue(String name, int dflt, int min) {
        String v = values.get(name);
        return v == null ? dflt : parseInt(name, v, min);
    }

    /** A long option, or {@code dflt} when absent. */
    long longValue(String name, long dflt, long min) {
        String v = values.get(name);
        if (v == null) return dflt;
        try {
            long x = Long.parseLong(v);
            if (x < min) throw new UsageException("option --" + name + " must be >= " + min + ", got " + v);
            return x;
        } catch (NumberFormatException e) {
            throw new UsageException("option --" + name + " must be an integer, got '" + v + "'");
        }
    }

    private static int parseInt(String name, String v, int min) {
        try {
            int x = Integer.parseInt(v);
            if (x < min) throw new UsageException("option --" + name + " must be >= " + min + ", got " + v);
            return x;
        } catch (NumberFormatException e) {
            throw new UsageException("option --" + name + " must be an integer, got '" + v + "'");
        }
    }
}
