"""Sharded index on the local Ray against one index: Reuters-21578 replicated N times.

    python benchmarks/cluster.py --corpus ../shared/datasets/reuters21578 [--copies 10]
        [--shards 2 4] [--replicas 2] [--clients 8] [--cpus 2]

The copies are written to a temporary folder (ids suffixed per copy; never committed), then
indexed once as a single index and once per shard count (one Ray task per shard). The
query log is every query of the four test collections (Cranfield, NPL, CACM, MED), which
Reuters answers with a realistic mix of frequent, rare and unknown words. Reported: build
time, query latency p50/p95 (one client), throughput with `--clients` concurrent clients,
and the phase-1 statistics cache hit rate of a fresh coordinator over the query log; then the
same sharded index opened with `--replicas` actors per shard (latency and throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import ray  # noqa: E402

import searchlib  # noqa: E402
from searchlib.cluster.writer import update_cluster  # noqa: E402
from searchlib.evaluation.datasets import load_dataset  # noqa: E402

COLLECTIONS = ("cranfield", "npl", "cacm", "med")


def replicate(corpus: Path, out: Path, copies: int) -> int:
    """`copies` record files, each a copy of the corpus with ids suffixed `-c<copy>`."""
    out.mkdir(parents=True, exist_ok=True)
    lines = (corpus / "corpus.jsonl").read_text("utf-8").splitlines()
    for c in range(copies):
        with open(out / f"reuters-c{c}.jsonl", "w", encoding="utf-8") as f:
            for line in lines:
                rec = json.loads(line)
                rec["id"] = f"{rec.get('id', rec.get('_id'))}-c{c}"
                rec.pop("_id", None)
                f.write(json.dumps(rec) + "\n")
    return len(lines) * copies


def query_log(datasets: Path) -> list[str]:
    return [q for name in COLLECTIONS if (datasets / name).is_dir()
            for q in load_dataset(datasets / name).queries.values()]


def latency(index, queries: list[str]) -> tuple[float, float]:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q, k=10)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def throughput(index, queries: list[str], clients: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda q: index.search(q, k=10), queries))
    return len(queries) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared/datasets/reuters21578")
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--shards", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--replicas", type=int, nargs="*", default=[2])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    # a file or its folder, as benchmarks/speed.py takes it; checked before Ray starts
    corpus = args.corpus if args.corpus.is_dir() else args.corpus.parent
    if not (corpus / "corpus.jsonl").is_file():
        ap.error(f"no corpus.jsonl in {corpus} (--corpus: the Reuters folder or its "
                 "corpus.jsonl)")
    args.corpus = corpus
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    if min(args.copies, args.clients, args.cpus, *args.shards, *args.replicas, 1) < 1:
        ap.error("--copies, --shards, --replicas, --clients and --cpus must be at least 1")
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    queries = query_log(args.corpus.parent)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        articles = replicate(args.corpus, work / "docs", args.copies)
        print(f"corpus: {articles:,} articles ×{args.copies} written in "
              f"{time.perf_counter() - t0:.1f} s; query log: {len(queries)} queries",
              flush=True)
        rows = []
        t0 = time.perf_counter()
        single = searchlib.Index.build([work / "docs"], work / "single")
        build = time.perf_counter() - t0
        print(f"single: {single.snapshot.paragraphs:,} paragraphs in {build:.1f} s", flush=True)
        latency(single, queries[:50])  # warm up
        rows.append(("single index", build, *latency(single, queries),
                     throughput(single, queries, args.clients), None))
        for n in args.shards:
            t0 = time.perf_counter()
            update_cluster([work / "docs"], work / f"sharded{n}", shards=n)
            build = time.perf_counter() - t0
            idx = searchlib.Index.open(work / f"sharded{n}")
            for q in queries:  # phase-1 hit rate of a fresh coordinator, first pass
                idx.search(q, k=10)
            hit_rate = idx.cache.hit_rate
            trips = idx._pinned.view.round_trips / len(queries)
            print(f"{n} shards: phase-1 round trips per query {trips:.2f}", flush=True)
            rows.append((f"{n} shards", build, *latency(idx, queries),
                         throughput(idx, queries, args.clients), hit_rate))
            print(f"{n} shards done", flush=True)
            for r in args.replicas:
                rep = searchlib.Index.open(work / f"sharded{n}", replicas=r)
                latency(rep, queries[:50])  # warm up the new replicas
                rows.append((f"{n} shards × {r} replicas", None, *latency(rep, queries),
                             throughput(rep, queries, args.clients), None))
                print(f"{n} shards × {r} replicas done", flush=True)
    print(f"\nReuters-21578 ×{args.copies}, {len(queries)} queries, local Ray "
          f"({args.cpus} CPUs, {os.cpu_count()} cores on the machine)\n")
    print("| index | build s | p50 ms | p95 ms | q/s, "
          f"{args.clients} clients | phase-1 cache hits |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, build, p50, p95, qps, hits in rows:
        shown = "—" if hits is None else f"{hits:.0%}"
        built = "—" if build is None else f"{build:.1f}"
        print(f"| {name} | {built} | {p50:.1f} | {p95:.1f} | {qps:.0f} | {shown} |")


if __name__ == "__main__":
    main()
