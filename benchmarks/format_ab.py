"""Two source trees of searchlib side by side: index size, open time and query latency.

    python benchmarks/format_ab.py --trees before=../base,after=. [--corpus ...]
        [--queries 300] [--rounds 2] [--workdir DIR]

Each tree indexes the same corpus (default Reuters-21578) in a child process with that tree on
PYTHONPATH; then a long-lived child per tree opens its index and times the same sampled
OR / AND / phrase queries (k=10, ranking only) and a "page" kind (a search of k=10 whose
hits' text is read: stored text decoded), query by query in turn, alternating which tree goes
first, so load on a shared machine falls on both alike. The table gives each tree's p50/p95
(the first 20 queries are warm-up) and the ratio of the last tree to the first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("or", "and", "phrase", "page")
HERE = Path(__file__).resolve().parent


def child_build(corpus: str, workdir: str) -> None:
    import searchlib

    started = time.perf_counter()
    searchlib.Index.build([corpus], workdir).close()
    print(json.dumps({"seconds": time.perf_counter() - started}))


def child_serve(workdir: str) -> None:
    """Answer timing requests on stdin ("kind\twords"), one JSON line each: open time first."""
    import searchlib

    walls, cpus = [], []
    for _ in range(15):
        wall, cpu = time.perf_counter(), time.process_time()
        idx = searchlib.Index.open(workdir)
        walls.append(1000 * (time.perf_counter() - wall))
        cpus.append(1000 * (time.process_time() - cpu))
        idx.close()
    idx = searchlib.Index.open(workdir)
    print(json.dumps([sorted(walls)[7], sorted(cpus)[7]]), flush=True)
    for line in sys.stdin:
        kind, words = line.rstrip("\n").split("\t")
        text = {"and": " AND ".join(words.split()), "phrase": f'"{words}"'}.get(kind, words)
        started = time.perf_counter()
        if kind == "page":
            hits = idx.search(text, k=10, fuzzy=False).hits
            sum(len(h.text) for h in hits)
        else:
            idx.rank(text, 10, fuzzy=False)
        print(json.dumps(1000 * (time.perf_counter() - started)), flush=True)


def run_child(tree: str, args: list[str]) -> dict:
    """Run this script as a child with `tree` on PYTHONPATH; its last line, as JSON."""
    env = {**os.environ, "PYTHONPATH": tree}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", help="label=path,label=path (required)")
    parser.add_argument("--corpus", default=str(HERE.parent.parent / "shared" / "datasets"
                                                / "reuters21578" / "corpus.jsonl"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=1, help="passes over the queries (1)")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "format-ab"))
    parser.add_argument("--child", choices=("build", "serve"), help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build":
        child_build(args.corpus, args.index)
        return 0
    if args.child == "serve":
        child_serve(args.index)
        return 0
    if not args.trees:
        parser.error("--trees is required")
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
    from searchlib.evaluation.corpus import iter_articles
    from searchlib.evaluation.speed import percentile, sample_queries, stopwords

    texts = [p for a in iter_articles(args.corpus) for p in a.paragraphs]
    queries = sample_queries(texts, args.queries, args.seed, stopwords())
    queries["page"] = queries["or"]
    servers = {}
    for label, tree in trees.items():
        env = {**os.environ, "PYTHONPATH": tree}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        servers[label] = subprocess.Popen(
            [sys.executable, __file__, "--child", "serve", "--index",
             str(Path(args.workdir) / label)], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        results[label]["open_ms"], results[label]["open_cpu_ms"] = json.loads(
            servers[label].stdout.readline())

    def ask(label: str, kind: str, words: list[str]) -> float:
        server = servers[label]
        server.stdin.write(f"{kind}\t{' '.join(words)}\n")
        server.stdin.flush()
        return json.loads(server.stdout.readline())

    try:
        for kind in KINDS:
            times: dict[str, list[float]] = {label: [] for label in trees}
            for _ in range(args.rounds):
                for i, words in enumerate(queries[kind]):
                    order = list(trees) if i % 2 else list(trees)[::-1]
                    for label in order:  # query by query, alternating who goes first
                        times[label].append(ask(label, kind, words))
            for label in trees:
                warm = times[label][20:]
                results[label][kind] = [percentile(warm, 50), percentile(warm, 95)]
    finally:
        for server in servers.values():
            server.stdin.close()
            server.wait()
    labels = list(trees)
    print(f"| | {' | '.join(labels)} | ratio {labels[-1]}/{labels[0]} |")
    print("|---|" + "---|" * (len(labels) + 1))
    first, last = results[labels[0]], results[labels[-1]]
    for key, name in (("mb", "index MB"), ("open_ms", "open ms (wall, median of 15)"),
                      ("open_cpu_ms", "open ms (CPU, median of 15)")):
        cells = " | ".join(f"{results[x][key]:.1f}" for x in labels)
        print(f"| {name} | {cells} | {last[key] / first[key]:.2f} |")
    for kind in KINDS:
        cells = [f"{results[x][kind][0]:.2f} / {results[x][kind][1]:.2f}" for x in labels]
        print(f"| {kind} p50 / p95 ms | {' | '.join(cells)} | "
              f"{last[kind][0] / first[kind][0]:.2f} / {last[kind][1] / first[kind][1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
