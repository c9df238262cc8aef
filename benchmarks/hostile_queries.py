"""Hostile query shapes against the query budget: seconds and peak memory growth per shape.

    python benchmarks/hostile_queries.py --corpus ../shared/datasets/reuters21578
    python benchmarks/hostile_queries.py --index DIR

Each shape runs in its own child process against the same index. The table shows the query
size, the seconds `Index.search` took, the peak of the memory that search allocated (measured
in a second run under tracemalloc, which NumPy reports its arrays to, as tracing slows Python;
mapped index files are not counted), and which caps of the budget the query hit.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make(name: str, surfaces: list[str], common: list[str]) -> str:
    rng = random.Random(3)
    shapes = {
        "said x2000": lambda: "said " * 2000,
        "said x4000": lambda: "said " * 4000,
        "oil x100000": lambda: "oil " * 100_000,
        "s* x200": lambda: "s* " * 200,
        "a*": lambda: "a*",
        "1,100 common words": lambda: " ".join(common[:1100]),
        "10k-word AND": lambda: " AND ".join(rng.choice(common[:3000]) for _ in range(10_000)),
        "300 word~2": lambda: " ".join(w + "~2" for w in rng.sample(surfaces, 300)),
        "130 KB word": lambda: "x" * 130_000,
        "130 prefixes x3": lambda: " ".join(a + b + "*" for a in "abcdefghijklmnopqrstuvwxyz"
                                            for b in "aeiou") * 3,
        "3,000 phrases~3": lambda: " ".join(f'"{rng.choice(common[:200])} '
                                            f'{rng.choice(common[:200])}"~3' for _ in range(3000)),
        "nested groups": lambda: ("(" * 70 + " ".join(common[:30]) + ")" * 70 + " ") * 80,
        "15k-word phrase": lambda: '"' + " ".join(rng.choice(common[:50])
                                                  for _ in range(15_000)) + '"',
        "8,000 unknown words": lambda: " ".join("".join(rng.choice("abcdefghij")
                                                        for _ in range(12)) for _ in range(8000)),
        "pasted page (100 KB)": lambda: " ".join(rng.choice(common[:2000])
                                                  for _ in range(16_000))[:100_000],
        "100 KB random": lambda: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz   *~\"()-:")
                                         for _ in range(100_000)),
    }
    return shapes[name]()


SHAPES = ("said x2000", "said x4000", "oil x100000", "s* x200", "a*", "1,100 common words",
          "10k-word AND", "300 word~2", "130 KB word", "130 prefixes x3", "3,000 phrases~3",
          "nested groups", "15k-word phrase", "8,000 unknown words", "pasted page (100 KB)",
          "100 KB random")


def child(index: str, shape: str) -> None:
    import time
    import tracemalloc

    import numpy as np

    import searchlib

    idx = searchlib.Index.open(index)
    idx.search("oil prices")  # warm: mapped files, vocabulary
    terms, surfaces = idx.snapshot.vocabulary
    seg = idx.snapshot.segments[0]
    counts = np.diff(np.asarray(seg.fields["text"].ptr))
    common = [seg.surface[i] for i in np.argsort(-counts, kind="stable")[:3000]]
    query = make(shape, [s for s in surfaces if s.isalpha()], common)
    t0 = time.perf_counter()
    res = idx.search(query)
    seconds = time.perf_counter() - t0
    tracemalloc.start()  # a second run: tracing slows Python, so it is not timed
    idx.search(query)
    growth = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps({"shape": shape, "chars": len(query), "s": seconds, "mb": growth,
                      "warnings": res.warnings}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="folder or file to index first (e.g. Reuters-21578)")
    ap.add_argument("--index", help="an existing index to query")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index
        if index is None:
            if not args.corpus:
                ap.error("give --corpus or --index")
            sys.path.insert(0, str(REPO))
            import searchlib

            index = str(Path(tmp) / "index")
            searchlib.Index.build([args.corpus], index)
        print(f"{'shape':<22} {'chars':>8} {'seconds':>8} {'peak MB':>9}  caps hit")
        for shape in SHAPES:
            out = subprocess.run([sys.executable, __file__, "--child", index, shape],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode:
                print(f"{shape:<22} FAILED: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            caps = "; ".join(w[:60] for w in r["warnings"] if "limit" in w or "more than" in w
                             or "longer" in w or "tried for" in w) or "-"
            print(f"{r['shape']:<22} {r['chars']:>8,} {r['s']:>8.2f} {r['mb']:>9.0f}  {caps}")


if __name__ == "__main__":
    main()
