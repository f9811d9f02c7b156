/**
 * Engram for the JVM: DeepSeek's Engram layer (conditional memory via hashed n-gram lookup), with a
 * double-precision CPU reference and CUDA kernels behind Panama FFM. The exported packages are the API; native
 * loading and the bindings are not. Run with {@code --enable-native-access=dev.engram,dev.engram.bindings} on the
 * module path ({@code ALL-UNNAMED} on the class path).
 */
module dev.engram {
    requires dev.engram.bindings;

    exports dev.engram;
    exports dev.engram.checkpoint;
    exports dev.engram.cuda;
    exports dev.engram.gpu;
    exports dev.engram.hash;
    exports dev.engram.io;
    exports dev.engram.reference;
    exports dev.engram.table;
    exports dev.engram.tokenizer;
}
