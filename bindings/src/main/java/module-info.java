/**
 * FFM bindings of libengram (engram.h), the CUDA runtime and cuBLAS, in jextract's layout, and the libengram.so they
 * call. Not API: only the library module reads them.
 */
module dev.engram.bindings {
    exports dev.engram.bindings to dev.engram;
}
