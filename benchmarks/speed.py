"""Speed benchmark: indexing throughput, index size, peak indexing memory, query latency.

    python benchmarks/speed.py --corpus ../shared/datasets/reuters21578 [--engines searchlib,whoosh]
        [--queries 300] [--seed 7] [--limit N] [--json-out FILE]
    python benchmarks/speed.py --scale 1,5,10 [--corpus ...] [--engines searchlib,tantivy]

Every engine indexes the same corpus (each in its own child process, for clean memory numbers)
and answers the same sampled OR / AND / phrase queries (k=10, warm, single process). The
measuring code is ``searchlib.evaluation.speed``; this script is its command line.

``--scale`` measures cost growth instead: the corpus (default Reuters-21578) replicated ×N
into one JSONL per scale in a temporary folder, indexed by searchlib and tantivy (both on
every core, tantivy storing the text too); a row per scale: index time, paragraphs/s, peak
RSS of the whole process tree, index size; then query latency p50/p95 per kind (the same
sampled queries at every scale, ``--queries`` per kind, 0: none), open time and searchlib's
``search`` vs ``rank`` at k=1000, and issue 11's targets (``searchlib.evaluation.scale``).
``--baseline main=../main`` times searchlib from another checkout in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def available_engines() -> list[str]:
    """searchlib and whoosh, plus the optional peers that are installed here."""
    from searchlib.evaluation import EngineUnavailable, make_engine

    names = []
    for name in ("searchlib", "whoosh", "tantivy", "bm25s", "sqlite"):
        try:
            make_engine(name)
        except EngineUnavailable:
            continue
        names.append(name)
    return names


def status(message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r" + message[:100].ljust(100))
        sys.stderr.flush()


def corpus_file(path: str) -> str:
    """A dataset folder means its corpus.jsonl."""
    candidate = Path(path)
    if candidate.is_dir():
        candidate = candidate / "corpus.jsonl"
    if not candidate.is_file():
        raise SystemExit(f"error: no corpus at {path} (give a .jsonl file or a dataset folder)")
    return str(candidate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="corpus.jsonl or a dataset folder (--scale: "
                        "default ../shared/datasets/reuters21578)")
    parser.add_argument("--scale", help="comma list of replication factors, e.g. 1,5,10")
    parser.add_argument("--engines", help="comma list (default: every installed engine)")
    parser.add_argument("--queries", type=int, default=300, help="queries per kind (300)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=int, help="use only the first N articles")
    parser.add_argument("--k", type=int, default=10, help="hits per query (10)")
    parser.add_argument("--json-out", help="also write the results here as JSON")
    parser.add_argument("--baseline", action="append", default=[], metavar="LABEL=DIR",
                        help="--scale: also time searchlib from another checkout (e.g. "
                        "main=../main), in the same run; repeatable")
    args = parser.parse_args(argv)

    from searchlib.evaluation import speed

    if args.scale:
        return scale_main(args)
    if not args.corpus:
        parser.error("--corpus is required (unless --scale)")
    corpus = corpus_file(args.corpus)
    engines = args.engines.split(",") if args.engines else available_engines()
    if not engines_ready(engines):
        return 2
    started = time.time()
    results = speed.run(corpus, engines, args.queries, args.seed, args.limit, args.k, status)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 100 + "\r")
    print(speed.tables(results))
    if args.json_out:
        meta = {
            "corpus": corpus, "limit": args.limit, "queries_per_kind": args.queries,
            "seed": args.seed, "k": args.k, "python": platform.python_version(),
            "machine": platform.machine(), "started": time.strftime(
                "%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        }
        Path(args.json_out).write_text(speed.to_json(results, meta) + "\n", encoding="utf-8")
    return 0


def engines_ready(engines: list[str]) -> bool:
    """Whether every named engine can be made; otherwise one error line on stderr."""
    from searchlib.evaluation import EngineUnavailable, make_engine

    try:
        for name in engines:
            make_engine(name)
    except EngineUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def scale_main(args: argparse.Namespace) -> int:
    from searchlib.evaluation import scale

    try:
        factors = [int(x) for x in args.scale.split(",")]
    except ValueError:
        factors = []
    if not factors or min(factors) < 1:
        print(f"error: --scale takes whole numbers ≥ 1 like 1,5,10, not {args.scale!r}",
              file=sys.stderr)
        return 2
    default = Path(__file__).resolve().parents[1].parent / "shared/datasets/reuters21578"
    corpus = corpus_file(args.corpus or str(default))
    engines = args.engines.split(",") if args.engines else ["searchlib", "tantivy"]
    if not engines_ready(engines):
        return 2
    baselines = dict(b.partition("=")[::2] for b in args.baseline)
    if not all(label and Path(tree, "searchlib").is_dir() for label, tree in baselines.items()):
        print("error: --baseline takes LABEL=DIR, DIR a checkout holding searchlib/",
              file=sys.stderr)
        return 2
    rows = scale.run(corpus, factors, engines, status,
                     on_row=lambda r: print(f"# ×{r.scale} {r.engine}: {r.seconds:.1f} s, "
                                            f"{r.peak_rss_bytes / 2**20:.0f} MB",
                                            file=sys.stderr, flush=True),
                     queries=args.queries, k=args.k, seed=args.seed,
                     baselines={k: str(Path(v).resolve()) for k, v in baselines.items()})
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 100 + "\r")
    print(scale.table(rows))
    if args.queries:
        print()
        print(scale.latency_table(rows))
        print()
        print("\n".join(f"- {line}" for line in scale.targets(rows)))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(
            {"corpus": corpus, "python": platform.python_version(),
             "rows": [dict(vars(r), per_second=r.per_second) for r in rows]}, indent=1) + "\n",
            encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
