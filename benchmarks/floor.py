"""The fixed cost of a query: CPU ms per `Index.search(q, k=10, fuzzy=False).hits` of a few
queries, each the best of many batches (CPU time, so other processes' load counts less), for
the code on PYTHONPATH. Compare two versions of the code interleaved in the same run:

    for r in 1 2; do for code in ../main .; do
        PYTHONPATH=$code python benchmarks/floor.py INDEX; done; done
"""

from __future__ import annotations

import argparse
import time

import searchlib

QUERIES = ("oil AND prices", "oil prices", '"oil prices"', "zzzz AND qqqq")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("index")
    parser.add_argument("queries", nargs="*", default=list(QUERIES))
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--size", type=int, default=50, help="searches per batch")
    args = parser.parse_args(argv)
    index = searchlib.Index.open(args.index)
    row = []
    for query in args.queries:
        for _ in range(300):  # warm: decoded postings, remembered parses and words
            index.search(query, k=10, fuzzy=False).hits  # noqa: B018
        best = float("inf")
        for _ in range(args.batches):
            start = time.process_time()
            for _ in range(args.size):
                index.search(query, k=10, fuzzy=False).hits  # noqa: B018
            best = min(best, (time.process_time() - start) / args.size)
        row.append(f"{query!r} {1000 * best:.3f}")
    print(" | ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
