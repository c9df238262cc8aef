"""Two source trees of searchlib side by side: index size, open time and query latency.

    python benchmarks/format_ab.py --trees before=/tmp/base,after=. [--corpus ...]
        [--queries 300] [--rounds 2] [--workdir /tmp/format-ab]

Each tree indexes the same corpus (default Reuters-21578) in a child process with that tree on
PYTHONPATH; then, in alternating rounds (before, after, before, after...), a child per tree
opens its index and times the same sampled OR / AND / phrase queries (k=10, ranking only) and
a "page" kind: a search of k=10 whose hits' text is read (stored text decoded). Alternating
rounds on the same machine make the ratios comparable when the machine is shared; the table
gives each tree's best p50/p95 over the rounds and the after/before ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

KINDS = ("or", "and", "phrase", "page")
HERE = Path(__file__).resolve().parent


def child_build(corpus: str, workdir: str) -> None:
    import searchlib

    started = time.perf_counter()
    searchlib.Index.build([corpus], workdir).close()
    print(json.dumps({"seconds": time.perf_counter() - started}))


def child_query(corpus: str, workdir: str, count: int, seed: int) -> None:
    import searchlib
    from searchlib.evaluation.corpus import iter_articles
    from searchlib.evaluation.speed import (
        percentile,
        sample_queries,
        stopwords,
        time_queries,
    )

    texts = [p for a in iter_articles(corpus) for p in a.paragraphs]
    queries = sample_queries(texts, count, seed, stopwords())
    queries["page"] = queries["or"]
    opens = []
    for _ in range(5):
        started = time.perf_counter()
        idx = searchlib.Index.open(workdir)
        opens.append(1000 * (time.perf_counter() - started))
        idx.close()
    idx = searchlib.Index.open(workdir)

    class Engine:
        name = "searchlib"

        def query(self, kind: str, terms: list[str], k: int) -> int:
            text = {"or": " ".join(terms), "and": " AND ".join(terms),
                    "phrase": '"' + " ".join(terms) + '"'}.get(kind, " ".join(terms))
            if kind == "page":
                hits = idx.search(text, k=k, fuzzy=False).hits
                return sum(len(h.text) > 0 for h in hits)
            return len(idx.rank(text, k, fuzzy=False))

    out = {"open_ms": percentile(opens, 50)}
    for kind in KINDS:
        lat = time_queries(Engine(), queries[kind], kind, 10, 20)
        out[kind] = [lat.p50, lat.p95, lat.mean]
    print(json.dumps(out))


def run_child(tree: str, args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", required=True, help="label=path,label=path")
    parser.add_argument("--corpus", default=str(HERE.parent.parent / "shared" / "datasets"
                                                / "reuters21578" / "corpus.jsonl"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", default="/tmp/format-ab")
    parser.add_argument("--child", choices=("build", "query"), help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build":
        child_build(args.corpus, args.index)
        return 0
    if args.child == "query":
        child_query(args.corpus, args.index, args.queries, args.seed)
        return 0
    trees = dict(pair.split("=", 1) for pair in args.trees.split(","))
    results: dict[str, dict] = {label: {} for label in trees}
    for label, tree in trees.items():
        index = Path(args.workdir) / label
        if not (index / "manifest.json").exists():
            built = run_child(tree, ["--child", "build", "--corpus", args.corpus,
                                     "--index", str(index)])
            results[label]["build_s"] = built["seconds"]
        results[label]["mb"] = sum(p.stat().st_size for p in index.rglob("*")
                                   if p.is_file()) / 2**20
    for _ in range(args.rounds):
        for label, tree in trees.items():
            got = run_child(tree, ["--child", "query", "--corpus", args.corpus, "--index",
                                   str(Path(args.workdir) / label), "--queries",
                                   str(args.queries), "--seed", str(args.seed)])
            for key, value in got.items():
                best = results[label].get(key)
                if key == "open_ms":
                    results[label][key] = min(value, best or value)
                else:
                    results[label][key] = value if best is None else [
                        min(a, b) for a, b in zip(best, value)]
    labels = list(trees)
    print(f"| | {' | '.join(labels)} | ratio {labels[-1]}/{labels[0]} |")
    print("|---|" + "---|" * (len(labels) + 1))
    first, last = results[labels[0]], results[labels[-1]]
    for key, name in (("mb", "index MB"), ("open_ms", "open ms")):
        cells = " | ".join(f"{results[x][key]:.1f}" for x in labels)
        print(f"| {name} | {cells} | {last[key] / first[key]:.2f} |")
    for kind in KINDS:
        cells = [f"{results[x][kind][0]:.2f} / {results[x][kind][1]:.2f}" for x in labels]
        print(f"| {kind} p50 / p95 ms | {' | '.join(cells)} | "
              f"{last[kind][0] / first[kind][0]:.2f} / {last[kind][1] / first[kind][1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
