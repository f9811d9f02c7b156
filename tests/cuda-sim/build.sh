#!/usr/bin/env bash
# Builds the CUDA simulator (simulated CUDA on the CPU, NOT a GPU): three libraries with the sonames the
# Java side loads, plus its self-check programs, into build/cuda-sim/ (or $SIM_BUILD_DIR):
#   libcudart.so.13   src/{cudart,graph,devices,pointer_attributes,sync_counters,queue,order,memory,threads}.c:
#                     the runtime, devices, streams, stream capture and graphs, race detector, synchronization counters
#   libcublas.so.13   src/{cublas,gemm}.c: cublasGemmEx & co. on the CPU
#   libengram.so      src/{engram_entry,kernels}.cpp plus libengram's REAL host code (native/src/*.cpp
#                     and kernels/cuda_runtime_info.cu compiled as C++): argument checks, status, hash,
#                     host gather, CUDA probes are the project's own code, only kernel bodies are CPU stand-ins
#   sim_selfcheck, argcheck_probe   selfcheck/*.c (run by selfcheck.sh; sim_selfcheck's cases are in
#                     sim_selfcheck.c, graph_cases.c and packed_cases.c)
# Needs a C11 and a C++17 compiler (CC, CXX; default cc, c++). With the CUDA toolkit's headers
# ($CUDA_HOME/include or /usr/local/cuda/include) every simulated cudart function is compiled against
# the real prototype; without them, include/ stands in. Rebuilds only when a source is newer.
# Flags: SIM_OPT (default "-O3 -march=native", the build runs where it is used). SIM_SRC_DIR: another copy of
# src/ to build (mutants.py's patched copies), with SIM_BUILD_DIR to keep it apart.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${SIM_BUILD_DIR:-$root/build/cuda-sim}"
src="${SIM_SRC_DIR:-$here/src}" # mutants.py builds a patched copy of src/ this way
cc="${CC:-cc}"
cxx="${CXX:-c++}"
opt=(${SIM_OPT:--O3 -march=native})
mkdir -p "$out"

sources=("$src"/* "$here"/include/* "$here"/selfcheck/* "$here/build.sh" "$root"/native/src/* "$root"/native/include/*
         "$root"/kernels/*.h "$root"/kernels/ngram_hash.cuh "$root"/kernels/cuda_runtime_info.cu "$root/CMakeLists.txt")
products=("$out/libcudart.so.13" "$out/libcublas.so.13" "$out/libengram.so" "$out/sim_selfcheck" "$out/argcheck_probe")
fresh=1
for p in "${products[@]}"; do
  [[ -f "$p" ]] || fresh=0
done
if ((fresh)); then
  newest_product="$(ls -t "${products[@]}" | tail -n 1)"
  for s in "${sources[@]}"; do
    [[ "$s" -nt "$newest_product" ]] && fresh=0 && break
  done
fi
if ((fresh)); then
  echo "cuda-sim build: up to date in $out"
  exit 0
fi

cuda_inc=()
cuda_home="${CUDA_HOME:-/usr/local/cuda}"
if [[ -f "$cuda_home/include/cuda_runtime_api.h" ]]; then
  cuda_inc=(-DSIM_REAL_CUDA_HEADERS -I"$cuda_home/include")
  echo "cuda-sim build: checking the simulated cudart against $cuda_home/include/cuda_runtime_api.h"
else
  echo "cuda-sim build: no CUDA headers at $cuda_home/include; using include/sim_cuda_types.h's stand-ins"
fi
version="$(sed -n 's/^project(engram VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")"
[[ -n "$version" ]] || { echo "cuda-sim build: no project version in $root/CMakeLists.txt" >&2; exit 1; }

# -ffp-contract=off: a*b+c is never fused behind the code's back; fmaf is written where the kernels use it.
common=("${opt[@]}" -g -fPIC -fvisibility=hidden -ffp-contract=off -fno-strict-aliasing -Wall -Wextra -pthread
        "${cuda_inc[@]}" -I"$here/include")
engram_inc=(-I"$root/native/include" -I"$root/native/src" -I"$root/kernels")
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

pids=()
"$cc" -std=c11 "${common[@]}" -shared -Wl,-soname,libcudart.so.13 -Wl,--no-undefined \
  "$src"/{cudart,graph,devices,pointer_attributes,sync_counters,queue,order,memory,threads}.c -o "$tmp/libcudart.so.13" -lm &
pids+=($!)
wait "${pids[@]}" || { echo "cuda-sim build: libcudart failed" >&2; exit 1; }
pids=()
link_rt=(-L"$tmp" -l:libcudart.so.13 -Wl,-rpath,'$ORIGIN' -Wl,--no-undefined)
"$cc" -std=c11 "${common[@]}" -shared -Wl,-soname,libcublas.so.13 "$src"/{cublas,gemm}.c \
  -o "$tmp/libcublas.so.13" "${link_rt[@]}" -lm &
pids+=($!)
"$cxx" -std=c++17 "${common[@]}" "${engram_inc[@]}" -DENGRAM_VERSION_STRING="\"$version\"" -shared \
  -Wl,-soname,libengram.so "$src"/{engram_entry,kernels}.cpp \
  "$root"/native/src/{engram_status,engram_hash_host,engram_host_gather,engram_hashed_gather_args,engram_gate_conv_args,engram_packed_args,engram_fp8_gather_args,engram_fp8_dequantize_args}.cpp \
  -x c++ "$root/kernels/cuda_runtime_info.cu" -x none -o "$tmp/libengram.so" "${link_rt[@]}" -lm &
pids+=($!)
for p in "${pids[@]}"; do wait "$p" || { echo "cuda-sim build: compiling failed (messages above)" >&2; exit 1; }; done
"$cc" -std=c11 "${common[@]}" "${engram_inc[@]}" "$here"/selfcheck/{sim_selfcheck,graph_cases,packed_cases}.c \
  -o "$tmp/sim_selfcheck" -ldl \
  -L"$tmp" -l:libcudart.so.13 -l:libcublas.so.13 -l:libengram.so -Wl,-rpath,'$ORIGIN' -lm &
pids=($!)
"$cc" -std=c11 "${common[@]}" "${engram_inc[@]}" "$here/selfcheck/argcheck_probe.c" -o "$tmp/argcheck_probe" -ldl &
pids+=($!)
for p in "${pids[@]}"; do wait "$p" || { echo "cuda-sim build: self-checks failed to build" >&2; exit 1; }; done
mv "$tmp"/* "$out/"
echo "cuda-sim build: built $out/{libcudart.so.13,libcublas.so.13,libengram.so} (simulated; libengram $version)"
