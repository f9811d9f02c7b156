/** The consumer example as a module: it compiles only against what dev.engram exports. */
module example.consumer {
    requires dev.engram;
}
