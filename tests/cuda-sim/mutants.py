#!/usr/bin/env python3
"""Mutation check of the CUDA simulator against the project's own Java code (simulated CUDA on the CPU,
not a GPU run). Each mutant removes one ordering step from a COPY of a Java source (the project's files
are never touched), compiles that one class in front of the built classes, runs the GPU test classes that
exercise it against the simulator, and requires the run to be caught: a "SIM RACE"/"SIM HAZARD"/"SIM FAULT"
report or a failing test. A mutant whose text is no longer in the source fails the check (update it here).

Usage: mutants.py --java JAVA --launcher JAR --classpath CP --workdir DIR [--jvm-arg ARG]... [NAME...]
"""
import argparse
import os
import re
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
     "                long tokenBytes = table.dtype().bytesFor(e);\n                side.waitEvent(consumed[slot]);\n",
     "                long tokenBytes = table.dtype().bytesFor(e);\n", ["dev.engram.gpu.HostTableLayerGpuTest#pipelinedStepsWithoutHostSynchronizationKeepTheirRows"],
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--java", required=True)
    ap.add_argument("--launcher", required=True)
    ap.add_argument("--classpath", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--jvm-arg", action="append", default=[])
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
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
        with open(log, "w") as f:
            rc = subprocess.run([a.java, *a.jvm_arg, "-jar", a.launcher, "execute", "--disable-banner",
                                 "--disable-ansi-colors", "--details=summary", "--class-path",
                                 classes + os.pathsep + a.classpath, *select_args(tests)],
                                stdout=f, stderr=subprocess.STDOUT).returncode
        text = open(log).read()
        reports = sorted(set(re.findall(r"^SIM (RACE|HAZARD|FAULT)", text, re.M)))
        failed = re.search(r"\[\s*(\d+) tests failed", text)
        failed = int(failed.group(1)) if failed else -1
        caught = bool(reports) or rc != 0
        how = (", ".join(f"SIM {r}" for r in reports) or "no simulator report") + \
              (f", {failed} test(s) failed" if failed > 0 else ", tests passed" if failed == 0 else f", exit {rc}")
        print(f"mutant {name:24s} {'CAUGHT' if caught else 'MISSED'} ({how}; {time.time() - t0:.0f}s): {why}")
        if not caught:
            missed.append(name)
            print("\n".join("    " + l for l in text.splitlines()[-15:]))
    if missed:
        print(f"mutants not caught: {' '.join(missed)}")
        return 1
    print(f"all {len(chosen)} mutants caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
