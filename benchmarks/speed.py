"""Speed benchmark: indexing throughput, index size, peak indexing memory, query latency.

    python benchmarks/speed.py --corpus ../shared/datasets/reuters21578 [--engines searchlib,whoosh]
        [--queries 300] [--seed 7] [--limit N] [--json-out FILE]

Every engine indexes the same corpus (each in its own child process, for clean memory numbers)
and answers the same sampled OR / AND / phrase queries (k=10, warm, single process). The
measuring code is ``searchlib.evaluation.speed``; this script is its command line.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--corpus", required=True, help="corpus.jsonl or a dataset folder")
    parser.add_argument("--engines", help="comma list (default: every installed engine)")
    parser.add_argument("--queries", type=int, default=300, help="queries per kind (300)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=int, help="use only the first N articles")
    parser.add_argument("--k", type=int, default=10, help="hits per query (10)")
    parser.add_argument("--json-out", help="also write the results here as JSON")
    args = parser.parse_args(argv)

    from searchlib.evaluation import EngineUnavailable, make_engine, speed

    corpus = corpus_file(args.corpus)
    engines = args.engines.split(",") if args.engines else available_engines()
    try:
        for name in engines:
            make_engine(name)
    except EngineUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
