#!/usr/bin/env python3
"""CUDA source -> C++ for the CPU emulation in kernels/emu (see include/cuda_runtime.h).

Usage: transform.py IN.cu OUT.cpp

  k<<<grid, block[, smem[, stream]]>>>(args);  ->  emu_launch(grid, block, smem, stream, k, args);
  __shared__ T name[...];                        ->  the same, then emu::shared_register(name, sizeof(name));

Line numbers are kept (and a #line names IN.cu), so compiler and sanitizer reports point at the
original source. Not a CUDA parser: it handles the forms the kernels here use and stops with an
error on anything else (extern __shared__, a launch it cannot parse, a __shared__ it cannot see).
"""
import re
import sys


def fail(path, text, pos, why):
    line = text.count("\n", 0, pos) + 1
    sys.exit(f"transform.py: {path}:{line}: {why}")


def balanced(text, i, open_ch, close_ch):
    """Index just past the bracket closing text[i] == open_ch."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_ch:
            depth += 1
        elif text[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


def split_top(s):
    """Split at commas outside (), [], {}."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def in_comment(text, pos):
    return "//" in text[text.rfind("\n", 0, pos) + 1 : pos]


def rewrite_launches(path, text):
    out, pos, count = [], 0, 0
    while (lt := text.find("<<<", pos)) >= 0:
        if in_comment(text, lt):
            out.append(text[pos : lt + 3])
            pos = lt + 3
            continue
        # Kernel name: identifier (with ::), optionally followed by <template args>.
        k = lt
        while k > 0 and text[k - 1].isspace():
            k -= 1
        if text[k - 1] == ">":
            depth = 0
            while k > 0:
                k -= 1
                depth += {">": 1, "<": -1}.get(text[k], 0)
                if depth == 0:
                    break
        m = re.search(r"[A-Za-z_][\w:]*$", text[:k])
        if not m:
            fail(path, text, lt, "cannot find the kernel name before <<<")
        start = m.start()
        gt = text.find(">>>", lt)
        config = [c.strip() for c in split_top(text[lt + 3 : gt])] if gt > 0 else []
        if not 2 <= len(config) <= 4 or not all(config):
            fail(path, text, lt, "cannot parse the launch configuration")
        config += ["0", "0"][len(config) - 2 :]
        p = gt + 3
        while text[p].isspace():
            p += 1
        end = balanced(text, p, "(", ")") if text[p] == "(" else -1
        semi = re.match(r"\s*;", text[end:]) if end > 0 else None
        if not semi:
            fail(path, text, lt, "cannot parse the kernel arguments")
        args = text[p + 1 : end - 1]
        kernel = text[start:lt].strip()
        call = (f"emu_launch(dim3({config[0]}), dim3({config[1]}), {config[2]}, {config[3]}, &{kernel}"
                f"{', ' if args.strip() else ''}{args});")
        original = text[start : end + semi.end()]
        out.append(text[pos:start] + call + "\n" * (original.count("\n") - call.count("\n")))
        pos = end + semi.end()
        count += 1
    return "".join(out) + text[pos:], count


SHARED = re.compile(r"__shared__\s+[^;]*?\b(\w+)\s*(?:\[[^\]]*\]\s*)*;")


def register_shared(path, text):
    out, pos, count = [], 0, 0
    for m in re.finditer(r"\b__shared__\b", text):
        if in_comment(text, m.start()):
            continue
        if re.search(r"\bextern\s+$", text[: m.start()]):
            fail(path, text, m.start(), "extern __shared__ (dynamic shared memory) is not emulated")
        d = SHARED.match(text, m.start())
        if not d or "(" in d.group(0) or "=" in d.group(0):
            fail(path, text, m.start(), "cannot parse this __shared__ declaration")
        out.append(text[pos : d.end()] + f" emu::shared_register({d.group(1)}, sizeof({d.group(1)}));")
        pos = d.end()
        count += 1
    return "".join(out) + text[pos:], count


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    text = open(src).read()
    text, launches = rewrite_launches(src, text)
    text, shared = register_shared(src, text)
    for i, line in enumerate(text.split("\n")):
        if "<<<" in line and "//" not in line[: line.find("<<<")]:
            sys.exit(f"transform.py: {src}:{i + 1}: a <<< is left after the rewrite")
    with open(dst, "w") as f:
        f.write(f'#line 1 "{src}"\n' + text)
    print(f"transform.py: {src}: {launches} launch(es), {shared} __shared__ array(s)")


if __name__ == "__main__":
    main()
