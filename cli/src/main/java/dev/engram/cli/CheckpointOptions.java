package dev.engram.cli;

import dev.engram.io.LayerPrefix;

/**
 * The checkpoint options {@code forward}, {@code inspect} and {@code convert} share: the layer prefix, with one
 * default for reading and writing, so that a checkpoint {@code convert} writes is read back without options.
 */
final class CheckpointOptions {
    /** Where a checkpoint's Engram layers live unless {@code --prefix} says otherwise (SEMANTICS.md §10's example). */
    static final String DEFAULT_PREFIX = "model.layers.{layer}.engram.";

    private CheckpointOptions() {}

    /** The help text of a prefix option, aligned with the other options' (description at column 18). */
    static String prefixHelp(String option) {
        return prefixHelp(option, "where the layers' tensors live");
    }

    /** The same for a prefix of another role, e.g. "the prefix written" (at most 30 characters). */
    static String prefixHelp(String option, String role) {
        return String.format("  %-15s %s: a prefix holding {layer} once, followed by the%n"
                + "                  state_dict names (default %s)%n", option + " P", role, DEFAULT_PREFIX);
    }

    /** The prefix {@code option} gives, or the default; a pattern without exactly one {layer} is a usage error. */
    static LayerPrefix prefix(Args args, String option) {
        String p = args.value(option);
        try {
            return LayerPrefix.of(p == null ? DEFAULT_PREFIX : p);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + option + ": " + e.getMessage());
        }
    }
}
