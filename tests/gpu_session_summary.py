#!/usr/bin/env python3
"""Writes summary.md for tests/gpu-session.sh from its logs folder: one line per step, the test counts, then the
key numbers (forward ms per stage, gather TB/s and % of the device copy, GEMM TFLOP/s, host gather GB/s and % of
the pinned memcpy, prefetch overlap) beside PyTorch's from the same run and beside issue 10's targets.

  python3 tests/gpu_session_summary.py --logs OUT/logs --simulated false > OUT/summary.md
"""
import argparse
import glob
import json
import os
import re

# Issue 10's targets on the H200.
TARGET_FORWARD_4X4096_MS = 0.4
TARGET_FORWARD_64X16_MS = 0.06
TARGET_GATHER_GBPS = 1500.0
TARGET_GATHER_COPY_FRACTION = 0.5
TARGET_HOST_GATHER_OF_MEMCPY = 0.9
TARGET_OVERLAP_OVERHEAD_PCT = 3.0


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def steps(logs):
    rows = []
    for line in read(os.path.join(logs, "steps.tsv")).splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            rows.append(parts)
    return rows


def junit_counts(logs):
    text = read(os.path.join(logs, "tests.log"))
    counts = {}
    for what in ("found", "successful", "failed", "skipped", "aborted"):
        m = re.search(r"\[\s*(\d+) tests " + what + r"\s*\]", text)
        if m:
            counts[what] = int(m.group(1))
    failures = re.findall(r"(?m)^\s*(?:JUnit Jupiter:)?(\S+?):(\S+)\s*\n\s*MethodSource", text)
    return counts, failures


def bench_lines(logs):
    out = []
    for path in sorted(glob.glob(os.path.join(logs, "bench-*.log"))):
        for line in read(path).splitlines():
            if line.startswith("{"):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                # A build variant's run (bench-jvm-bf16-conv-mb6.log) is labelled with the variant.
                m = re.match(r"bench-jvm-\w+?-(.+)\.log$", os.path.basename(path))
                if m and r.get("impl") == "engram-jvm":
                    r["impl"] = "engram-jvm " + m.group(1)
                out.append(r)
    return out


def fmt(v, digits=4):
    return "—" if v is None else f"{v:.{digits}f}"


def verdict(ok):
    return "meets" if ok else "misses"


def forward_section(results):
    jvm = [r for r in results if str(r.get("impl", "")).startswith("engram-jvm")]
    torch = [r for r in results if str(r.get("impl", "")).startswith("torch") and r.get("table", "device") == "device"]
    if not jvm and not torch:
        return ["No forward benchmark results."]
    lines = ["| impl | dtype | B×T | gate+conv | gather ms | projections ms | gate ms | conv ms | gate+conv ms | total ms |"
             " back-to-back ms | host enqueue µs | gather GB/s (% of copy) | GEMM TFLOP/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in jvm:
        copy = r.get("d2d_copy_gbps")
        gb = r.get("gather_payload_gbps")
        pct = f" ({200 * gb / copy:.0f}%)" if gb and copy else ""
        lines.append(f"| {r['impl']} | {r['dtype']} | {r['batch']}×{r['seq']} | {'fused' if r.get('fused_gate_conv') else 'two kernels'}"
                     f" | {fmt(r.get('gather_ms'))} | {fmt(r.get('projections_ms'))} | {fmt(r.get('gate_ms'))}"
                     f" | {fmt(r.get('short_conv_ms'))} | {fmt(r.get('gate_short_conv_ms'))} | **{fmt(r.get('total_ms'))}**"
                     f" | {fmt(r.get('back_to_back_ms'))} | {fmt(r.get('host_enqueue_us'), 1)} | {gb:.0f}{pct}"
                     f" | {fmt(r.get('gemm_tflops'), 1)} |")
    for r in torch:
        lines.append(f"| {r['impl']} | {r['dtype']} | {r['batch']}×{r['seq']} | — | {fmt(r.get('gather_ms'))} (hash"
                     f" {fmt(r.get('hash_ms'))}) | — | — | — | dense {fmt(r.get('dense_ms'))} | **{fmt(r.get('total_ms'))}** | — | — | — | — |")
    lines.append("")
    lines.append("engram-jvm's gather is hash + gather in one kernel; its % of copy counts the payload read and written,"
                 " as a device-to-device copy's rate does (the copy measured in the same JVM). Torch's hash and gather"
                 " are separate; its total is one forward.")
    lines.append("")
    copy = next((r.get("d2d_copy_gbps") for r in jvm if r.get("d2d_copy_gbps")), None)
    if copy:
        lines.append(f"Device-to-device copy measured in the same run: {copy:.0f} GB/s (read + write).")
    checks = []
    for r in jvm:
        if r["dtype"] != "bf16" or r["impl"] != "engram-jvm":
            continue
        tokens = r["batch"] * r["seq"]
        mode = "fused" if r.get("fused_gate_conv") else "two kernels"
        if tokens == 4 * 4096:
            checks.append(f"- bf16 4×4096 ({mode}): forward {r['total_ms']:.4f} ms, target ≤ {TARGET_FORWARD_4X4096_MS} ms:"
                          f" {verdict(r['total_ms'] <= TARGET_FORWARD_4X4096_MS)}")
            gb = r.get("gather_payload_gbps", 0.0)
            copy = r.get("d2d_copy_gbps") or float("inf")
            checks.append(f"- bf16 4×4096 ({mode}): gather {gb / 1000:.2f} TB/s payload, {200 * gb / copy:.0f}% of the copy;"
                          f" target ≥ {TARGET_GATHER_GBPS / 1000} TB/s and ≥ {100 * TARGET_GATHER_COPY_FRACTION:.0f}%:"
                          f" {verdict(gb >= TARGET_GATHER_GBPS and 2 * gb / copy >= TARGET_GATHER_COPY_FRACTION)}")
        elif tokens == 64 * 16:
            checks.append(f"- bf16 64×16 ({mode}): forward {r['total_ms']:.4f} ms, target ≤ {TARGET_FORWARD_64X16_MS} ms:"
                          f" {verdict(r['total_ms'] <= TARGET_FORWARD_64X16_MS)}")
    for r in torch:
        if r["dtype"] == "bf16" and r["batch"] * r["seq"] == 4 * 4096:
            checks.append(f"- {r['impl']} bf16 4×4096: forward {r['total_ms']:.4f} ms (same run)")
    if checks:
        lines += ["", "Against the targets:"] + checks
    return lines


HOST_COPY = re.compile(r"pinned H2D cudaMemcpyAsync of ([\d.]+) MiB: ([\d.]+) GB/s")
HOST_PREFETCH = re.compile(r"^\s+(CPU|ZERO_COPY)\s+prefetch of (\d+)x(\d+) tokens .*?median ([\d.]+) ms .*?([\d.]+) GB/s of payload"
                           r" = (\d+)% of a pinned memcpy of the same bytes \(([\d.]+) GB/s\)")
HOST_GATHER = re.compile(r"CPU gather alone \((\d+) threads, (\w+) copy\) .*?median ([\d.]+) ms .*?([\d.]+) GB/s of payload")
HOST_OVERLAP = re.compile(r"^\s+(CPU|ZERO_COPY)\s+overlap: .*?already on the device ([\d.]+) ms .*?overlapped ([\d.]+) ms"
                          r" .*?overhead ([+-][\d.]+)%")
HOST_TABLE = re.compile(r"HostTableBench: table ([\d,]+) rows x (\d+) (\w+) = ([\d.]+) GiB")


def host_section(logs):
    lines = []
    for path in sorted(glob.glob(os.path.join(logs, "bench-host-*.log"))):
        text = read(path)
        name = os.path.basename(path)[:-4]
        table = HOST_TABLE.search(text)
        if not table:
            lines.append(f"- {name}: no results (see logs/{name}.log)")
            continue
        lines.append(f"**{name}**: {table.group(1)} rows × {table.group(2)} {table.group(3)} = {table.group(4)} GiB pinned")
        copy = HOST_COPY.search(text)
        if copy:
            lines.append(f"- pinned H2D memcpy of the 4×4096 payload ({copy.group(1)} MiB): {copy.group(2)} GB/s")
        g = HOST_GATHER.search(text)
        if g:
            lines.append(f"- CPU gather alone ({g.group(1)} threads, {g.group(2)} copy): {g.group(3)} ms, {g.group(4)} GB/s")
        seen = set()
        for line in text.splitlines():
            m = HOST_PREFETCH.match(line)
            if m:
                path_name, b, t, ms, gbps, pct, memcpy = m.groups()
                first = path_name not in seen
                seen.add(path_name)
                mark = ""
                if first and path_name == "CPU":
                    mark = f"; target ≥ {100 * TARGET_HOST_GATHER_OF_MEMCPY:.0f}%: {verdict(int(pct) >= 100 * TARGET_HOST_GATHER_OF_MEMCPY)}"
                lines.append(f"- {path_name} prefetch {b}×{t}: {ms} ms, {gbps} GB/s = {pct}% of the memcpy ({memcpy} GB/s){mark}")
            o = HOST_OVERLAP.match(line)
            if o:
                lines.append(f"- {o.group(1)} overlap: step {o.group(2)} ms with rows on the device, {o.group(3)} ms with the"
                             f" prefetch overlapped: {o.group(4)}%; target ≤ {TARGET_OVERLAP_OVERHEAD_PCT}%:"
                             f" {verdict(float(o.group(4)) <= TARGET_OVERLAP_OVERHEAD_PCT)}")
        lines.append("")
    return lines or ["No host-table benchmark results."]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--logs", required=True)
    p.add_argument("--simulated", default="false")
    a = p.parse_args()
    simulated = a.simulated == "true"
    probe = read(os.path.join(a.logs, "probe.log")).strip()
    out = ["# GPU session summary", ""]
    if simulated:
        out += ["**SIMULATED: CUDA simulated on the CPU (tests/cuda-sim), kernel self-tests under a CPU emulation"
                " (kernels/emu). NOT a GPU run: the numbers below say nothing about GPU speed.**", ""]
    elif probe:
        out += ["Machine (probe):", "```", probe, "```", ""]
    out += ["## Steps", "", "| step | result | seconds | note |", "|---|---|---|---|"]
    for name, status, secs, note in steps(a.logs):
        out.append(f"| {name} | {status} | {secs} | {note} |")
    counts, failures = junit_counts(a.logs)
    if counts:
        out += ["", "JUnit suite (-Dengram.requireGpu=true): " + ", ".join(f"{v} {k}" for k, v in counts.items())]
        for cls, method in failures[:30]:
            out.append(f"- failed: {cls} {method}")
    forward, host = forward_section(bench_lines(a.logs)), host_section(a.logs)
    if simulated:  # simulated times: no verdicts against the GPU targets
        forward = [line for line in forward if "target" not in line and not line.startswith("Against")]
        host = [re.sub(r"; target [^:]*: (meets|misses)", "", line) for line in host]
    out += ["", "## Forward (CUDA events, medians)", ""] + forward
    out += ["", "## Host-memory tables", ""] + host
    print("\n".join(out))


if __name__ == "__main__":
    main()
