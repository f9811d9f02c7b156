#!/usr/bin/env python3
"""PyTorch baseline for issue 12's serving shapes: decode steps with per-sequence state, and packed prefill.

Uses the module and random weights of torch_engram_baseline.py (imported, same defaults, bf16) and adds the
serving semantics of SEMANTICS.md §8 in plain PyTorch, the way a PyTorch user would write them:

- state per slot: the hash history (the last max_ngram_size-1 compressed ids, oldest first, pad where the
  sequence is shorter) and the conv window (the last (K-1)*dilation RMSNorm'd conv inputs, oldest first,
  zeros where the sequence is shorter), as §8 defines them;
- decode step: S sequences, one token each, reading and then updating their slots (index_select /
  index_copy_); timed eager, under torch.compile, and captured as one CUDA graph (torch.cuda.CUDAGraph) of
  an eager or a compiled step. Every step first copies its S ids into the step's input buffer (device to
  device, from a pool of id sets), in every mode, as a server feeding new tokens does;
- packed prefill: sequences of random lengths, every one starting (empty history, zero window), writing
  their state at the end. Two layouts: "packed" (the tokens back to back, [N]; the n-gram shifts and conv
  taps masked by each token's position in its sequence, so nothing crosses a sequence boundary) and
  "padded" (a [S, max_len] batch through the baseline's rectangular forward; the padding is on the right,
  which causal hashing and conv never read, so no mask is needed; tokens/s counts real tokens only).

Before timing a mode, the script checks it: sequences prefilled in part and then decoded token by token
with the state (in that mode) give the hash ids of the whole-sequence forward exactly and its outputs
within the dtype's tolerance, and both prefill layouts give the whole-sequence outputs. A failed check
exits 1.

  python3 torch_engram_serving.py                                  # all on the GPU (default config, bf16)
  python3 torch_engram_serving.py --modes compile,compile-graph    # only the compiled ones (compiling takes minutes)
  python3 torch_engram_serving.py --device cpu --quick             # tiny shapes on the CPU (a plumbing check)

Prints one JSON object per line on stdout: "bench" is "check", "decode" or "prefill"; times in µs (decode,
per step) or ms (prefill, per forward); "impl" is torch-eager or torch-compile, "graph" whether the step
was replayed from a CUDA graph. A mode that cannot run here prints a line with "skipped" or "error".
"""
import argparse
import json
import math
import os
import statistics
import sys
import time
import traceback

MASK64 = (1 << 64) - 1
MODES = ("eager", "graph", "compile", "compile-graph")
# Modes whose failure is a result ("if it works"), not a failure of the script.
OPTIONAL_MODES = ("compile-graph",)


# ---- pure Python: no torch needed --------------------------------------------------------------------------

def splitmix64(state):
    """One SplitMix64 step: (new state, output), both unsigned 64-bit."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def prefill_lengths(count, lo, hi, seed):
    """count lengths uniform in [lo, hi]: lo + (SplitMix64 output mod (hi - lo + 1)), the generator seeded with
    seed. dev.engram.bench.ServingBench draws the same lengths, so both sides time the same batch."""
    if count < 0 or lo < 0 or hi < lo:
        raise ValueError(f"bad prefill shape {count}:{lo}:{hi}")
    state, out = seed & MASK64, []
    for _ in range(count):
        state, z = splitmix64(state)
        out.append(lo + z % (hi - lo + 1))
    return out


def parse_prefill(text):
    """'512:100:1024' -> (512, 100, 1024): sequences, shortest, longest."""
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"--prefill takes COUNT:MIN:MAX, got '{text}'")
    count, lo, hi = (int(x) for x in parts)
    if count < 1 or lo < 1 or hi < lo:
        raise argparse.ArgumentTypeError(f"--prefill needs COUNT >= 1 and 1 <= MIN <= MAX, got '{text}'")
    return count, lo, hi


def parse_list(text, allowed=None):
    items = [x for x in text.split(",") if x]
    if allowed is not None:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {','.join(allowed)}")
    return items


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The model: the same names and defaults as torch_engram_baseline.py (EngramTorch reads them).
    p.add_argument("--dtype", default="bf16", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--hc", type=int, default=4)
    p.add_argument("--embed", type=int, default=512, help="n_embed_per_ngram")
    p.add_argument("--heads", type=int, default=8, help="n_head_per_ngram")
    p.add_argument("--ngram", type=int, default=3, help="max_ngram_size")
    p.add_argument("--vocab", type=int, default=129280 * 5, help="table rows per n-gram order (before prime search)")
    p.add_argument("--compressed-vocab", type=int, default=99000)
    p.add_argument("--kernel", type=int, default=4)
    p.add_argument("--layer", type=int, default=1)
    p.add_argument("--pad", type=int, default=2, help="the compressed pad id")
    p.add_argument("--gate-eps", type=float, default=2.0 ** -23, help="torch.finfo(torch.float32).eps")
    p.add_argument("--conv-eps", type=float, default=1e-5)
    p.add_argument("--table", default="device", choices=["device", "host"],
                   help="host: pinned host table, eager only (the gather's .cpu() cannot be captured or compiled)")
    # The serving shapes.
    p.add_argument("--sequences", type=lambda t: [int(x) for x in parse_list(t)], default=[1, 8, 64, 256],
                   help="decode step sizes (one token per sequence)")
    p.add_argument("--prefill", type=parse_prefill, default=(512, 100, 1024), help="COUNT:MIN:MAX lengths")
    p.add_argument("--prefill-layout", type=lambda t: parse_list(t, ("packed", "padded")), default=["packed", "padded"])
    p.add_argument("--seed", type=int, default=12, help="seed of the prefill lengths (SplitMix64)")
    p.add_argument("--modes", type=lambda t: parse_list(t, MODES), default=list(MODES),
                   help="eager, graph (eager step in a CUDA graph), compile, compile-graph; prefill runs eager/compile")
    p.add_argument("--benches", type=lambda t: parse_list(t, ("check", "decode", "prefill")),
                   default=["check", "decode", "prefill"])
    p.add_argument("--steps", type=int, default=200, help="decode steps per timed block")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks of --steps (median and min reported)")
    p.add_argument("--warmup", type=int, default=50, help="decode steps before timing")
    p.add_argument("--reps", type=int, default=10, help="timed prefill forwards")
    p.add_argument("--prefill-warmup", type=int, default=2)
    p.add_argument("--id-sets", type=int, default=16, help="decode steps rotate through this many id sets")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--quick", action="store_true",
                   help="tiny config and shapes (for --device cpu: checks the script, says nothing about speed)")
    return p


def apply_quick(a):
    """The tiny configuration of --quick (unless given explicitly, every size shrinks)."""
    a.hidden, a.hc, a.embed, a.heads, a.ngram, a.kernel = 32, 2, 16, 2, 3, 4
    a.vocab, a.compressed_vocab = 500, 300
    a.sequences, a.prefill = [1, 3], (6, 1, 20)
    a.steps, a.blocks, a.warmup, a.reps, a.prefill_warmup, a.id_sets = 5, 2, 2, 2, 1, 3
    return a


def emit(record):
    print(json.dumps(record), flush=True)


# ---- torch -------------------------------------------------------------------------------------------------

def load_torch():
    global torch, F, base
    import torch  # noqa: F811
    import torch.nn.functional as F  # noqa: F811
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_engram_baseline as base  # noqa: F811


def hash_shifts(m, shifts):
    """The hash of torch_engram_baseline.EngramTorch.hash given the shifted ids s_0..s_{ngram-1} (any shape)."""
    a, outs = m.a, []
    mix = shifts[0] * m.mult[0]
    for n in range(2, a.ngram + 1):
        mix = torch.bitwise_xor(mix, shifts[n - 1] * m.mult[n - 1])
        outs.append(mix.unsqueeze(-1) % m.mods[(n - 2) * a.heads:(n - 1) * a.heads])
    return torch.cat(outs, dim=-1)


class ServingState:
    """Per-slot state (SEMANTICS.md §8): hist [slots, M] int64 (oldest first), win [slots, W, hc*H] (oldest first)."""

    def __init__(self, m, slots):
        a = m.a
        self.m, self.M, self.dil = m, a.ngram - 1, a.ngram
        self.W, self.C, self.K = (a.kernel - 1) * a.ngram, a.hc * a.hidden, a.kernel
        self.hist = torch.full((slots, self.M), a.pad, dtype=torch.int64, device=m.dev)
        self.win = torch.zeros(slots, self.W, self.C, dtype=m.dt, device=m.dev)
        # taps[k] multiplies x[t - (K-1-k)*dil]: window row k*dil when the current row is appended at W.
        self.taps = m.conv_w.view(self.C, self.K).t().contiguous().float()


def decode_step(st, hist, win, ids, hidden, slots):
    """One token for each of S sequences: ids [S], hidden [S, hc, H], slots [S] int64. Reads and updates
    hist/win (the arguments, so torch.compile sees the mutation). Returns (out [S, hc, H], hash ids [S, heads])."""
    m, M = st.m, st.M
    h = hist.index_select(0, slots)                                  # [S, M], h[:, M-1] is the latest token
    hashed = hash_shifts(m, [ids] + [h[:, M - k] for k in range(1, M + 1)])
    e = m.gather(hashed.unsqueeze(1)).squeeze(1)                     # [S, E]
    v = m.gated_value(e, hidden)                                     # [S, hc, H]
    xn = base.rms_norm(v, m.nc, m.a.conv_eps).flatten(1)             # [S, C]
    w = torch.cat([win.index_select(0, slots), xn.unsqueeze(1)], 1)  # [S, W+1, C]
    y = (w[:, ::st.dil, :].float() * st.taps).sum(1).to(m.dt)        # the K taps, fp32 accumulation
    out = v + F.silu(y).view_as(v)
    hist.index_copy_(0, slots, torch.cat([h[:, 1:], ids.unsqueeze(1)], 1))
    win.index_copy_(0, slots, w[:, 1:])
    return out, hashed


class Layout:
    """A prefill batch's descriptors, built once on the device (as the JVM's DeviceBatch): cu_seqlens, each
    token's position in its sequence, each slot's commit rows. kind: packed (rows back to back) or padded
    (sequence s at rows s*T .. s*T+len-1 of a [S, T] batch, T the longest)."""

    def __init__(self, lengths, slots, kind, device):
        self.kind, self.S, self.lengths = kind, len(lengths), lengths
        self.tokens = sum(lengths)
        self.T = max(lengths) if lengths else 0
        L = torch.tensor(lengths, dtype=torch.int64, device=device)
        cu = torch.zeros(self.S + 1, dtype=torch.int64, device=device)
        cu[1:] = torch.cumsum(L, 0)
        self.cu, self.len, self.slots = cu, L, torch.tensor(slots, dtype=torch.int64, device=device)
        self.pos = torch.arange(self.tokens, device=device) - torch.repeat_interleave(cu[:-1], L)
        # Row of token (s, t): packed cu[s] + t, padded s*T + t.
        self.row_start = cu[:-1] if kind == "packed" else torch.arange(self.S, device=device) * self.T
        self.flat_rows = torch.repeat_interleave(self.row_start, L) + self.pos  # [N] rows of the real tokens
        self.rows = self.tokens if kind == "packed" else self.S * self.T

    def commit_rows(self, n):
        """[S, n] rows of each sequence's last n tokens, oldest first, and whether each exists (len - n + j >= 0);
        a row that does not exist is replaced by a valid one (masked by the caller)."""
        j = torch.arange(n, device=self.len.device)
        p = self.len.unsqueeze(1) - n + j                                 # position in the sequence
        return (self.row_start.unsqueeze(1) + p.clamp_min(0)).clamp_max(max(self.rows - 1, 0)), p >= 0


def commit(st, hist, win, lay, ids_rows, xn_at):
    """Writes every sequence's state after a prefill where all start: ids_rows [rows] the ids by row, xn_at(r)
    the normed conv inputs [S, W, C] of the rows r [S, W]."""
    if lay.rows == 0:  # only empty sequences: each slot starts afresh
        hist.index_fill_(0, lay.slots, st.m.a.pad)
        win.index_fill_(0, lay.slots, 0)
        return
    r, ok = lay.commit_rows(st.M)
    hist.index_copy_(0, lay.slots, torch.where(ok, ids_rows[r], torch.full_like(r, st.m.a.pad)))
    r, ok = lay.commit_rows(st.W)
    xn = xn_at(r)
    win.index_copy_(0, lay.slots, torch.where(ok.unsqueeze(-1), xn, torch.zeros((), dtype=xn.dtype, device=xn.device)))


def prefill_packed(st, hist, win, lay, ids, hidden):
    """Packed prefill, every sequence starting: ids [N], hidden [N, hc, H] -> out [N, hc, H], state written."""
    m, a, N = st.m, st.m.a, lay.tokens
    pad = torch.full((a.ngram,), a.pad, dtype=ids.dtype, device=ids.device)
    shifts = [ids] + [torch.where(lay.pos >= k, torch.cat([pad[:k], ids[:N - k]]), pad[0]) for k in range(1, a.ngram)]
    hashed = hash_shifts(m, shifts)                                   # [N, heads]
    e = m.gather(hashed.unsqueeze(0)).squeeze(0)                      # [N, E]
    v = m.gated_value(e, hidden)                                      # [N, hc, H]
    xn = base.rms_norm(v, m.nc, a.conv_eps).flatten(1)                # [N, C]
    xs = torch.cat([torch.zeros(st.W, st.C, dtype=xn.dtype, device=xn.device), xn])  # W zero rows in front
    y = None
    for k in range(st.K):
        back = (st.K - 1 - k) * st.dil
        x = xs[st.W - back: st.W - back + N]
        if back:
            x = torch.where((lay.pos >= back).unsqueeze(1), x, torch.zeros((), dtype=x.dtype, device=x.device))
        y = x.float() * st.taps[k] if y is None else y + x.float() * st.taps[k]
    out = v + F.silu(y.to(m.dt)).view_as(v)
    commit(st, hist, win, lay, ids, lambda r: xn[r])
    return out, hashed


def prefill_padded(st, hist, win, lay, ids2d, hidden4d):
    """Padded prefill, every sequence starting: ids2d [S, T], hidden4d [S, T, hc, H] through the baseline's
    rectangular forward (right padding is never read by causal hashing or conv) -> out [S, T, hc, H]."""
    m = st.m
    hashed = m.hash(ids2d)
    v = m.gated_value(m.gather(hashed), hidden4d)                     # [S, T, hc, H]
    out = m.short_conv(v)
    # The conv window needs norm(v) of each sequence's last W rows only.
    flat_v = v.flatten(0, 1)
    commit(st, hist, win, lay, ids2d.reshape(-1), lambda r: base.rms_norm(flat_v[r], m.nc, m.a.conv_eps).flatten(-2))
    return out, hashed


def padded_inputs(lay, ids, hidden, pad):
    """The packed inputs scattered into a [S, T] batch (the rest: pad ids, zero hidden)."""
    ids2d = torch.full((lay.S * lay.T,), pad, dtype=ids.dtype, device=ids.device)
    ids2d[lay.flat_rows] = ids
    h = torch.zeros((lay.S * lay.T,) + tuple(hidden.shape[1:]), dtype=hidden.dtype, device=hidden.device)
    h[lay.flat_rows] = hidden
    return ids2d.view(lay.S, lay.T), h.view((lay.S, lay.T) + tuple(hidden.shape[1:]))


# ---- modes -------------------------------------------------------------------------------------------------

def compile_available():
    return hasattr(torch, "compile")


def allow_recompiles():
    """Every S, the check's state and both prefill layouts are separate compiles of few functions: more than
    torch._dynamo's default limit of 8 per function must not silently fall back to eager."""
    import torch._dynamo
    for name in ("cache_size_limit", "recompile_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 64)


def mode_unavailable(mode, a):
    """Why a mode cannot run with these arguments, or None."""
    if mode in ("graph", "compile-graph") and a.device != "cuda":
        return "CUDA graphs need a GPU"
    if mode in ("graph", "compile-graph") and a.table == "host":
        return "the host table's gather copies ids to the CPU (.cpu()), which a CUDA graph cannot capture"
    if mode in ("compile", "compile-graph") and not compile_available():
        return f"torch {torch.__version__} has no torch.compile"
    if mode in ("compile", "compile-graph") and a.table == "host":
        return "the host table's gather leaves the device (.cpu()); torch.compile would break the graph there"
    return None


class Stepper:
    """A decode step for fixed slots in one mode, on static input buffers (ids, hidden) and output."""

    def __init__(self, st, slots, mode):
        m, S = st.m, len(slots)
        self.st, self.mode = st, mode
        self.slots = torch.tensor(slots, dtype=torch.int64, device=m.dev)
        self.ids = torch.full((S,), m.a.pad, dtype=torch.int64, device=m.dev)
        self.hidden = torch.zeros(S, m.a.hc, m.a.hidden, dtype=m.dt, device=m.dev)
        fn = decode_step
        if mode.startswith("compile"):
            # One compile for every S (as serving engines compile a decode step, then capture a graph per size);
            # S = 1 is specialized, so two in all.
            fn = torch.compile(decode_step, dynamic=True)
        self.fn = fn
        self.graph = None
        if mode.endswith("graph"):
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up outside the capture (cuBLAS handles, compiled kernels)
                for _ in range(3):
                    self._run()
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out, self.hashed = self._run()

    def _run(self):
        return self.fn(self.st, self.st.hist, self.st.win, self.ids, self.hidden, self.slots)

    def __call__(self):
        if self.graph is not None:
            self.graph.replay()
            return self.out, self.hashed
        return self._run()


def impl_of(mode):
    return "torch-compile" if mode.startswith("compile") else "torch-eager"


def tolerance(dt):
    return {torch.float32: 1e-4, torch.float16: 4e-3, torch.bfloat16: 3e-2}[dt]


def check_mode(m, mode, a):
    """Sequences of lengths 40, 25, 11, 10 prefilled (packed) to 30, 15, 1, 0 tokens, then decoded token by token
    in `mode`: hash ids exactly and outputs within tolerance of the whole-sequence forward. Returns the record."""
    lengths, prefix = [40, 25, 11, 10], [30, 15, 1, 0]
    steps = lengths[0] - prefix[0]
    assert all(L - p == steps for L, p in zip(lengths, prefix))
    g = torch.Generator(device="cpu").manual_seed(7)
    seqs = [torch.randint(0, a.compressed_vocab, (L,), generator=g).to(m.dev) for L in lengths]
    hid = [torch.randn(L, a.hc, a.hidden, generator=g).to(m.dt).to(m.dev) for L in lengths]
    ref, ref_hash = [], []
    for ids, h in zip(seqs, hid):
        hh = m.hash(ids.unsqueeze(0))
        ref_hash.append(hh[0])
        ref.append(m.dense(m.gather(hh), h.unsqueeze(0))[0])
    st = ServingState(m, 8)
    slots = [5, 0, 7, 2]
    stepper = Stepper(st, slots, mode)  # captures or compiles first: that may run steps on these slots
    st.hist.fill_(a.pad)
    st.win.zero_()
    lay = Layout(prefix, slots, "packed", m.dev)
    out, hashed = prefill_packed(st, st.hist, st.win, lay, torch.cat([s[:p] for s, p in zip(seqs, prefix)]),
                                 torch.cat([h[:p] for h, p in zip(hid, prefix)]))
    got = [list(out.split(prefix)), [list() for _ in seqs]]
    got_hash = [list(hashed.split(prefix)), [list() for _ in seqs]]
    for t in range(steps):
        stepper.ids.copy_(torch.stack([s[p + t] for s, p in zip(seqs, prefix)]))
        stepper.hidden.copy_(torch.stack([h[p + t] for h, p in zip(hid, prefix)]))
        o, hs = stepper()
        for i in range(len(seqs)):
            got[1][i].append(o[i].clone())
            got_hash[1][i].append(hs[i].clone())
    diff, scale, hash_ok = 0.0, 0.0, True
    for i in range(len(seqs)):
        o = torch.cat([got[0][i], torch.stack(got[1][i])])
        hs = torch.cat([got_hash[0][i], torch.stack(got_hash[1][i])])
        hash_ok &= bool(torch.equal(hs, ref_hash[i]))
        diff = max(diff, (o.float() - ref[i].float()).abs().max().item())
        scale = max(scale, ref[i].float().abs().max().item())
    # Both prefill layouts over whole sequences, against the same reference.
    for kind in ("packed", "padded"):
        st2 = ServingState(m, 8)
        lay = Layout(lengths, slots, kind, m.dev)
        ids, h = torch.cat(seqs), torch.cat(hid)
        if kind == "packed":
            out, _ = prefill_packed(st2, st2.hist, st2.win, lay, ids, h)
        else:
            out, _ = prefill_padded(st2, st2.hist, st2.win, lay, *padded_inputs(lay, ids, h, a.pad))
            out = out.flatten(0, 1)[lay.flat_rows]
        for o, r in zip(out.split(lengths), ref):
            diff = max(diff, (o.float() - r.float()).abs().max().item())
        # Its state equals the state the prefix + decode run reached (same sequences, same slots).
        hash_ok &= bool(torch.equal(st2.hist, st.hist))
        diff = max(diff, (st2.win.float() - st.win.float()).abs().max().item())
    tol = tolerance(m.dt) * max(1.0, scale)
    return {"impl": impl_of(mode), "bench": "check", "graph": mode.endswith("graph"), "device": device_name(m.dev),
            "dtype": a.dtype, "table": a.table, "lengths": lengths, "prefix": prefix, "hash_ids_equal": hash_ok,
            "max_abs_diff": diff, "max_abs_ref": scale, "tolerance": tol, "ok": hash_ok and diff <= tol}


# ---- timing ------------------------------------------------------------------------------------------------

def device_name(dev):
    return torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"


class Clock:
    """Elapsed ms of a block of work: CUDA events on a GPU, perf_counter on the CPU."""

    def __init__(self, dev):
        self.cuda = dev.type == "cuda"

    def time(self, fn):
        if self.cuda:
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            e.synchronize()
            return s.elapsed_time(e)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()


def bench_decode(m, st, mode, S, a, clock):
    g = torch.Generator(device="cpu").manual_seed(100 + S)
    slots = torch.randperm(st.hist.shape[0], generator=g)[:S].tolist()
    stepper = Stepper(st, slots, mode)
    pool = torch.randint(0, a.compressed_vocab, (a.id_sets, S), generator=g).to(m.dev)
    stepper.hidden.copy_(torch.randn(S, a.hc, a.hidden, generator=g).to(m.dt))
    st.hist.fill_(a.pad)  # every slot a fresh sequence again
    st.win.zero_()

    def steps(n):
        for i in range(n):
            stepper.ids.copy_(pool[i % a.id_sets])
            stepper()

    steps(a.warmup)
    clock.sync()
    per_step = [clock.time(lambda: steps(a.steps)) * 1e3 / a.steps for _ in range(a.blocks)]
    return {"impl": impl_of(mode), "bench": "decode", "graph": mode.endswith("graph"), "device": device_name(m.dev),
            "dtype": a.dtype, "table": a.table, "sequences": S, "tokens": S, "slots": st.hist.shape[0],
            "step_us": statistics.median(per_step), "step_us_min": min(per_step), "steps": a.steps,
            "blocks": a.blocks}


def bench_prefill(m, st, mode, kind, a, clock):
    count, lo, hi = a.prefill
    lengths = prefill_lengths(count, lo, hi, a.seed)
    lay = Layout(lengths, list(range(count)), kind, m.dev)
    g = torch.Generator(device="cpu").manual_seed(3)
    ids = torch.randint(0, a.compressed_vocab, (lay.tokens,), generator=g).to(m.dev)
    hidden = torch.randn(lay.tokens, a.hc, a.hidden, generator=g).to(m.dt).to(m.dev)
    fn = prefill_packed if kind == "packed" else prefill_padded
    if kind == "padded":
        ids, hidden = padded_inputs(lay, ids, hidden, a.pad)
    if mode == "compile":
        fn = torch.compile(fn, dynamic=False)
    run = lambda: fn(st, st.hist, st.win, lay, ids, hidden)  # noqa: E731
    for _ in range(a.prefill_warmup):
        run()
    clock.sync()
    ms = [clock.time(run) for _ in range(a.reps)]
    med = statistics.median(ms)
    rec = {"impl": impl_of(mode), "bench": "prefill", "layout": kind, "device": device_name(m.dev), "dtype": a.dtype,
           "table": a.table, "sequences": count, "tokens": lay.tokens, "min_len": lo, "max_len": hi, "seed": a.seed,
           "total_ms": med, "total_ms_min": min(ms), "tokens_per_s": lay.tokens / (med * 1e-3), "reps": a.reps}
    if kind == "padded":
        rec["padded_tokens"] = lay.S * lay.T
    return rec


def run_guarded(what, mode, a, fn, failures):
    """Runs one measurement; an exception becomes an "error" line (and a failure unless the mode is optional)."""
    try:
        rec = fn()
    except Exception as e:  # report and go on with the other modes
        traceback.print_exc()
        rec = {"impl": impl_of(mode), "bench": what, "graph": mode.endswith("graph"), "mode": mode,
               "error": f"{type(e).__name__}: {e}"[:500]}
        if mode not in OPTIONAL_MODES:
            failures.append(f"{what} {mode}: {rec['error']}")
    emit(rec)
    if what == "check" and not rec.get("ok", True):
        failures.append(f"check {mode}: outputs differ from the whole-sequence forward")
    return rec


def main(argv=None):
    a = parser().parse_args(argv)
    if a.quick:
        apply_quick(a)
    try:
        load_torch()
    except ImportError as e:
        print(f"torch_engram_serving.py: needs torch ({e})", file=sys.stderr)
        return 2
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_engram_serving.py: no CUDA device (use --device cpu --quick for a CPU check)", file=sys.stderr)
        return 2
    if a.table == "host" and a.device != "cuda":
        print("torch_engram_serving.py: --table host needs a GPU (pinned host memory)", file=sys.stderr)
        return 2
    dev = torch.device(a.device)
    count, lo, hi = a.prefill
    tokens_max = max(max(a.sequences, default=1), count * hi, 64)
    a.batch, a.seq = tokens_max, 1  # EngramTorch sizes its pinned staging buffer (host table) by batch * seq
    t0 = time.perf_counter()
    m = base.EngramTorch(a, dev)
    print(f"torch_engram_serving.py: torch {torch.__version__}, {device_name(dev)}, {a.dtype}, table {a.table}"
          f" ({sum(m.primes):,} rows x {a.embed // a.heads}), setup {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    clock, failures = Clock(dev), []
    if compile_available() and any(x.startswith("compile") for x in a.modes):
        allow_recompiles()
    st = ServingState(m, max(max(a.sequences, default=1), count))
    for mode in a.modes:
        why = mode_unavailable(mode, a)
        if why:
            for what in a.benches:
                if what != "prefill" or not mode.endswith("graph"):
                    emit({"impl": impl_of(mode), "bench": what, "graph": mode.endswith("graph"), "mode": mode,
                          "skipped": why})
            continue
        if "check" in a.benches:
            run_guarded("check", mode, a, lambda: check_mode(m, mode, a), failures)
        if "decode" in a.benches:
            for S in a.sequences:
                run_guarded("decode", mode, a, lambda: bench_decode(m, st, mode, S, a, clock), failures)
        if "prefill" in a.benches and not mode.endswith("graph"):
            for kind in a.prefill_layout:
                run_guarded("prefill", mode, a, lambda: bench_prefill(m, st, mode, kind, a, clock), failures)
        if dev.type == "cuda":
            torch.cuda.empty_cache()  # the padded prefill's intermediates are large
    for f in failures:
        print(f"torch_engram_serving.py: FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
