package dev.engram.cli;

import java.util.Arrays;

/**
 * {@code forward --chunks N1,N2,...}: the chunk sizes every sequence is fed in, cycling through the list.
 * Each size is an integer {@code >= 0} and at least one is {@code > 0}, so the chunks always reach the end of the
 * sequence; a 0 is a step in which every sequence gets an empty chunk (which the packed semantics allow).
 */
record ChunkSizes(int[] sizes) {

    /** Parses a comma-separated list; anything else is a usage error that names the bad entry. */
    static ChunkSizes parse(String list) {
        if (list.isBlank()) {
            throw new UsageException("--chunks needs a comma-separated list of chunk sizes, e.g. --chunks 16,1; got ''");
        }
        String[] parts = list.split(",", -1);
        int[] sizes = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            try {
                sizes[i] = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new UsageException("--chunks entry " + (i + 1) + " must be an integer >= 0, got '" + p + "' in '"
                        + list + "'");
            }
            if (sizes[i] < 0) {
                throw new UsageException("--chunks entry " + (i + 1) + " must be >= 0, got " + sizes[i] + " in '" + list + "'");
            }
        }
        if (Arrays.stream(sizes).noneMatch(s -> s > 0)) {
            throw new UsageException("--chunks needs at least one size > 0 (with only 0s the sequences would never end), got '"
                    + list + "'");
        }
        return new ChunkSizes(sizes);
    }

    /** {@return the largest size in the list} */
    int max() {
        return Arrays.stream(sizes).max().orElseThrow();
    }

    /** The size of chunk {@code step} (0-based), cycling through the list. */
    int size(int step) {
        return sizes[step % sizes.length];
    }

    @Override
    public String toString() {
        return String.join(",", Arrays.stream(sizes).mapToObj(Integer::toString).toList());
    }
}
