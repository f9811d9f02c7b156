#!/usr/bin/env bash
# The GPU check: everything a GPU machine should run, in one call, from a bundle made by tests/make-bundle.sh
# (no Maven, no network there). On the GPU machine, from the repository root, in one `device` call that
# carries [".gpu"]:
#
#   tests/gpu-session.sh                      # plan `all`, ends within its budget (450 s; --simulated: 2400 s)
#   tests/gpu-session.sh extra                # second call when time is left: the serving benchmarks, checkpoint
#                                             # load and fp8 gather, 90 GiB host table, ncu, Java sanitizers
#   tests/gpu-session.sh serving              # only the serving benchmarks (issue 12), JVM and PyTorch
#   tests/gpu-session.sh --simulated          # the same plan here, without a GPU (CI runs this); builds its own
#                                             # bundle (build/sim-bundle) and the simulator first
#
# Usage: tests/gpu-session.sh [--simulated] [--budget SECONDS] [PLAN|STEP...]
# Plans:
#   all    probe, correctness (the suite runs beside selftest + sanitize-selftest), bench, hosttable at 1 GiB,
#          bench-compile, hosttable at 10 GiB: most important first, so a spent budget cuts the least important
#   extra  bench-serving-jvm bench-serving-torch bench-checkpoint hosttable-fp8 hosttable90 profile sanitize-java
#   serving bench-serving-jvm bench-serving-torch
#   pending what bench/RESULTS.md lists as not yet run on a GPU, most important first: probe, correctness (the
#          fp8 dequantize kernel of ABI 6, fp8 and checkpoint host tables), bench-checkpoint (the pinned upload
#          ring, COPY vs REGISTER), hosttable-fp8, bench-serving-jvm (AUTO's 16-64 token window)
# Steps:
#   probe             the machine: GPU, driver, toolkit, where libcublas.so.13 is, whether compute-sanitizer works
#   selftest          the C++ kernel self-tests (bundle/selftest/; --simulated: kernels/emu, a CPU emulation)
#   sanitize-selftest compute-sanitizer memcheck and racecheck on the C++ self-tests
#   tests             the whole JUnit suite with -Dengram.requireGpu=true (a missing GPU fails, never skips)
#   bench             bench-jvm, then bench-torch
#   bench-jvm         GpuForwardBench (bf16 and fp32; 4x4096 and 64x16 tokens; unfused and fused gate + ShortConv)
#   bench-torch       bench/baseline/torch_engram_baseline.py eager (bf16 and fp32 at 4x4096, bf16 at 64x16)
#   bench-compile     the baseline with torch.compile (bf16, 4x4096): compiling takes a minute or two
#   bench-serving-jvm ServingBench (bf16): decode steps of 1, 8, 64, 256 sequences (PackedBatch, DeviceBatch, CUDA
#                     graph) and a packed prefill of 512 sequences of 100-1024 tokens, each checked against the
#                     whole-sequence forward first; then the same with a 1 GiB host table (--table host: the lookup
#                     alone, the pipelined step and the prefill, CPU and ZERO_COPY paths); skipped when the bundle's
#                     jar has no ServingBench
#   bench-serving-torch bench/baseline/torch_engram_serving.py, the same shapes: eager and CUDA graphs, then
#                     torch.compile (compiling takes minutes); --simulated: its CPU mode on tiny shapes where this
#                     machine's python3 (or $ENGRAM_PYTHON) has torch, else skipped
#   bench-checkpoint  issue 13: CheckpointLoadBench (a 4 GiB table, bf16 then fp8: sequential read, open, mapped
#                     touch, CPU-reference load, GpuLayerWeights + EngramLayer.create upload vs a pinned memcpy; both:
#                     the host-table placements COPY vs REGISTER, load ms and 4x4096-token prefetches on the CPU and
#                     ZERO_COPY paths; warm page cache) and Fp8GatherBench (4 GiB bf16 table: CPU gathers of bf16 vs fp8 rows, fp8
#                     dequantization per row, HashedGather fp8Table vs table); --simulated: tiny sizes against the
#                     simulator (seconds); skipped for a jar without them
#   hosttable         HostTableBench at 1 and 10 GiB (bf16; both gather paths vs the pinned memcpy; prefetch overlap),
#                     then hosttable-fp8
#   hosttable-fp8     HostTableBench with an fp8 table of the 1 GiB bf16 table's rows (E4M3 + an E8M0 scale per 32,
#                     dequantized to bf16 on the GPU): rows/s to set beside the bf16 run's; --simulated: 0.01 GiB
#   hosttable90       the same at 90 GiB (larger than the GPU's memory)
#   profile           Nsight Compute on short GpuForwardBench runs (bf16; 4x4096 and 64x16; unfused and fused)
#   profile-serving   Nsight Compute on a short ServingBench run (bf16; a 64-sequence decode step, the packed prefill)
#   conv-variants     GpuForwardBench bf16 with each libengram.so of bundle/variants/ (register caps of the conv
#                     kernels, tests/make-bundle.sh) against the bundle's own
#   cublas-header     keeps the machine's cublas_api.h prototypes of the bound functions (logs/cublas-prototypes.txt)
#   sanitize-java     the Java GPU test classes under compute-sanitizer memcheck and racecheck
#
# Every step runs under `timeout`, cut to what is left of the budget; a step that no longer fits is reported as
# skipped, so the call always ends with its results packed. Output ($OUT, the device tool's folder, or
# ./gpu-session-out), at most 8 files as the device tool returns them:
#   summary.md       one line per step (passed / failed / skipped, why), then the key numbers beside torch's
#                    and the targets (tests/gpu_session_summary.py)
#   session.log      the steps as they ran
#   bench.jsonl      the benchmarks' JSON lines
#   logs.tar.gz      every step's log and the JUnit XML reports
# Exit status: 0 when no step failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
simulated=false
budget="${ENGRAM_SESSION_BUDGET:-}"
args=()
while (($#)); do
  case "$1" in
    --simulated) simulated=true ;;
    --budget) budget="$2"; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
((${#args[@]})) || args=(all)
# The GPU plan fits an 8-minute device call; simulated, the emulated self-tests alone take minutes on 2 cores.
[[ -n "$budget" ]] || { if $simulated; then budget=2400; else budget=450; fi; }
steps=()
for a in "${args[@]}"; do
  case "$a" in
    all) steps+=(probe correctness bench-jvm bench-torch hosttable-1 bench-compile hosttable-10) ;;
    extra) steps+=(bench-serving-jvm bench-serving-torch bench-checkpoint hosttable-fp8 hosttable90 profile sanitize-java) ;;
    serving) steps+=(bench-serving-jvm bench-serving-torch) ;;
    pending) steps+=(probe correctness bench-checkpoint hosttable-fp8 bench-serving-jvm) ;;
    hosttable) steps+=(hosttable-1 hosttable-10 hosttable-fp8) ;;
    bench) steps+=(bench-jvm bench-torch) ;;
    probe|correctness|selftest|sanitize-selftest|tests|bench-jvm|bench-torch|bench-compile|hosttable-1|hosttable-10|hosttable90\
      |hosttable-fp8\
      |profile|profile-serving|sanitize-java|bench-serving-jvm|bench-serving-torch|bench-checkpoint\
      |conv-variants|cublas-header) steps+=("$a") ;;
    *) echo "gpu-session.sh: unknown plan or step '$a' (see --help)" >&2; exit 64 ;;
  esac
done

bundle="${ENGRAM_BUNDLE:-$root/.gpu}"
out="${OUT:-$root/gpu-session-out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
logs="$out/logs"
rm -rf "$logs" "$out/summary.md" "$out/session.log" "$out/bench.jsonl" "$out/logs.tar.gz"
mkdir -p "$logs"
status_file="$logs/steps.tsv"
: >"$status_file"
deadline=$((SECONDS + budget))
reserve=15 # seconds kept for the summary and the packing

say() { echo "$*" | tee -a "$out/session.log"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$status_file"; } # name, status, seconds, note
skip() { say "== $1: skipped: $2"; record "$1" skipped 0 "$2"; }

# run_step NAME LIMIT CMD...: the command under `timeout`, cut to the budget left; its log is logs/NAME.log.
run_step() {
  local name="$1" limit="$2"
  shift 2
  local left=$((deadline - reserve - SECONDS))
  if ((left < 10)); then skip "$name" "the session budget (${budget}s) was spent"; return 0; fi
  ((limit > left)) && limit=$left
  say "== $name (limit ${limit}s): $*"
  local t0=$SECONDS rc=0
  timeout -k 5 "$limit" "$@" >"$logs/$name.log" 2>&1 || rc=$?
  local took=$((SECONDS - t0))
  if ((rc == 0)); then
    record "$name" passed "$took" ""
  elif ((rc == 124 || rc == 137)); then
    record "$name" failed "$took" "timed out after ${limit}s"
  elif grep -qE 'Device not supported|LibraryNotLoaded|ERR_NVGPUCTRPERM|Profiling is not supported' "$logs/$name.log"; then
    # compute-sanitizer and ncu refuse the device on some machines (gVisor): a skip with the tool's words.
    record "$name" skipped "$took" "the tool refused the device: $(grep -m1 -oE '[^=]*(Device not supported|LibraryNotLoaded|ERR_NVGPUCTRPERM|Profiling is not supported)[^.]*' "$logs/$name.log")"
  else
    record "$name" failed "$took" "exit $rc"
  fi
  say "== $name: exit $rc after ${took}s"
  tail -n 6 "$logs/$name.log" | sed 's/^/   /'
}

# ---- what runs where -------------------------------------------------------------------------------------------
java_opts="-Dengram.requireGpu=true ${ENGRAM_JAVA_OPTS:-}"
if $simulated; then
  sim="${SIM_BUILD_DIR:-$root/build/cuda-sim}"
  java_opts="$java_opts -Dengram.cuda.libdir=$sim -Dengram.library.path=$sim/libengram.so"
  say "== SIMULATED: CUDA is simulated on the CPU (tests/cuda-sim) and the kernels' self-tests run under kernels/emu;"
  say "==            NOT a GPU run. Tiny benchmark sizes; the sanitizer and torch steps are skipped."
  # A fresh bundle of this checkout, apart from the one that travels to the GPU machine (.gpu/).
  bundle="${ENGRAM_BUNDLE:-$root/build/sim-bundle}"
  say "== building the bundle $bundle (tests/make-bundle.sh)"
  ENGRAM_CONV_VARIANTS="" "$root/tests/make-bundle.sh" "$bundle" >"$logs/make-bundle.log" 2>&1 \
    || { say "make-bundle.sh failed"; tail -n 30 "$logs/make-bundle.log"; exit 1; }
  bash "$root/tests/cuda-sim/build.sh" >"$logs/cuda-sim-build.log" 2>&1 \
    || { say "tests/cuda-sim/build.sh failed"; tail -n 30 "$logs/cuda-sim-build.log"; exit 1; }
else
  export LD_LIBRARY_PATH="${CUDA_HOME:-/usr/local/cuda}/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # cuBLAS: the toolkit's, else the one PyTorch's wheels carry (nvidia-cublas), else wherever it is.
  if [[ -z "${ENGRAM_CUBLAS_PATH:-}" && ! -e "${CUDA_HOME:-/usr/local/cuda}/lib64/libcublas.so.13" ]]; then
    found="$(python3 -c 'import nvidia.cublas, os; d = os.path.join(list(nvidia.cublas.__path__)[0], "lib"); print(os.path.join(d, "libcublas.so.13"))' 2>/dev/null)"
    [[ -e "$found" ]] || found="$(find / -xdev -name libcublas.so.13 -not -path '/proc/*' -not -path "$root/*" 2>/dev/null | head -n 1)"
    [[ -n "$found" ]] && export ENGRAM_CUBLAS_PATH="$found"
  fi
fi
[[ -d "$bundle/lib" ]] || { say "no bundle at $bundle: make one with tests/make-bundle.sh"; exit 1; }

suite=(env "ENGRAM_JAVA_OPTS=$java_opts" "$root/tests/run-without-maven.sh" --bundle "$bundle")
gpu_classes=(--select-package dev.engram.gpu --select-class dev.engram.cuda.CudaGpuTest --select-class dev.engram.cuda.CublasGpuTest)
sanitizer="${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer"

# The bundle's runtime, unpacked by run-without-maven.sh (a one-class run unpacks it if no step has).
bundle_java() {
  local sum j
  sum="$(cksum <"$bundle/jre.tar.gz" | cut -d' ' -f1)" # where run-without-maven.sh unpacks this bundle's runtime
  j="${ENGRAM_JRE_DIR:-${TMPDIR:-/tmp}/engram-bundle-jre-$sum}/jre/bin/java"
  [[ -x "$j" ]] || "$root/tests/run-without-maven.sh" --bundle "$bundle" --select-class dev.engram.GpuStatusTest >/dev/null 2>&1
  [[ -x "$j" ]] && echo "$j" || echo java
}
bench_java() { # class, heap, more JVM options...: the JVM command for a benchmark class (simulated: against the simulator)
  local cls="$1" heap="$2"
  shift 2
  # shellcheck disable=SC2206 # java_opts is a list of options
  local opts=($java_opts "$@")
  echo "$(bundle_java) --enable-native-access=ALL-UNNAMED -Xmx$heap ${opts[*]} -cp $bundle/bench/benchmarks.jar dev.engram.bench.$cls"
}

step_probe() {
  $simulated && { skip probe "simulated run: no GPU machine to describe"; return; }
  run_step probe 60 bash -c '
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
    nvidia-smi -q | grep -iE "product name|cuda version|persistence|ecc mode" | head
    echo "nvcc: $('"${CUDA_HOME:-/usr/local/cuda}"'/bin/nvcc --version | tail -n 2 | head -n 1)"
    echo "libcudart: $(ls '"${CUDA_HOME:-/usr/local/cuda}"'/lib64/libcudart.so.13* 2>/dev/null | head -n 1)"
    echo "libcublas: ${ENGRAM_CUBLAS_PATH:-$(ls '"${CUDA_HOME:-/usr/local/cuda}"'/lib64/libcublas.so.13 2>/dev/null)}"
    echo "python3: $(python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" 2>&1)"
    echo "cpus: $(nproc), memory: $(free -g | awk "/Mem:/ {print \$2}") GiB, kernel $(uname -r)"
    test -n "${ENGRAM_CUBLAS_PATH:-$(ls '"${CUDA_HOME:-/usr/local/cuda}"'/lib64/libcublas.so.13 2>/dev/null)}"'
}

step_selftest() {
  if $simulated; then
    run_step selftest-emulated 900 env EMU_TIMEOUT=800 "$root/kernels/emu/run-selftests.sh"
    return
  fi
  local t found=false
  for t in "$bundle"/selftest/engram_*selftest; do
    [[ -x "$t" ]] || continue
    found=true
    run_step "$(basename "$t")" 90 env LD_LIBRARY_PATH="$bundle/selftest:$LD_LIBRARY_PATH" "$t"
  done
  $found || { say "no self-test binaries in $bundle/selftest"; record selftest failed 0 "no self-test binaries in the bundle"; }
}

step_sanitize_selftest() {
  $simulated && { skip sanitize-selftest "simulated run: compute-sanitizer needs a GPU"; return; }
  [[ -x "$sanitizer" ]] || { skip sanitize-selftest "no compute-sanitizer at $sanitizer"; return; }
  local t tool pids=()
  # The runs at once: the sanitizers are slow, and they check correctness, not time.
  # API errors are not reported: the self-tests make CUDA calls fail on purpose (a pending error that an empty
  # launch must not consume) and check every status themselves; memory and race errors still fail the step.
  for tool in memcheck racecheck; do
    for t in "$bundle"/selftest/engram_*selftest; do
      [[ -x "$t" ]] || continue
      run_step "$tool-$(basename "$t")" 200 env LD_LIBRARY_PATH="$bundle/selftest:$LD_LIBRARY_PATH" \
        "$sanitizer" --tool "$tool" --report-api-errors no --error-exitcode 99 "$t" &
      pids+=($!)
    done
  done
  wait "${pids[@]}"
}

step_tests() { run_step tests 300 "${suite[@]}" --reports-dir "$logs/junit"; }

step_correctness() {
  if $simulated; then # two cores: one after the other
    step_selftest
    step_tests
    return
  fi
  # The suite is mostly CPU work and its own GPU checks; the self-tests and sanitizers run beside it.
  step_tests &
  local suite_pid=$!
  step_selftest
  step_sanitize_selftest
  wait "$suite_pid"
}

step_bench_jvm() {
  if $simulated; then
    # shellcheck disable=SC2046 # bench_java prints a command line
    run_step bench-jvm-bf16 240 $(bench_java GpuForwardBench 8g) --dtype bf16 --shapes 2x16,4x8 --modes unfused,fused \
      --reps 3 --warmup 1 --warmup-ms 0
    return
  fi
  local dtype
  for dtype in bf16 fp32; do
    # shellcheck disable=SC2046
    run_step "bench-jvm-$dtype" 150 $(bench_java GpuForwardBench 24g) --dtype "$dtype" --shapes 4x4096,64x16 --modes unfused,fused
  done
}

step_bench_torch() {
  $simulated && { skip bench-torch "simulated run: the PyTorch baseline needs a GPU"; return; }
  local base=(python3 "$root/bench/baseline/torch_engram_baseline.py")
  run_step bench-torch-bf16-4x4096 90 "${base[@]}" --batch 4 --seq 4096 --dtype bf16
  run_step bench-torch-fp32-4x4096 90 "${base[@]}" --batch 4 --seq 4096 --dtype fp32
  run_step bench-torch-bf16-64x16 90 "${base[@]}" --batch 64 --seq 16 --dtype bf16
}

# Whether the bundle's benchmark jar has dev.engram.bench.CLASS (a jar built before an API a benchmark needs has not).
bench_has_class() {
  python3 -c 'import sys, zipfile; sys.exit(0 if sys.argv[2] in zipfile.ZipFile(sys.argv[1]).namelist() else 1)' \
    "$bundle/bench/benchmarks.jar" "dev/engram/bench/$1.class" 2>/dev/null
}

step_bench_serving_jvm() {
  bench_has_class ServingBench \
    || { skip bench-serving-jvm "the bundle's benchmarks.jar has no dev.engram.bench.ServingBench (built before the packed GPU API)"; return; }
  local host=true # a jar from before --table host has no HostTableServing (its ServingBench exits 2 for it)
  bench_has_class HostTableServing \
    || { host=false; skip bench-serving-jvm-host "the bundle's benchmarks.jar has no --table host (no dev.engram.bench.HostTableServing)"; }
  if $simulated; then
    # Tiny shapes, CUDA graphs included (the simulator captures and replays them, tests/cuda-sim).
    # shellcheck disable=SC2046 # bench_java prints a command line
    run_step bench-serving-jvm 300 $(bench_java ServingBench 8g) --sequences 1,4 --graph on --table device \
      --prefill 4:2:16 --steps 3 --blocks 1 --warmup 1 --warmup-ms 0 --reps 1 --prefill-warmup 0 --id-sets 2
    # The host table (a few MiB pinned), both paths: the check, the lookup, the pipelined step, the prefill.
    $host || return
    # shellcheck disable=SC2046
    run_step bench-serving-jvm-host 300 $(bench_java ServingBench 4g) --sequences 1,4 --table host --host-table-gib 0.001 \
      --prefill 4:2:16 --steps 3 --blocks 1 --warmup 1 --warmup-ms 0 --reps 1 --prefill-warmup 0 --id-sets 2
    return
  fi
  # shellcheck disable=SC2046
  run_step bench-serving-jvm 180 $(bench_java ServingBench 24g) --sequences 1,8,64,256 --graph on --table device \
    --prefill 512:100:1024
  $host || return
  # shellcheck disable=SC2046
  run_step bench-serving-jvm-host 180 $(bench_java ServingBench 16g) --sequences 1,8,64,256 --table host \
    --host-table-gib 1 --prefill 512:100:1024
}

step_bench_serving_torch() {
  local py="${ENGRAM_PYTHON:-python3}" script="$root/bench/baseline/torch_engram_serving.py"
  if $simulated; then
    # No GPU: the script's CPU mode on tiny shapes (its plumbing and its decode-vs-whole-sequence check).
    "$py" -c 'import torch' 2>/dev/null \
      || { skip bench-serving-torch "simulated run: no torch for $py (the PyTorch baseline runs on the GPU machine)"; return; }
    run_step bench-serving-torch-cpu-quick 300 "$py" "$script" --device cpu --quick
    return
  fi
  run_step bench-serving-torch 150 "$py" "$script" --modes eager,graph
  run_step bench-serving-torch-compile 300 "$py" "$script" --modes compile,compile-graph
}

step_bench_checkpoint() {
  bench_has_class CheckpointLoadBench \
    || { skip bench-checkpoint "the bundle's benchmarks.jar has no dev.engram.bench.CheckpointLoadBench (built before issue 13's benchmarks)"; return; }
  local dir="${TMPDIR:-/tmp}/engram-bench-checkpoint-$$" table
  mkdir -p "$dir"
  if $simulated; then # the plumbing, GPU paths included (the simulator), on a few MiB
    for table in bf16 fp8; do
      # shellcheck disable=SC2046 # bench_java prints a command line
      run_step "bench-checkpoint-load-$table" 120 $(bench_java CheckpointLoadBench 2g) --gib 0.001 --table "$table" \
        --reps 1 --file "$dir/$table.safetensors" --lookup-batch 2 --lookup-seq 16 --threads 2
    done
    # shellcheck disable=SC2046
    run_step bench-checkpoint-fp8-gather 120 $(bench_java Fp8GatherBench 2g) --table-gib 0.001 --tokens 16 --reps 2 --threads 2
  else
    for table in bf16 fp8; do
      # shellcheck disable=SC2046
      run_step "bench-checkpoint-load-$table" 240 $(bench_java CheckpointLoadBench 16g) --gib 4 --table "$table" \
        --reps 3 --file "$dir/$table.safetensors" --lookup-batch 4 --lookup-seq 4096
    done
    # shellcheck disable=SC2046
    run_step bench-checkpoint-fp8-gather 180 $(bench_java Fp8GatherBench 16g) --table-gib 4 --tokens 32768 \
      --threads "$(nproc)"
  fi
  rm -rf "$dir"
}

step_conv_variants() {
  $simulated && { skip conv-variants "simulated run: the variants are sm_90 builds, timed on a GPU"; return; }
  local v found=false
  for v in "$bundle"/variants/conv-mb*/libengram.so; do
    [[ -f "$v" ]] || continue
    found=true
    # shellcheck disable=SC2046
    run_step "bench-jvm-bf16-$(basename "$(dirname "$v")")" 120 $(bench_java GpuForwardBench 24g -Dengram.library.path="$v") \
      --dtype bf16 --shapes 4x4096,64x16 --modes unfused,fused
  done
  $found || skip conv-variants "no variants in $bundle/variants (ENGRAM_CONV_VARIANTS=\"5 6 8\" tests/make-bundle.sh builds them)"
}

step_cublas_header() {
  $simulated && { skip cublas-header "simulated run: no cuBLAS headers here"; return; }
  local h="${CUDA_HOME:-/usr/local/cuda}/include/cublas_api.h"
  run_step cublas-header 30 bash -c "ls -l '$h'; grep -n -B1 -A3 -E '\b(cublasCreate_v2|cublasGemmEx|cublasGetStatusName|cublasSetWorkspace_v2)\b' '$h'"
}

step_bench_compile() {
  $simulated && { skip bench-torch-compile "simulated run: the PyTorch baseline needs a GPU"; return; }
  run_step bench-torch-compile-bf16-4x4096 180 python3 "$root/bench/baseline/torch_engram_baseline.py" \
    --batch 4 --seq 4096 --dtype bf16 --compile
}

step_hosttable() { # sizes in GiB...
  local gib
  for gib in "$@"; do
    if $simulated; then
      # shellcheck disable=SC2046
      run_step "bench-host-${gib}gib" 300 $(bench_java HostTableBench 4g) --table-gib "$gib" --threads 2 --batch 1 --seq 64 \
        --reps 3 --sweep 16,64
    else
      # shellcheck disable=SC2046
      run_step "bench-host-${gib}gib" 240 $(bench_java HostTableBench 16g) --table-gib "$gib" --threads "$(nproc)"
    fi
  done
}

step_hosttable_fp8() { # the size of the bf16 table whose rows the fp8 table holds, in GiB
  local gib="$1"
  if $simulated; then
    # shellcheck disable=SC2046
    run_step "bench-host-${gib}gib-fp8" 300 $(bench_java HostTableBench 4g) --table-gib "$gib" --table-dtype fp8 \
      --threads 2 --batch 1 --seq 64 --reps 3 --sweep 16,64
  else
    # shellcheck disable=SC2046
    run_step "bench-host-${gib}gib-fp8" 240 $(bench_java HostTableBench 16g) --table-gib "$gib" --table-dtype fp8 \
      --threads "$(nproc)"
  fi
}

step_profile() {
  $simulated && { skip profile "simulated run: Nsight Compute needs a GPU"; return; }
  local ncu shape
  ncu="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)"
  ncu="${ncu:-${CUDA_HOME:-/usr/local/cuda}/bin/ncu}"
  [[ -x "$ncu" ]] || { skip profile "no ncu found"; return; }
  for shape in 4x4096 64x16; do
    # Every forward kernel of a short run (2 warm-up + 2 timed + 2 back-to-back forwards per mode), CSV.
    # --clock-control none: leave the GPU's clocks as they are (the device tool's METHOD.md).
    # shellcheck disable=SC2046
    run_step "ncu-bf16-$shape" 200 "$ncu" --clock-control none --target-processes all --csv --page details \
      --kernel-name regex:'hashed_gather|gate_kernel|short_conv|gemm|nvjet|xmma|cutlass|sm90' \
      --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
      $(bench_java GpuForwardBench 24g) --dtype bf16 --shapes "$shape" --modes unfused,fused --reps 2 --warmup 2 --warmup-ms 0
  done
}

step_profile_serving() {
  $simulated && { skip profile-serving "simulated run: Nsight Compute needs a GPU"; return; }
  local ncu
  ncu="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)"
  ncu="${ncu:-${CUDA_HOME:-/usr/local/cuda}/bin/ncu}"
  [[ -x "$ncu" ]] || { skip profile-serving "no ncu found"; return; }
  # The serving shapes' kernels: a 64-sequence decode step (no graph: ncu sees each launch) and the packed prefill.
  # shellcheck disable=SC2046
  run_step ncu-serving-bf16 240 "$ncu" --clock-control none --target-processes all --csv --page details \
    --kernel-name regex:'hashed_gather|gate_kernel|short_conv|state_commit|gemm|nvjet|xmma|cutlass|sm90' \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    $(bench_java ServingBench 24g) --sequences 64 --graph off --table device --prefill 512:100:1024 \
    --steps 2 --blocks 1 --warmup 1 --warmup-ms 0 --reps 1 --prefill-warmup 0 --id-sets 2
}
step_sanitize_java() {
  $simulated && { skip sanitize-java "simulated run: compute-sanitizer needs a GPU"; return; }
  # API errors are not reported: some tests make a CUDA call fail on purpose; each real one fails its test.
  run_step memcheck-java 400 "$sanitizer" --tool memcheck --report-api-errors no --target-processes all \
    --error-exitcode 99 "${suite[@]}" "${gpu_classes[@]}"
  run_step racecheck-java 400 "$sanitizer" --tool racecheck --report-api-errors no --target-processes all \
    --error-exitcode 99 "${suite[@]}" "${gpu_classes[@]}"
}

for step in "${steps[@]}"; do
  case "$step" in
    probe) step_probe ;;
    correctness) step_correctness ;;
    selftest) step_selftest ;;
    sanitize-selftest) step_sanitize_selftest ;;
    tests) step_tests ;;
    bench-jvm) step_bench_jvm ;;
    bench-torch) step_bench_torch ;;
    conv-variants) step_conv_variants ;;
    cublas-header) step_cublas_header ;;
    bench-compile) step_bench_compile ;;
    hosttable-1) if $simulated; then step_hosttable 0.01; else step_hosttable 1; fi ;;
    hosttable-10) if $simulated; then skip bench-host-10gib "simulated run: tiny sizes only"; else step_hosttable 10; fi ;;
    hosttable-fp8) if $simulated; then step_hosttable_fp8 0.01; else step_hosttable_fp8 1; fi ;;
    hosttable90) if $simulated; then skip bench-host-90gib "simulated run: 90 GiB is a GPU machine's size"; else step_hosttable 90; fi ;;
    profile) step_profile ;;
    profile-serving) step_profile_serving ;;
    sanitize-java) step_sanitize_java ;;
    bench-serving-jvm) step_bench_serving_jvm ;;
    bench-serving-torch) step_bench_serving_torch ;;
    bench-checkpoint) step_bench_checkpoint ;;
  esac
done

grep -h '^{' "$logs"/bench-*.log >"$out/bench.jsonl" 2>/dev/null
python3 "$root/tests/gpu_session_summary.py" --logs "$logs" --simulated "$simulated" >"$out/summary.md" \
  || say "gpu_session_summary.py failed; the logs are in logs.tar.gz"
tar -czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$logs"
cat "$out/summary.md"
failed="$(awk -F'\t' '$2 == "failed" {printf "%s ", $1}' <(tar -xzOf "$out/logs.tar.gz" logs/steps.tsv))"
say "gpu-session.sh: failed steps: ${failed:-none}"
[[ -z "$failed" ]]
