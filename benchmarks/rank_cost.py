"""What the ranking's second stages cost in query latency: the same OR queries (2-3 words
sampled from the corpus, as benchmarks/speed.py samples them) searched with proximity off,
with proximity at a weight, and with RM3 feedback, interleaved query by query in one process
so machine noise hits every variant alike. Reports p50/p95 per variant and ratios to "off".

    python benchmarks/rank_cost.py --corpus ../shared/datasets/reuters21578/corpus.jsonl \
        --index reuters-index --count 300
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import searchlib
from searchlib.evaluation.corpus import paragraphs
from searchlib.evaluation.speed import percentile, sample_queries, stopwords


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--index", required=True, help="built here if absent")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--proximity", type=float, default=0.5)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args(argv)
    root = Path(args.index)
    index = (searchlib.Index.open(root) if searchlib.Index.exists(root)
             else searchlib.Index.build([args.corpus], root))
    texts = [text for _a, _n, _t, text in paragraphs(args.corpus)]
    queries = [" ".join(q) for q in sample_queries(texts, args.count, 7, stopwords())["or"]]
    variants = {"off": {"proximity": 0}, f"proximity {args.proximity:g}":
                {"proximity": args.proximity}, "prf": {"proximity": 0, "prf": True}}
    spent: dict[str, list[float]] = {name: [] for name in variants}
    for query in queries[:20]:  # warm-up: page in the postings
        for options in variants.values():
            index.search(query, k=args.k, fuzzy=False, **options)
    for query in queries:
        for name, options in variants.items():
            started = time.perf_counter()
            index.search(query, k=args.k, fuzzy=False, **options)
            spent[name].append(1000 * (time.perf_counter() - started))
    base = {q: percentile(spent["off"], q) for q in (50, 95)}
    print(f"{len(queries)} OR queries, k={args.k}, {index.stats().paragraphs} paragraphs")
    print(f"{'variant':<16} {'p50 ms':>8} {'p95 ms':>8} {'p50 ×':>7} {'p95 ×':>7}")
    for name, values in spent.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"{name:<16} {p50:8.2f} {p95:8.2f} {p50 / base[50]:7.2f} {p95 / base[95]:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
