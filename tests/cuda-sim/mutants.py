#!/usr/bin/env python3
"""Mutation check of the CUDA simulator against the project's own Java code (simulated CUDA on the CPU,
not a GPU run). Each mutant removes one ordering step from a COPY of a Java source (the project's files
are never touched), compiles that one class in front of the built classes, runs the GPU test classes that
exercise it against the simulator, and requires the run to be caught: a "SIM RACE"/"SIM HAZARD"/"SIM FAULT"
report or a failing test. A mutant whose text is no longer in the source fails the check (update it here).

SIM_MUTANTS break a COPY of the simulator's packed kernel bodies instead (tests/cuda-sim/src), built into
the work directory: the Java tests of the packed path must then fail. They are selected by class-name
pattern; while no test class matches (the packed-path Java tests are not written yet), such a mutant is
reported NOT CHECKED and does not fail the run. Each is also run against the simulator's own
`sim_selfcheck packed_chunks`, which must catch it (evidence that the mutant is a real bug).

Usage: mutants.py --java JAVA --launcher JAR --classpath CP --workdir DIR [--jvm-arg ARG]... [NAME...]
       mutants.py --check-only      (only checks that every mutant's text occurs once in its source)
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GPU = "java-api/src/main/java/dev/engram/gpu/"
CUDA = "java-api/src/main/java/dev/engram/cuda/"

# name, file, text to remove (must occur exactly once), replacement, tests to run, what the bug is
MUTANTS = [
    ("no-last-forward-wait", GPU + "EngramLayer.java",
     "        stream.waitEvent(lastForwardDone); // the scratch may still be in use by a forward on another stream\n",
     "", ["dev.engram.gpu.EngramLayerGpuVsCpuTest#forwardsOnTwoStreamsDoNotShareScratchInFlight"],
     "a forward on a second stream does not wait for the first one, which still uses the shared scratch"),
    ("no-ready-wait", GPU + "HostTableLayer.java",
     "        stream.waitEvent(ready[slot]);\n", "", ["dev.engram.gpu.HostTableLayerGpuTest#pipelinedStepsWithoutHostSynchronizationKeepTheirRows"],
     "the compute stream reads the prefetched rows without waiting for the side stream's copy or gather"),
    ("no-consumed-wait", GPU + "HostTableLayer.java",
     "                int e = mapping.config().engramHiddenSize();\n                side.waitEvent(consumed[slot]);\n",
     "                int e = mapping.config().engramHiddenSize();\n", ["dev.engram.gpu.HostTableLayerGpuTest#pipelinedStepsWithoutHostSynchronizationKeepTheirRows"],
     "CPU path: a prefetch overwrites a staging slot's device rows while the forward that reads them may still run"),
    ("no-copied-sync", GPU + "HostTableLayer.java",
     "        copied[slot].synchronize(); // the slot's previous H2D copy has left the pinned buffer\n", "",
     ["dev.engram.gpu.HostTableLayerGpuTest#pipelinedStepsWithoutHostSynchronizationKeepTheirRows"],
     "a prefetch gathers into the pinned staging slot while the slot's previous copy may still read it"),
    ("no-close-sync", GPU + "HostTableLayer.java",
     "            side.synchronize();\n            for (CudaEvent e : consumed) e.synchronize();\n", "",
     ["dev.engram.gpu.HostTableLayerGpuTest#closingWithPrefetchesInFlightIsSafe"],
     "close frees staging memory that queued prefetches still use"),
    ("gate-on-legacy-stream", GPU + "Gate.java",
     "nativeDtype(dtype), valueOut.address(), gateAddress, stream.handle());",
     "nativeDtype(dtype), valueOut.address(), gateAddress, MemorySegment.NULL);",
     ["dev.engram.gpu.EngramLayerGpuVsCpuTest#forwardsOnTwoStreamsDoNotShareScratchInFlight"],
     "the gate's FFM call passes the legacy stream instead of the caller's (unordered with the GEMM before it)"),
    ("copy-from-without-landing-sync", CUDA + "DeviceArray.java",
     "        Cuda.deviceSynchronize(); // a pageable copy may return before its DMA lands\n", "",
     ["dev.engram.cuda.CudaGpuTest#synchronousCopiesAreFencesForNonBlockingStreams"],
     "copyFrom returns before a pageable upload has landed; a non-blocking stream reads the old contents"),
    ("copy-to-without-sync", CUDA + "DeviceArray.java",
     "        Cuda.deviceSynchronize(); // kernels on non-blocking streams may still be writing the source\n", "",
     ["dev.engram.cuda.CudaGpuTest#synchronousCopiesAreFencesForNonBlockingStreams"],
     "copyTo reads device memory that work on a non-blocking stream may still be writing"),
    ("copy-to-async-wrong-kind", CUDA + "DeviceArray.java",
     "cuda_runtime_h.cudaMemcpyDeviceToHost(), s));", "cuda_runtime_h.cudaMemcpyHostToDevice(), s));",
     ["dev.engram.cuda.CudaGpuTest"],
     "copyToAsync's FFM call passes the wrong copy direction (cudaMemcpyHostToDevice)"),
    ("capture-waits-on-last-forward", GPU + "EngramLayer.java",
     "            if (!capturing) stream.waitEvent(lastForwardDone); // the scratch may still be in use on another stream\n",
     "            stream.waitEvent(lastForwardDone);\n",
     ["dev.engram.gpu.DecodeStepGraphGpuTest"],
     "a captured decode step waits on the layer's completion event, recorded outside the capture"),
    ("device-batch-staging-overwritten", GPU + "DeviceBatch.java",
     "            if (uploadQueued) uploaded.synchronize(); // the previous copy may still read the staging\n", "",
     ["dev.engram.gpu.PackedForwardGpuTest#pipelinedStepsThroughOneReSetDeviceBatchEqualTheWholeSequences"],
     "DeviceBatch.set rewrites its pinned staging while the previous upload may still read it"),
    ("upload-slot-refilled-early", GPU + "PinnedStagingRing.java",
     "            copied[slot].synchronize();\n", "",
     ["dev.engram.gpu.PinnedStagingUploadGpuTest#sameDtypeFromNativeAndHeapMemoryArrivesWhole"],
     "the upload's pinned ring refills a slot while the copy of its previous chunk may still read it"),
]


SIM_SRC = "tests/cuda-sim/src/"
# Test classes of the packed path (Java, branch javagpu): any class whose name matches runs for a SIM_MUTANT.
PACKED_TESTS = r"dev\.engram\..*(Packed|EngramState|DeviceBatch|Decode|Chunk).*Test"

# name, simulator source, text to replace (exactly once), replacement, test class pattern, what the bug is
SIM_MUTANTS = [
    ("commit-window-overwritten", SIM_SRC + "kernels.cpp",
     "            char* next = win.data();\n", "            char* next = old;\n", PACKED_TESTS,
     "the commit writes the new window in place, newest row first, so rows carried over from the old window "
     "are read after they were overwritten (chunks shorter than the window)"),
    ("commit-history-overwritten", SIM_SRC + "kernels.cpp",
     "            int64_t* next = hist.data();\n", "            int64_t* next = old;\n", PACKED_TESTS,
     "the commit writes the new history in place, newest entry first, reading overwritten entries"),
    ("gather-ignores-history", SIM_SRC + "kernels.cpp",
     "        const bool from_history = pl.continues;", "        const bool from_history = false;", PACKED_TESTS,
     "the packed gather pads a continuing sequence's shifts before the chunk instead of reading its history"),
    ("conv-ignores-window", SIM_SRC + "kernels.cpp",
     "        const bool from_window = pl.continues;", "        const bool from_window = false;", PACKED_TESTS,
     "the packed conv treats a continuing sequence's rows before the chunk as zeros instead of its window"),
]


def apply(name, path, old, new, workdir):
    src = open(os.path.join(ROOT, path)).read()
    count = src.count(old)
    if count != 1:
        raise SystemExit(f"mutant {name}: its text occurs {count} times in {path} (expected once); update mutants.py")
    out = os.path.join(workdir, name, "src", os.path.basename(path))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(src.replace(old, new))
    return out


def select_args(tests):
    args = []
    for t in tests:
        args += ["--select-method", t] if "#" in t else ["--select-class", t]
    return args


def check_only():
    """Every mutant's text occurs exactly once in its source (the patch applies)."""
    bad = 0
    for name, path, old, *_ in MUTANTS + SIM_MUTANTS:
        count = open(os.path.join(ROOT, path)).read().count(old)
        print(f"mutant {name:28s} {'applies' if count == 1 else f'DOES NOT APPLY ({count} matches)'} to {path}")
        bad += count != 1
    return 1 if bad else 0


def run_junit(a, jvm_args, classpath, selection, log):
    with open(log, "w") as f:
        rc = subprocess.run([a.java, *jvm_args, "-jar", a.launcher, "execute", "--disable-banner",
                             "--disable-ansi-colors", "--details=summary", "--class-path", classpath, *selection],
                            stdout=f, stderr=subprocess.STDOUT).returncode
    text = open(log).read()
    reports = sorted(set(re.findall(r"^SIM (RACE|HAZARD|FAULT)", text, re.M)))
    found = re.search(r"\[\s*(\d+) tests found", text)
    failed = re.search(r"\[\s*(\d+) tests failed", text)
    return rc, text, reports, int(found.group(1)) if found else -1, int(failed.group(1)) if failed else -1


def sim_mutant(a, name, path, old, new, pattern, why):
    """Builds the simulator from a patched copy of src/ and runs the packed-path tests against it.
    Returns True (caught), False (missed) or None (no test class matches the pattern yet)."""
    t0 = time.time()
    base = os.path.join(a.workdir, name)
    src = os.path.join(base, "src")
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, SIM_SRC), src)
    text = open(os.path.join(ROOT, path)).read()
    if text.count(old) != 1:
        raise SystemExit(f"mutant {name}: its text occurs {text.count(old)} times in {path}; update mutants.py")
    with open(os.path.join(src, os.path.basename(path)), "w") as f:
        f.write(text.replace(old, new))
    build = os.path.join(base, "build")
    env = dict(os.environ, SIM_SRC_DIR=src, SIM_BUILD_DIR=build)
    subprocess.run(["bash", os.path.join(ROOT, "tests/cuda-sim/build.sh")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    own = subprocess.run([os.path.join(build, "sim_selfcheck"), "packed_chunks"], env=env, capture_output=True,
                         text=True)
    own_caught = own.returncode != 0
    jvm = [re.sub(r"^(-Dengram\.cuda\.libdir=).*", lambda m: m.group(1) + build, x) for x in a.jvm_arg]
    jvm = [re.sub(r"^(-Dengram\.library\.path=).*", lambda m: m.group(1) + os.path.join(build, "libengram.so"), x)
           for x in jvm]
    test_classes = [p for p in a.classpath.split(os.pathsep) if p.rstrip("/").endswith("test-classes")]
    selection = ["--scan-class-path", *test_classes, "--include-classname", pattern]
    rc, log_text, reports, found, failed = run_junit(a, jvm, a.classpath, selection, os.path.join(base, "junit.log"))
    own_how = "sim_selfcheck packed_chunks " + ("catches it" if own_caught else "DOES NOT catch it")
    if found <= 0:
        print(f"mutant {name:28s} NOT CHECKED (no test class matches {pattern}: the packed-path Java tests are "
              f"needed; {own_how}; {time.time() - t0:.0f}s): {why}")
        return None if own_caught else False
    caught = bool(reports) or failed > 0 or rc != 0
    how = (", ".join(f"SIM {r}" for r in reports) or "no simulator report") + \
          (f", {failed} of {found} test(s) failed" if failed > 0 else f", {found} tests passed")
    print(f"mutant {name:28s} {'CAUGHT' if caught else 'MISSED'} ({how}; {own_how}; {time.time() - t0:.0f}s): {why}")
    if not caught:
        print("\n".join("    " + l for l in log_text.splitlines()[-15:]))
    return caught and own_caught


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--java")
    ap.add_argument("--launcher")
    ap.add_argument("--classpath")
    ap.add_argument("--workdir")
    ap.add_argument("--jvm-arg", action="append", default=[])
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    if a.check_only:
        return check_only()
    if not (a.java and a.launcher and a.classpath and a.workdir):
        ap.error("--java, --launcher, --classpath and --workdir are required")
    javac = os.path.join(os.path.dirname(a.java), "javac")
    chosen = [m for m in MUTANTS if not a.names or m[0] in a.names]
    missed = []
    for name, path, old, new, tests, why in chosen:
        t0 = time.time()
        source = apply(name, path, old, new, a.workdir)
        classes = os.path.join(a.workdir, name, "classes")
        os.makedirs(classes, exist_ok=True)
        subprocess.run([javac, "-nowarn", "-proc:none", "--release", "22", "-d", classes, "-cp", a.classpath, source],
                       check=True)
        log = os.path.join(a.workdir, name, "junit.log")
        rc, text, reports, found, failed = run_junit(a, a.jvm_arg, classes + os.pathsep + a.classpath,
                                                     select_args(tests), log)
        caught = (bool(reports) or rc != 0) and found != 0  # a selection that found no test catches nothing
        how = (", ".join(f"SIM {r}" for r in reports) or "no simulator report") + \
              (f", {failed} test(s) failed" if failed > 0 else ", tests passed" if failed == 0 else f", exit {rc}")
        print(f"mutant {name:24s} {'CAUGHT' if caught else 'MISSED'} ({how}; {time.time() - t0:.0f}s): {why}")
        if not caught:
            missed.append(name)
            print("\n".join("    " + l for l in text.splitlines()[-15:]))
    unchecked = []
    for name, path, old, new, pattern, why in [m for m in SIM_MUTANTS if not a.names or m[0] in a.names]:
        result = sim_mutant(a, name, path, old, new, pattern, why)
        if result is None:
            unchecked.append(name)
        elif not result:
            missed.append(name)
    if missed:
        print(f"mutants not caught: {' '.join(missed)}")
        return 1
    checked = len(chosen) + len(SIM_MUTANTS) - len(unchecked) if not a.names else "the chosen"
    print(f"all {checked} checked mutants caught" +
          (f"; NOT CHECKED (no packed-path Java tests yet): {' '.join(unchecked)}" if unchecked else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
