package dev.engram.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code --key value} arguments of a main-class benchmark, unknown keys refused (a typo must not run the default). */
final class BenchArgs {
    private BenchArgs() {}

    static Map<String, String> parse(String[] argv, String usage, String... keys) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String k = argv[i].startsWith("--") ? argv[i].substring(2) : null;
            if (k == null || i + 1 >= argv.length || !List.of(keys).contains(k)) {
                throw new IllegalArgumentException("usage: " + usage + "; got '" + argv[i] + "'");
            }
            m.put(k, argv[++i]);
        }
        return m;
    }
}
