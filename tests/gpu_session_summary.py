#!/usr/bin/env python3
"""Writes summary.md for tests/gpu-session.sh from its logs folder: one line per step, the test counts, then the
key numbers (forward ms per stage, gather TB/s and % of the device copy, GEMM TFLOP/s, host gather GB/s and % of
the pinned memcpy, prefetch overlap) beside PyTorch's from the same run and beside issue 10's targets; then the
serving benchmarks (issue 12: decode steps and packed prefill, JVM and PyTorch) beside issue 12's targets.

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
# Issue 12's targets on the H200 (default config, bf16, one layer).
TARGET_DECODE_64_GRAPH_US = 20.0
TARGET_PREFILL_TOKENS_PER_S = 30e6


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


def serving_label(r):
    """engram-jvm DeviceBatch + CUDA graph, torch-compile + CUDA graph, ... (and the table when it is the host's)."""
    parts = [str(r.get("impl", "?"))]
    if r.get("api"):
        parts.append(r["api"])
    if r.get("path"):
        parts.append(r["path"])
    if r.get("layout") and r.get("bench") == "prefill":
        parts.append(r["layout"])
    label = " ".join(parts) + (" + CUDA graph" if r.get("graph") else "")
    return label + (" (host table)" if r.get("table") == "host" else "")


def serving_section(results):
    """Serving results (JSON lines with a "bench" key): decode µs per step by S, prefill tokens/s, the checks."""
    if not results:
        return ["No serving benchmark results."]
    lines = []
    decode = [r for r in results if r.get("bench") == "decode" and "step_us" in r]
    sizes = sorted({r["sequences"] for r in decode})
    if decode:
        lines += ["Decode, µs per step (one token per sequence; CUDA events over blocks of steps queued back to back,"
                  " median of the blocks; each step includes copying its ids into the step's input buffer):", "",
                  "| way | dtype | " + " | ".join(f"S={s}" for s in sizes) + " |",
                  "|---|---|" + "---|" * len(sizes)]
        rows = {}
        for r in decode:
            rows.setdefault((serving_label(r), r.get("dtype")), {})[r["sequences"]] = r
        for (label, dtype), by_size in rows.items():
            cells = []
            for s in sizes:
                r = by_size.get(s)
                host = f" (host {r['host_enqueue_us']:.1f})" if r and r.get("host_enqueue_us") is not None else ""
                cells.append("—" if r is None else f"{r['step_us']:.2f}{host}")
            lines.append(f"| {label} | {dtype} | " + " | ".join(cells) + " |")
        if any(r.get("host_enqueue_us") is not None for r in decode):
            lines += ["", "(host x): the JVM's host time to queue one step, µs."]
        if any(r.get("table") == "host" and r.get("pipelined") for r in decode):
            lines += ["(host table) rows: each step's prefetch issued before the previous step's forward, host clock from"
                      " idle streams until the compute stream finished the block (the CPU path gathers on the host)."]
    prefill = [r for r in results if r.get("bench") == "prefill" and "tokens_per_s" in r]
    if prefill:
        lines += ["", "Packed prefill (every sequence starting; tokens/s of real tokens):", "",
                  "| way | dtype | sequences | lengths | tokens | ms | M tokens/s |", "|---|---|---|---|---|---|---|"]
        for r in prefill:
            pad = f" (padded to {r['padded_tokens']:,})" if r.get("padded_tokens") else ""
            lines.append(f"| {serving_label(r)} | {r.get('dtype')} | {r['sequences']} | {r['min_len']}–{r['max_len']}"
                         f" | {r['tokens']:,}{pad} | {r['total_ms']:.3f} | **{r['tokens_per_s'] / 1e6:.2f}** |")
    checks = [r for r in results if r.get("bench") == "check" and "ok" in r]
    if checks:
        lines += ["", "Checks (prefix prefilled, then decoded token by token, against the whole-sequence forward):"]
        for r in checks:
            extra = "" if r.get("hash_ids_equal", True) else ", hash ids DIFFER"
            lines.append(f"- {serving_label(r)} {r.get('dtype')}: {'ok' if r['ok'] else 'FAILED'} (max abs diff"
                         f" {r['max_abs_diff']:.3g}, tolerance {r['tolerance']:.3g}{extra})")
    other = [r for r in results if "error" in r or "skipped" in r]
    if other:
        lines += ["", "Not measured:"]
        for r in other:
            what = f"error: {r['error']}" if "error" in r else f"skipped: {r['skipped']}"
            size = f" S={r['sequences']}" if r.get("sequences") and r.get("bench") == "decode" else ""
            lines.append(f"- {r.get('bench')} {serving_label(r)}{size}: {what}")
    verdicts = []
    for r in decode:
        if (r.get("impl") == "engram-jvm" and r.get("graph") and r.get("sequences") == 64 and r.get("dtype") == "bf16"
                and r.get("table", "device") == "device"):
            verdicts.append(f"- decode step of 64 sequences in a CUDA graph: {r['step_us']:.2f} µs, target"
                            f" ≤ {TARGET_DECODE_64_GRAPH_US:.0f} µs: {verdict(r['step_us'] <= TARGET_DECODE_64_GRAPH_US)}")
    for r in results:
        if r.get("bench") == "lookup" and r.get("sequences") == 1 and "lookup_us" in r:
            target = r.get("target_lookup_us", 10.0)
            verdicts.append(f"- host-table lookup of a 1-token step ({serving_label(r)}, {r.get('dtype')}):"
                            f" {r['lookup_us']:.2f} µs until the rows are on the device (prefetch returns after"
                            f" {r['prefetch_host_us']:.2f} µs), target ≤ {target:.0f} µs: {verdict(r['lookup_us'] <= target)}")
    jvm_prefill = [r for r in prefill if r.get("impl") == "engram-jvm" and r.get("dtype") == "bf16"]
    if jvm_prefill:
        best = max(jvm_prefill, key=lambda r: r["tokens_per_s"])
        verdicts.append(f"- packed prefill ({serving_label(best)}): {best['tokens_per_s'] / 1e6:.2f} M tokens/s, target"
                        f" ≥ {TARGET_PREFILL_TOKENS_PER_S / 1e6:.0f} M: {verdict(best['tokens_per_s'] >= TARGET_PREFILL_TOKENS_PER_S)}")
    if verdicts:
        lines += ["", "Against the targets:"] + verdicts
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


CHECKPOINT_BENCHES = ("checkpoint-load", "fp8-gather")


def checkpoint_section(results):
    """Issue 13's JSON lines: checkpoint load steps (ms, GB/s) and fp8 vs bf16 gathers (M rows/s, GB/s); skips say why."""
    lines = []
    for r in results:
        what = f"- {r['bench']} {r['step']}" + (f" ({r['table']})" if "table" in r else f" (fp8 block {r.get('block')})")
        if "skipped" in r:
            lines.append(f"{what}: skipped: {r['skipped']}")
        elif "Mrows_per_s" in r:
            lines.append(f"{what}: {r['ms']:.3f} ms, {r['Mrows_per_s']:.1f} M rows/s, {r['GBps']:.2f} GB/s of table bytes")
        elif "placement" in r:  # CheckpointLoadBench host-lookup: a host-table placement and gather path
            lines.append(f"{what}: {r['placement']} {r['path']}, {r['tokens']} tokens: {r['ms']:.3f} ms,"
                         f" {r['rows_per_s'] / 1e6:.1f} M rows/s, {r['payload_GBps']:.2f} GB/s of rows")
        elif "pinned_memcpy_GBps" in r:
            lines.append(f"{what}: pinned H2D memcpy of the same bytes {r['pinned_memcpy_GBps']:.2f} GB/s")
        else:
            rate = f", {r['GBps']:.2f} GB/s" if r.get("GBps") is not None else ""
            lines.append(f"{what}: {r['ms']:.2f} ms{rate}")
    return lines or ["No checkpoint or fp8 gather results."]


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
    results = bench_lines(a.logs)
    forward = forward_section([r for r in results if "bench" not in r])
    serving = serving_section([r for r in results if "bench" in r and r["bench"] not in CHECKPOINT_BENCHES])
    checkpoint = checkpoint_section([r for r in results if r.get("bench") in CHECKPOINT_BENCHES])
    host = host_section(a.logs)
    if simulated:  # simulated times: no verdicts against the GPU targets
        forward = [line for line in forward if "target" not in line and not line.startswith("Against")]
        serving = [line for line in serving if "target" not in line and not line.startswith("Against")]
        host = [re.sub(r"; target [^:]*: (meets|misses)", "", line) for line in host]
    out += ["", "## Forward (CUDA events, medians)", ""] + forward
    out += ["", "## Host-memory tables", ""] + host
    out += ["", "## Serving shapes (issue 12)", ""] + serving
    out += ["", "## Checkpoints and fp8 gathers (issue 13; warm page cache)", ""] + checkpoint
    print("\n".join(out))


if __name__ == "__main__":
    main()
