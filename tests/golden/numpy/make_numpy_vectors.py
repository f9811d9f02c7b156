#!/usr/bin/env python3
"""Extra golden vectors made with numpy itself (not the official module), for paths the official
goldens in ../hash do not reach: multi-word seeds, the 32-bit Lemire path, tiny and huge bounds,
negative ids with wrap-around, pad_id=-1, 2- and 4-gram configs with overlapping bases.

The hash follows engram_demo_v1.py's NgramHashMapping line by line (numpy int64 arithmetic, sympy
primes). Regenerate: python3 make_numpy_vectors.py > numpy_vectors.json  (numpy + sympy needed)."""
import json
import numpy as np
from sympy import isprime


def rng_cases():
    out = []
    # (seed, high, size): high picks the path: 1 -> no draw; <= 2^32 -> 32-bit Lemire (2^32 -> raw next32);
    # else 64-bit Lemire; 2^63-1 is the largest int64 bound.
    for seed, high, size in [(0, 1, 3), (7, 2, 8), (10007, 1000, 9), (2**40 + 3, 2**31 + 11, 7),
                             (12345678901234567890, 2**32, 5), (3, 2**32 - 1, 5), (99, 2**32 + 1, 6),
                             (2**64 + 5, 46365378613643, 4), (1, 2**63 - 1, 5), (2**100 + 17, 3, 9)]:
        ss = np.random.SeedSequence(seed)
        g = np.random.Generator(np.random.PCG64(ss))
        out.append({"seed": str(seed), "high": high, "size": size,
                    "pool_u32": [int(x) for x in ss.pool],
                    "state_u64": [str(int(x)) for x in ss.generate_state(4, np.uint64)],
                    "draws": [int(x) for x in g.integers(0, high, size=size, dtype=np.int64)]})
    return out


def find_primes(cfg):
    seen, out = set(), {}
    for layer_id in cfg["layer_ids"]:
        per = []
        for n in range(2, cfg["max_ngram_size"] + 1):
            start = cfg["engram_vocab_size"][n - 2] - 1
            for _ in range(cfg["n_head_per_ngram"]):
                c = start + 1
                while not isprime(c) or c in seen:
                    c += 1
                seen.add(c)
                per.append(c)
                start = c
        out[layer_id] = per
    return out


def hash_case(cfg, vocab_c, lookup, ids):
    ids = np.asarray(ids, dtype=np.int64)
    x = ids.copy()
    x[ids >= 0] = lookup[ids[ids >= 0]]
    pad = int(lookup[cfg["pad_id"]])
    primes = find_primes(cfg)
    half = max(1, (2**63 - 1) // vocab_c // 2)
    B, T = x.shape
    layers = {}
    for layer_id in cfg["layer_ids"]:
        g = np.random.default_rng(int(cfg["seed"] + 10007 * layer_id))
        m = g.integers(0, half, size=(cfg["max_ngram_size"],), dtype=np.int64) * 2 + 1
        shifted = [x] + [np.pad(x, ((0, 0), (k, 0)), mode="constant", constant_values=pad)[:, :T]
                         for k in range(1, cfg["max_ngram_size"])]
        heads = []
        with np.errstate(over="ignore"):
            for n in range(2, cfg["max_ngram_size"] + 1):
                mix = shifted[0] * m[0]
                for k in range(1, n):
                    mix = np.bitwise_xor(mix, shifted[k] * m[k])
                for j in range(cfg["n_head_per_ngram"]):
                    p = primes[layer_id][(n - 2) * cfg["n_head_per_ngram"] + j]
                    heads.append(mix % p)
        layers[str(layer_id)] = {"multipliers": [int(v) for v in m], "moduli": primes[layer_id],
                                 "hash_ids": np.stack(heads, axis=2).tolist()}
    return {"compressed_ids": x.tolist(), "pad_id_compressed": pad, "layers": layers}


def hash_cases():
    rs = np.random.default_rng(4242)
    out = []
    specs = [
        ("bigram", dict(engram_vocab_size=[1009], max_ngram_size=2, n_head_per_ngram=3, layer_ids=[0, 3], pad_id=0, seed=5), 300),
        ("fourgram_overlapping_bases", dict(engram_vocab_size=[500, 503, 499], max_ngram_size=4, n_head_per_ngram=4,
                                            layer_ids=[7, 2, 11], pad_id=1, seed=123), 1000),
        ("tiny_vocab_multiword_seed", dict(engram_vocab_size=[50, 60], max_ngram_size=3, n_head_per_ngram=2,
                                           layer_ids=[0, 1, 2], pad_id=3, seed=2**40 + 3), 50),
        ("negative_ids_pad_minus_one", dict(engram_vocab_size=[646400, 646400], max_ngram_size=3, n_head_per_ngram=8,
                                            layer_ids=[1, 15], pad_id=-1, seed=0), 4000),
    ]
    for name, cfg, vocab in specs:
        cfg = dict(cfg, n_embed_per_ngram=cfg["n_head_per_ngram"] * 4, kernel_size=4)
        # a first-occurrence-ordered table onto [0, V')
        lookup = np.zeros(vocab, dtype=np.int64)
        nxt = 1
        for t in range(1, vocab):
            if rs.random() < 0.7:
                lookup[t] = nxt
                nxt += 1
            else:
                lookup[t] = rs.integers(0, nxt)
        B, T = 3, 11
        ids = rs.integers(0, vocab, size=(B, T))
        ids[0, :3] = cfg["pad_id"] if cfg["pad_id"] >= 0 else vocab - 1
        if name.startswith("negative"):
            ids[1, 2] = -1; ids[1, 5] = -100; ids[2, 0] = -2**40; ids[2, 4] = -2**62; ids[2, 9] = -2**63
        case = hash_case(cfg, nxt, lookup, ids)
        out.append({"name": name, "engram_config": cfg, "lookup": lookup.tolist(), "compressed_vocab_size": nxt,
                    "B": B, "T": T, "input_ids": ids.tolist(), **case})
    return out


if __name__ == "__main__":
    print(json.dumps({"generator": "make_numpy_vectors.py", "numpy_version": np.__version__,
                      "rng": rng_cases(), "hash": hash_cases()}))
