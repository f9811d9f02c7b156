#!/usr/bin/env bash
# Self-checks of the CUDA simulator (simulated CUDA on the CPU, NOT a GPU run), after build.sh:
#  1. selfcheck/sim_selfcheck.c's cases in every schedule: planted ordering bugs (a missing stream wait,
#     a pinned staging buffer rewritten before its copy was waited for, a free of memory queued work
#     uses, a pageable upload read by a non-blocking stream, an early read of an async copy's target, a
#     kernel given pageable memory, a destroyed stream) must each be reported, their correct twins must
#     not be, event timing must be positive and monotonic, and the simulated kernels and GEMM must match
#     plain references (fused gate + ShortConv bit-identical to gate then ShortConv); the exit summaries
#     must count what a case leaves alive (run.sh's leak check reads them); pointer attributes and stream
#     devices answer as CUDA 13 does; every case passes again with a second simulated device; with two
#     devices (SIM_DEVICES=2), work queued on another device's stream, a kernel given another device's
#     memory and a free after synchronizing the wrong device must be reported, their twin must not be;
#     the synchronization counters count what they document (and are not in the real libcudart, if any);
#     a captured graph replays with the bits of the eager calls and every capture error is CUDA's; packed
#     calls in chunks give the bits of whole-sequence calls, bad descriptors stay in bounds, an unordered
#     state commit is reported (graph_cases.c, packed_cases.c);
#  2. argument parity: selfcheck/argcheck_probe calls the simulated and the real (Maven-built) libengram
#     with ~90 bad or launch-free argument sets; status codes and messages must be identical (the packed
#     ones only when the real library has the ABI 4 entry points, the fp8 ones only with ABI 5's, the fp8
#     dequantization's only with ABI 6's).
# Usage: selfcheck.sh [REAL_LIBENGRAM] (default: the one Maven built under bindings/target/classes).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${SIM_BUILD_DIR:-$root/build/cuda-sim}"
real="${1:-$root/bindings/target/classes/native/linux-x86_64/libengram.so}"
[[ -x "$out/sim_selfcheck" ]] || { echo "selfcheck.sh: no $out/sim_selfcheck; run tests/cuda-sim/build.sh" >&2; exit 1; }

failed=()
usage="$("$out/sim_selfcheck" 2>/dev/null || true)"
cases="$(sed -n 's/^usage: sim_selfcheck CASE; cases: //p' <<<"$usage")"
two_device_cases="$(sed -n 's/^two-device cases (SIM_DEVICES=2): //p' <<<"$usage")"
[[ -n "$cases" && -n "$two_device_cases" ]] || { echo "selfcheck.sh: sim_selfcheck lists no cases" >&2; exit 1; }
n=0
# run_case CASE SCHEDULE DEVICES LOG
run_case() {
  n=$((n + 1))
  if ! SIM_SCHEDULE="$2" SIM_DEVICES="$3" "$out/sim_selfcheck" "$1" >"$4" 2>&1; then
    echo "sim_selfcheck $1 (schedule $2, SIM_DEVICES=$3) FAILED:"
    sed 's/^/    /' "$4"
    failed+=("$1/$2/devices=$3")
  fi
}
for schedule in lazy rr eager random:7; do
  for c in $cases; do
    run_case "$c" "$schedule" 1 "$out/selfcheck.$c.${schedule/:/_}.log"
  done
  for c in $two_device_cases; do
    run_case "$c" "$schedule" 2 "$out/selfcheck.$c.${schedule/:/_}.log"
  done
done
# A second device changes nothing for code that uses one (the cases that loop over devices cover both).
for c in $cases; do
  run_case "$c" lazy 2 "$out/selfcheck.$c.lazy.devices2.log"
done
# The exit summaries count what was left alive (run.sh's leak check relies on them).
for c in leaks no_leaks; do
  want="left at exit: 1 device allocations (64 bytes), 1 pinned (64 bytes), 0 registered (0 bytes), 1 streams, 1 events, 1 graphs, 1 graph execs"
  want_blas="1 cuBLAS handles left at exit"
  if [[ "$c" == no_leaks ]]; then
    want="left at exit: 0 device allocations (0 bytes), 0 pinned (0 bytes), 0 registered (0 bytes), 0 streams, 0 events, 0 graphs, 0 graph execs"
    want_blas="0 cuBLAS handles left at exit"
  fi
  for log in "$out/selfcheck.$c.lazy.log" "$out/selfcheck.$c.lazy.devices2.log"; do
    if ! grep -qF "$want" "$log" || ! grep -qF "$want_blas" "$log"; then
      echo "sim_selfcheck $c: the exit summaries in $log do not say \"$want\" and \"$want_blas\":"
      grep SUMMARY "$log" | sed 's/^/    /'
      failed+=("$c/summary")
    fi
  done
done
echo "cuda-sim self-check: $n case runs ($(wc -w <<<"$cases") cases x 4 schedules and again with SIM_DEVICES=2," \
     "$(wc -w <<<"$two_device_cases") two-device cases x 4 schedules)${failed[*]:+, FAILED: ${failed[*]}}"

# The counters tell the simulator from a GPU by their presence: the real libcudart must not have them.
real_cudart="${CUDA_HOME:-/usr/local/cuda}/lib64/libcudart.so.13"
if [[ -f "$real_cudart" ]] && command -v nm >/dev/null; then
  if nm -D --defined-only "$real_cudart" | grep -qE ' (simDeviceSynchronizeCount|simLegacyStreamSyncCount)(@|$)'; then
    echo "cuda-sim counters FAILED: $real_cudart exports a simulator counter's name"
    failed+=(counter-names)
  else
    echo "cuda-sim counters: simDeviceSynchronizeCount, simLegacyStreamSyncCount are not in $real_cudart"
  fi
fi

if [[ -f "$real" ]]; then
  "$out/argcheck_probe" "$out/libengram.so" >"$out/argcheck.sim.txt" 2>/dev/null
  "$out/argcheck_probe" "$real" >"$out/argcheck.real.txt"
  filter=(cat)
  if ! grep -q "^built_with_cuda 1" "$out/argcheck.real.txt"; then
    # A libengram built without nvcc answers launch-free calls NOT_BUILT_WITH_CUDA: compare the rejections only.
    filter=(grep -v -e "no tokens" -e "^built_with_cuda")
    echo "cuda-sim argument parity: $real was built without CUDA; comparing the rejected calls only"
  fi
  if grep -q "^packed entry points absent" "$out/argcheck.real.txt"; then
    # A real library built before the ABI 4 kernels (CUDA build without them): compare what both have.
    echo "cuda-sim argument parity: $real lacks the packed entry points (ABI 4); their parity is NOT checked"
    sed -i '/^packed entry points absent/d' "$out/argcheck.real.txt"
    sed -i '/^packed /,$d' "$out/argcheck.sim.txt"
  fi
  if grep -q "^fp8 entry points absent" "$out/argcheck.real.txt"; then
    # A real library built before the ABI 5 fp8 gathers: compare what both have.
    echo "cuda-sim argument parity: $real lacks the fp8 entry points (ABI 5); their parity is NOT checked"
    sed -i '/^fp8 entry points absent/d' "$out/argcheck.real.txt"
    sed -i '/^fp8 /,$d' "$out/argcheck.sim.txt"
  fi
  if grep -q "^dequantize entry point absent" "$out/argcheck.real.txt"; then
    # A real library built before the ABI 6 dequantization: compare what both have.
    echo "cuda-sim argument parity: $real lacks engram_fp8_dequantize_rows (ABI 6); its parity is NOT checked"
    sed -i '/^dequantize entry point absent/d' "$out/argcheck.real.txt"
    sed -i '/^dequantize /,$d' "$out/argcheck.sim.txt"
  fi
  if diff <("${filter[@]}" "$out/argcheck.sim.txt") <("${filter[@]}" "$out/argcheck.real.txt") >"$out/argcheck.diff"; then
    echo "cuda-sim argument parity: $(grep -c . "$out/argcheck.real.txt") calls answer identically in the simulated and the real libengram"
  else
    echo "cuda-sim argument parity FAILED: the simulated libengram answers differently from $real:"
    sed 's/^/    /' "$out/argcheck.diff"
    failed+=(argcheck)
  fi
else
  echo "cuda-sim argument parity: SKIPPED, no real libengram at $real (build it with mvn -B verify)"
fi

((${#failed[@]} == 0))
