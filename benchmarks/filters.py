"""What a metadata filter costs a query: each query timed plain and with filters, in process.

    python benchmarks/filters.py --corpus ../shared/datasets/reuters21578/corpus.jsonl
    python benchmarks/filters.py --index DIR [--runs 30]

Each (query, filter) pair runs `--runs` times, interleaved with its plain query so that
load from other programs hits both alike; the table shows median milliseconds and the
ratio filtered / plain (the target is at most 1.5). Filters ANDed with words are masks over
the words' matches, so the cost is one lookup per match; a filter alone (no words) lists
articles by date and is shown for scale, as are facets.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import searchlib  # noqa: E402

QUERIES = ["oil prices", "opec", "bank interest rates", "trade deficit", '"crude oil"',
           "wheat exports"]
FILTERS = {  # label -> (query suffix, search() keyword arguments)
    "source:reuters": (" source:reuters", {}),
    "topics:crude": (" topics:crude", {}),
    "date:1987-03": (" date:1987-03", {}),
    "since/until": ("", {"since": "1987-03-01", "until": "1987-03-31"}),
    "where topics": ("", {"where": {"topics": ["crude", "grain", "money-fx"]}}),
    "facets topics,date:month": ("", {"facets": ["topics", "date:month"]}),
    "sort -date": ("", {"sort": "-date"}),
}


def timed(index: searchlib.Index, query: str, kwargs: dict) -> float:
    t0 = time.perf_counter()
    index.search(query, k=10, **kwargs)
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, help="an index of news with metadata")
    ap.add_argument("--corpus", type=Path, help="build a temporary index of this JSONL")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    if (args.index is None) == (args.corpus is None):
        ap.error("give --index or --corpus")
    with tempfile.TemporaryDirectory() as tmp:
        index = (searchlib.Index(args.index) if args.index else
                 searchlib.Index.build([args.corpus], Path(tmp) / "index"))
        for q in QUERIES:  # warm the caches (first use decodes the metadata dictionaries)
            for suffix, kwargs in FILTERS.values():
                index.search(q + suffix, **kwargs)
        print(f"| filter | plain ms | filtered ms | ratio |  (median of {args.runs} runs, "
              f"{len(QUERIES)} queries)")
        print("|---|---:|---:|---:|")
        worst = 0.0
        for label, (suffix, kwargs) in FILTERS.items():
            plain, filtered = [], []
            for _ in range(args.runs):
                for q in QUERIES:
                    plain.append(timed(index, q, {}))
                    filtered.append(timed(index, q + suffix, kwargs))
            p, f = statistics.median(plain), statistics.median(filtered)
            if not label.startswith(("facets", "sort")):
                worst = max(worst, f / p)
            print(f"| {label} | {p:.2f} | {f:.2f} | {f / p:.2f} |")
        alone = statistics.median(timed(index, "date:1987-03", {}) for _ in range(args.runs))
        print(f"\nfilter alone `date:1987-03` (a listing by date): {alone:.2f} ms")
        print(f"worst filter ratio: {worst:.2f} (target <= 1.5)")
        index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
