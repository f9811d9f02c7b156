#!/usr/bin/env bash
# Everything a GPU machine should check, from a bundle made by tests/make-bundle.sh (no Maven, no network):
# run on the GPU machine from the repository root, e.g. in one `device` call with carry [".gpu"].
#
# Usage: tests/gpu-session.sh [STEP...]      (default: tests selftest bench sanitize hosttable)
#   tests     the whole JUnit suite with -Dengram.requireGpu=true (a missing GPU fails instead of skipping)
#   sanitize  the GPU test classes under compute-sanitizer --tool memcheck, then --tool racecheck
#   selftest  the C++ kernel self-tests built by make-bundle.sh (bundle/selftest/)
#   bench     GpuForwardBench and bench/baseline/torch_engram_baseline.py with the same configs, same call
#   profile   Nsight Compute on a short GpuForwardBench run (bf16, 4x4096): per-kernel duration, % of peak
#             memory/compute throughput, occupancy and registers of the gather, GEMM, gate and conv kernels
#   hosttable HostTableBench (host-memory tables, both gather paths, prefetch overlap) at 1 and 10 GiB
#             (bf16, and fp32 at 10 GiB), and the baseline with --table host
#   hosttable90  the same at 90 GiB (larger than the GPU's memory): pinning and filling take minutes
#
# The device tool allows 10 minutes per call and 30 minutes per session, a fresh machine's start included,
# so a first session runs these as separate calls, most important first:
#   1. tests selftest     correctness: nothing else means anything until these pass
#   2. bench              issue 3's numbers, with the PyTorch baseline in the same call
#   3. sanitize           memcheck and racecheck of the GPU test classes
#   4. hosttable          issue 4's numbers at 1 and 10 GiB
#   5. hosttable90        the table larger than the GPU
#   (profile when time is left)
# Output goes to $OUT (the device tool's folder) or ./gpu-session-out: one log per step, JUnit XML reports,
# and bench JSON lines. Each step runs under `timeout`; the script goes on after a failed step and exits
# non-zero if any step failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="${ENGRAM_BUNDLE:-$root/.gpu}"
out="${OUT:-$root/gpu-session-out}"
mkdir -p "$out"
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(tests selftest bench sanitize hosttable)
failed=()

run_step() { # name, seconds, command...
  local name="$1" secs="$2"
  shift 2
  echo "== $name (limit ${secs}s): $*" | tee -a "$out/session.log"
  local t0=$SECONDS
  timeout "$secs" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0))s" | tee -a "$out/session.log"
  tail -n 15 "$out/$name.log"
  ((rc == 0)) || failed+=("$name")
}

# Commands as arrays of real executables: `timeout` cannot run shell functions.
suite=(env "ENGRAM_JAVA_OPTS=-Dengram.requireGpu=true ${ENGRAM_JAVA_OPTS:-}" "$root/tests/run-without-maven.sh" --bundle "$bundle")

gpu_classes=(--select-package dev.engram.gpu --select-class dev.engram.cuda.CudaGpuTest)
[[ -f "$bundle/lib/engram-tests-tests.jar" ]] && unzip -l "$bundle/lib/engram-tests-tests.jar" 2>/dev/null \
  | grep -q 'dev/engram/cuda/CublasGpuTest.class' && gpu_classes+=(--select-class dev.engram.cuda.CublasGpuTest)

# The bundle's runtime, unpacked by run-without-maven.sh (a one-class run unpacks it if no step has).
bundle_java() {
  local j
  j="$(ls -d "${TMPDIR:-/tmp}"/engram-bundle-jre-*/jre/bin/java 2>/dev/null | head -n 1)"
  if [[ ! -x "$j" ]]; then
    "$root/tests/run-without-maven.sh" --bundle "$bundle" --select-class dev.engram.GpuStatusTest >/dev/null 2>&1
    j="$(ls -d "${TMPDIR:-/tmp}"/engram-bundle-jre-*/jre/bin/java 2>/dev/null | head -n 1)"
  fi
  echo "$j"
}

for step in "${steps[@]}"; do
  case "$step" in
    tests)
      run_step tests 400 "${suite[@]}" --reports-dir "$out/junit" ;;
    sanitize)
      # The JVM itself is host code; the sanitizers watch the kernels of the GPU tests. API errors are not
      # reported: some tests make a CUDA call fail on purpose (HostTableLayerGpuTest: cudaHostGetDevicePointer on
      # unpinned memory), which would count as a sanitizer error and exit 99; every real API error already fails
      # its test through Cuda.check / EngramNative.check.
      sanitizer="${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer"
      run_step memcheck 500 "$sanitizer" --tool memcheck --report-api-errors no --target-processes all \
        --error-exitcode 99 "${suite[@]}" "${gpu_classes[@]}"
      run_step racecheck 500 "$sanitizer" --tool racecheck --report-api-errors no --target-processes all \
        --error-exitcode 99 "${suite[@]}" "${gpu_classes[@]}" ;;
    selftest)
      for t in "$bundle"/selftest/engram_*selftest; do
        [[ -x "$t" ]] || { echo "no self-test binaries in $bundle/selftest" | tee -a "$out/session.log"; failed+=(selftest); break; }
        run_step "$(basename "$t")" 120 env LD_LIBRARY_PATH="$bundle/selftest:${LD_LIBRARY_PATH:-}" "$t"
      done ;;
    bench|hosttable|hosttable90)
      java="$(bundle_java)"
      jbench=("${java:-java}" --enable-native-access=ALL-UNNAMED -Xmx24g -cp "$bundle/bench/benchmarks.jar"
              dev.engram.bench.GpuForwardBench)
      baseline=(python3 "$root/bench/baseline/torch_engram_baseline.py")
      hbench=("${java:-java}" --enable-native-access=ALL-UNNAMED -Xmx16g -cp "$bundle/bench/benchmarks.jar"
              dev.engram.bench.HostTableBench --threads "$(nproc)")
      if [[ "$step" == hosttable90 ]]; then
        run_step bench-host-90gib 580 "${hbench[@]}" --table-gib 90 --reps 15
        continue
      fi
      if [[ "$step" == hosttable ]]; then
        run_step bench-host-1gib 240 "${hbench[@]}" --table-gib 1
        run_step bench-host-10gib 300 "${hbench[@]}" --table-gib 10
        # 256-byte rows: how the two paths' balance moves with the row width (the default path is by table size).
        run_step bench-host-10gib-fp32 300 "${hbench[@]}" --table-gib 10 --dtype fp32
        run_step bench-torch-host-table 240 "${baseline[@]}" --batch 4 --seq 4096 --dtype bf16 --table host
        continue
      fi
      run_step bench-jvm-bf16-4x4096 240 "${jbench[@]}" --batch 4 --seq 4096 --dtype bf16
      run_step bench-jvm-fused-bf16-4x4096 240 "${jbench[@]}" --batch 4 --seq 4096 --dtype bf16 --fused
      run_step bench-torch-bf16-4x4096 240 "${baseline[@]}" --batch 4 --seq 4096 --dtype bf16
      run_step bench-torch-compile-bf16-4x4096 300 "${baseline[@]}" --batch 4 --seq 4096 --dtype bf16 --compile
      run_step bench-jvm-fp32-4x4096 240 "${jbench[@]}" --batch 4 --seq 4096 --dtype fp32
      run_step bench-torch-fp32-4x4096 240 "${baseline[@]}" --batch 4 --seq 4096 --dtype fp32
      run_step bench-jvm-bf16-64x16 240 "${jbench[@]}" --batch 64 --seq 16 --dtype bf16
      run_step bench-torch-bf16-64x16 240 "${baseline[@]}" --batch 64 --seq 16 --dtype bf16
      grep -h '^{' "$out"/bench-*.log > "$out/bench.jsonl" 2>/dev/null ;;
    profile)
      java="$(bundle_java)"
      ncu="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)"
      ncu="${ncu:-${CUDA_HOME:-/usr/local/cuda}/bin/ncu}"
      # The first launches of each kernel after one warm-up forward; CSV so the log reads as a table.
      # --clock-control none: leave the GPU's clocks as they are (the device tool's METHOD.md).
      run_step ncu-bf16-4x4096 400 "$ncu" --clock-control none --target-processes all --csv --page details \
        --kernel-name regex:'hashed_gather|gate_kernel|short_conv|gemm|nvjet|xmma|cutlass|sm90' \
        --launch-skip 4 --launch-count 8 --section SpeedOfLight --section Occupancy --section LaunchStats \
        "${java:-java}" --enable-native-access=ALL-UNNAMED -Xmx24g -cp "$bundle/bench/benchmarks.jar" \
        dev.engram.bench.GpuForwardBench --batch 4 --seq 4096 --dtype bf16 --reps 3 --warmup 1 ;;
    *) echo "gpu-session.sh: unknown step '$step' (tests, sanitize, selftest, bench, profile, hosttable, hosttable90)" >&2; exit 64 ;;
  esac
done
echo "gpu-session.sh: failed steps: ${failed[*]:-none}" | tee -a "$out/session.log"
[[ ${#failed[@]} -eq 0 ]]
