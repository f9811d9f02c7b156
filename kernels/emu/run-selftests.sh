#!/usr/bin/env bash
# Runs the C++ kernel self-tests (kernels/test/*_selftest.cu) on the CPU, with the CUDA kernels built
# as C++ against kernels/emu's emulation of the CUDA runtime, under ASan + UBSan. This is NOT a GPU
# run: it checks the kernels' logic, indexing, bounds, alignment and barrier use against the
# self-tests' CPU references, and says nothing about timing, the GPU memory model, warp scheduling
# or mapped host memory. The real check stays tests/gpu-session.sh on a GPU machine.
#
# Needs python3 (transform.py) and a C++20 compiler with ASan/UBSan (g++ 12 or clang 15+).
# Environment:
#   EMU_MAX_GRID   blocks run per launch (default 3; the kernels are grid-stride, so fewer blocks
#                  give the same result, one after another)
#   EMU_BUILD_DIR  build directory (default: a fresh one under $TMPDIR, removed afterwards)
#   EMU_TIMEOUT    seconds per self-test (default 900)
#   EMU_TESTS      the self-tests to run (default: hashed_gather_selftest gate_conv_selftest packed_selftest
#                  fp8_gather_selftest fp8_dequantize_selftest)
#   CXX            compiler (default g++)
set -euo pipefail

echo "== CPU EMULATION of the CUDA kernels (kernels/emu), NOT a GPU run: no real timing, memory model or mapped host memory =="

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
emu="$root/kernels/emu"
export EMU_MAX_GRID="${EMU_MAX_GRID:-3}"
cxx="${CXX:-g++}"

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: kernels/emu/run-selftests.sh needs python3 to rewrite the kernel launches (apt-get install python3)" >&2
  exit 1
fi
command -v "$cxx" >/dev/null 2>&1 || { echo "error: C++ compiler '$cxx' not found (set CXX)" >&2; exit 1; }

if [[ -n "${EMU_BUILD_DIR:-}" ]]; then
  build="$(realpath -m "$EMU_BUILD_DIR")"
  if [[ "$build/" == "$root"/* && "$build/" != "$root"/build/* ]]; then
    echo "error: EMU_BUILD_DIR=$EMU_BUILD_DIR is inside the source tree; use a directory under build/ or \$TMPDIR" >&2
    exit 1
  fi
  mkdir -p "$build"
else
  build="$(mktemp -d "${TMPDIR:-/tmp}/engram-kernel-emu.XXXXXX")"
  trap 'rm -rf "$build"' EXIT
fi

flags=(-std=c++20 -O1 -g -pthread -Wall -Wextra -Wno-unknown-pragmas -fno-strict-aliasing -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I"$emu/include" -I"$root/native/include" -I"$root/native/src" -I"$root/kernels" -I"$root/kernels/test"
       -DENGRAM_VERSION_STRING='"emu"')
echo "build: $build ($("$cxx" --version | head -1))"

# The self-tests (kernels/test/NAME.cu); EMU_TESTS picks some, e.g. EMU_TESTS=packed_selftest.
tests="${EMU_TESTS:-hashed_gather_selftest gate_conv_selftest packed_selftest fp8_gather_selftest fp8_dequantize_selftest}"

t0=$SECONDS
pids=()
compile() { # source (as C++), object
  "$cxx" "${flags[@]}" -x c++ -c "$1" -o "$2" &
  pids+=($!)
}
objs=()
for k in hashed_gather hashed_gather_fp8 fp8_dequantize gate short_conv gate_short_conv short_conv_packed state_commit; do
  python3 "$emu/transform.py" "$root/kernels/$k.cu" "$build/$k.emu.cpp"
  compile "$build/$k.emu.cpp" "$build/$k.o"
  objs+=("$build/$k.o")
done
compile "$emu/emu_runtime.cpp" "$build/emu_runtime.o"
objs+=("$build/emu_runtime.o")
# The host C++ of libengram's CUDA build (CMakeLists.txt), without the no-CUDA stubs.
for f in engram_status engram_hash_host engram_host_gather engram_hashed_gather_args engram_gate_conv_args \
         engram_packed_args engram_fp8_gather_args engram_fp8_dequantize_args; do
  compile "$root/native/src/$f.cpp" "$build/$f.o"
  objs+=("$build/$f.o")
done
python3 "$emu/transform.py" "$emu/emu_selfcheck.cu" "$build/emu_selfcheck.emu.cpp"
compile "$build/emu_selfcheck.emu.cpp" "$build/emu_selfcheck.o"
for t in $tests; do
  compile "$root/kernels/test/$t.cu" "$build/$t.o"
done
compiled=1
for p in "${pids[@]}"; do wait "$p" || compiled=0; done
((compiled)) || { echo "error: compiling for the emulation failed (compiler messages above)" >&2; exit 1; }
for t in $tests emu_selfcheck; do
  "$cxx" "${flags[@]}" "$build/$t.o" "${objs[@]}" -o "$build/$t"
done
echo "built in $((SECONDS - t0))s"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
failed=()

# The emulation itself: correct kernels pass, and each fault a GPU would report aborts with a report.
t1=$SECONDS
for c in ok last_error poisoned_shared partial_mask partial_warp misaligned_load misaligned_store divergent_sync \
         host_pointer out_of_bounds big_shared; do
  rc=0
  # Its kernels are not grid-stride and their grids are tiny: every block runs.
  { timeout 60 env -u EMU_MAX_GRID "$build/emu_selfcheck" "$c" >"$build/emu_selfcheck.$c.log" 2>&1; } 2>/dev/null || rc=$?
  case "$c" in
    ok | last_error | poisoned_shared) good=$((rc == 0)) ;;
    *) good=0  # must abort with the emulator's or a sanitizer's report, not time out
       if ((rc != 0 && rc != 124)) && grep -qE 'EMU FAULT|runtime error|AddressSanitizer' "$build/emu_selfcheck.$c.log"; then
         good=1
       fi ;;
  esac
  if ((!good)); then
    echo "emu_selfcheck $c: exit $rc, not what the emulation must do:"
    tail -n 20 "$build/emu_selfcheck.$c.log"
    failed+=("emu_selfcheck:$c")
  fi
done
echo "== emu_selfcheck: 3 correct kernels and 8 faults checked in $((SECONDS - t1))s${failed[*]:+, FAILED: ${failed[*]}}"
for t in $tests; do
  echo "== $t (emulated, EMU_MAX_GRID=$EMU_MAX_GRID)"
  t1=$SECONDS
  rc=0
  timeout "${EMU_TIMEOUT:-900}" "$build/$t" || rc=$?
  echo "== $t: exit $rc after $((SECONDS - t1))s"
  ((rc == 0)) || failed+=("$t")
done
if ((${#failed[@]})); then
  echo "== CPU emulation: FAILED: ${failed[*]}"
  exit 1
fi
echo "== CPU emulation: the kernel self-tests ($tests) passed (emulated on the CPU, not a GPU run), $((SECONDS - t0))s"
