#!/usr/bin/env bash
# Runs the project's GPU test classes against the CUDA simulator: SIMULATED CUDA ON THE CPU, NOT A GPU RUN.
# It exercises the Java side (stream/event ordering, buffer lifetimes, FFM call sites, error paths) on a
# machine without a GPU; it says nothing about the kernels' correctness on a GPU (kernels/emu checks the
# real kernel code) or about speed. See tests/cuda-sim/README.md.
#
# Steps: build the simulator (build.sh); its self-checks (selfcheck.sh); the whole test suite, which
# includes every @RequiresGpu class (dev.engram.gpu.*GpuTest, CudaGpuTest, CublasGpuTest) and the tests
# whose path changes when a GPU is usable (CLI demo, GPU status, binding symbol checks), with
# -Dengram.requireGpu=true under several schedules; the mutation check (mutants.py). Fails on a failing
# or skipped test, on any "SIM RACE", "SIM HAZARD" or "SIM FAULT" line, on device/pinned memory, streams,
# events or cuBLAS handles still alive at exit, and when a run did not go through the simulator.
#
# Needs: `mvn -B verify` (or `mvn -B test-compile`) run first in this checkout, Maven (the JUnit console
# launcher is fetched like tests/make-bundle.sh does), a JDK 22+ (JAVA_HOME), cc/c++, python3.
# Environment: SIM_RUNS (default "lazy rr random:2026"), SIM_DEVICES (default 2 here: two simulated devices, so
# the device-affinity tests run; every other test uses device 0), SIM_MUTANTS=0 skips the mutation check,
# SIM_BUILD_DIR (default build/cuda-sim). The fused gate + ShortConv is a per-layer option; the tests that
# set it (EngramLayerFusedGpuTest, GateShortConvGpuTest) run in every schedule.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${SIM_BUILD_DIR:-$root/build/cuda-sim}"
export SIM_BUILD_DIR="$out"
runs="${SIM_RUNS:-lazy rr random:2026}"
export SIM_DEVICES="${SIM_DEVICES:-2}"
t_start=$SECONDS

echo "=================================================================================================="
echo "== SIMULATED CUDA ON THE CPU (tests/cuda-sim), NOT A GPU RUN: the test suite, GPU tests included, runs"
echo "== against CPU stand-ins for cudart, cuBLAS and libengram's kernels. Checks the Java side's ordering,"
echo "== buffer lifetimes and FFM calls; says nothing about GPU correctness, GPU memory model or speed."
echo "=================================================================================================="

die() { echo "cuda-sim run: $*" >&2; exit 1; }
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
command -v "$java" >/dev/null || die "no java (set JAVA_HOME to a JDK 22+)"
command -v mvn >/dev/null || die "mvn not found on PATH"
command -v python3 >/dev/null || die "python3 not found (the mutation check needs it)"
[[ -d "$root/tests/target/test-classes" ]] || die "no tests/target/test-classes: run mvn -B verify first"

bash "$here/build.sh"
bash "$here/selfcheck.sh"

# Class path: the modules' own target/classes (never the engram jars in ~/.m2, which may be another
# checkout's), their dependencies, the test classes; JUnit comes with the console launcher.
logs="$out/logs"
rm -rf "$logs" "$out/reports" "$out/mutants"
mkdir -p "$logs"
(cd "$root" && mvn -B -q -pl tests -am test-compile dependency:build-classpath \
   -Dmdep.outputFile="$out/classpath.txt" -Dmdep.includeScope=test) >"$logs/maven.log" 2>&1 \
  || { tail -n 30 "$logs/maven.log"; die "mvn test-compile dependency:build-classpath failed"; }
junit_version="$(sed -n 's:.*<junit.platform.version>\(.*\)</junit.platform.version>.*:\1:p' "$root/pom.xml" | head -n 1)"
launcher="$out/junit-platform-console-standalone-$junit_version.jar"
if [[ ! -f "$launcher" ]]; then
  (cd "$root" && mvn -B -q -N dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_version" \
     -DoutputDirectory="$out") >>"$logs/maven.log" 2>&1 || { tail -n 30 "$logs/maven.log"; die "could not fetch the JUnit console launcher"; }
fi
classpath="$(tr ':' '\n' <"$out/classpath.txt" | grep -v -e '/org/junit/' -e '/org/opentest4j/' -e '/org/apiguardian/' | paste -sd:)"
classpath="$classpath:$root/tests/target/test-classes"

jvm=(--enable-native-access=ALL-UNNAMED -Dengram.golden.dir="$root/tests/golden" -Dengram.header="$root/native/include/engram.h"
     -Dengram.requireGpu=true -Dengram.cuda.libdir="$out" -Dengram.library.path="$out/libengram.so")
select=(--scan-class-path "$root/tests/target/test-classes")
gpu_classes="$(cd "$root/tests/src/test/java" && grep -rl --include='*.java' '^@RequiresGpu' . | sed 's:^\./::; s:\.java$::; s:/:.:g' | sort)"
echo "cuda-sim run: the whole suite ($(wc -l <<<"$gpu_classes") @RequiresGpu classes among it); excluded: none"

# Tests of the @RequiresGpu classes in a JUnit XML report.
gpu_tests() {
  python3 - "$1" $gpu_classes <<'PY'
import sys, xml.etree.ElementTree as ET
classes = set(sys.argv[2:])
print(sum(1 for t in ET.parse(sys.argv[1]).getroot().iter("testcase") if t.get("classname") in classes))
PY
}

count() { sed -n "s/^\[ *\([0-9]*\) $1 *\]$/\1/p" "$2" | head -n 1; }
failed=()
summary=()
for run in $runs; do
  schedule="$run"
  what="schedule $schedule, $SIM_DEVICES simulated devices"
  name="${run//[:+]/_}"
  log="$logs/simulated-junit-$name.log"
  t0=$SECONDS
  rc=0
  SIM_SCHEDULE="$schedule" "$java" "${jvm[@]}" -jar "$launcher" execute --disable-banner --disable-ansi-colors \
    --details=tree --fail-if-no-tests --class-path "$classpath" "${select[@]}" --reports-dir "$out/reports/simulated-$name" \
    >"$log" 2>&1 || rc=$?
  found="$(count "tests found" "$log")"; ok="$(count "tests successful" "$log")"
  bad="$(count "tests failed" "$log")"; skipped="$(count "tests skipped" "$log")"; aborted="$(count "tests aborted" "$log")"
  gpu="$(gpu_tests "$out/reports/simulated-$name/TEST-junit-jupiter.xml" 2>/dev/null || echo "?")"
  sim_lines="$(grep -cE '^SIM (RACE|HAZARD|FAULT)' "$log" || true)"
  sim_summary="$(grep -m1 '^SIM SUMMARY' "$log" || true)"
  line="run $name ($what): ${found:-?} tests (${gpu} of them @RequiresGpu), ${ok:-?} passed, ${bad:-?} failed, ${skipped:-?} skipped, ${aborted:-?} aborted (assumptions), $((SECONDS - t0))s; ${sim_summary#SIM SUMMARY: }"
  echo "cuda-sim $line"
  summary+=("$line")
  problem=""
  ((rc == 0)) || problem="JUnit exit $rc"
  [[ "${skipped:-1}" == 0 ]] || problem="$problem; skipped tests"
  ((sim_lines == 0)) || problem="$problem; $sim_lines simulator report(s)"
  [[ -n "$sim_summary" ]] || problem="$problem; no SIM SUMMARY line: the run did not go through the simulator"
  # Everything the suite allocated or created is released by the time the JVM exits (a native-side leak check).
  [[ -z "$sim_summary" || "$sim_summary" == *"left at exit: 0 device allocations (0 bytes), 0 pinned (0 bytes), 0 registered (0 bytes), 0 streams, 0 events, 0 graphs, 0 graph execs" ]] \
    || problem="$problem; memory, streams, events or graphs left at exit"
  if grep -q '^SIM CUBLAS SUMMARY' "$log" && ! grep -q '^SIM CUBLAS SUMMARY: 0 cuBLAS handles left at exit' "$log"; then
    problem="$problem; cuBLAS handles left at exit"
  fi
  if [[ -n "$problem" ]]; then
    echo "cuda-sim run $name FAILED (${problem#; }); from $log:"
    grep -E '^SIM (RACE|HAZARD|FAULT)' "$log" | head -n 20 | sed 's/^/    /' || true
    sed -n '/^Failures (/,/^Test run finished/p' "$log" | head -n 60 | sed 's/^/    /'
    failed+=("$name")
  fi
done

if [[ "${SIM_MUTANTS:-1}" != 0 ]]; then
  t0=$SECONDS
  echo "cuda-sim mutation check: each mutant removes one ordering step from a copy of a Java source; the simulator must catch it"
  jvm_args=()
  for a in "${jvm[@]}"; do jvm_args+=("--jvm-arg=$a"); done
  if python3 "$here/mutants.py" --java "$java" --launcher "$launcher" --classpath "$classpath" --workdir "$out/mutants" \
       "${jvm_args[@]}"; then
    summary+=("mutation check: all mutants caught, $((SECONDS - t0))s")
  else
    failed+=(mutants)
  fi
fi

echo "== cuda-sim summary (SIMULATED CUDA ON THE CPU, NOT A GPU RUN), $((SECONDS - t_start))s in all; logs in $logs:"
printf '   %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "== cuda-sim: FAILED: ${failed[*]}"
  exit 1
fi
echo "== cuda-sim: all simulated runs passed (not a GPU run)"
