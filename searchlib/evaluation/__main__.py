"""``python -m searchlib.evaluation DATASET... [--engine whoosh|searchlib]``: print scores."""

from __future__ import annotations

import argparse
import sys

from searchlib.errors import SearchlibError
from searchlib.evaluation.aggregate import METHODS
from searchlib.evaluation.bench import benchmark, format_table
from searchlib.evaluation.datasets import load_dataset
from searchlib.evaluation.engines import Engine, SearchlibEngine, WhooshEngine
from searchlib.evaluation.metrics import DEFAULT_METRICS
from searchlib.evaluation.runs import write_run


def _engine(args: argparse.Namespace) -> Engine:
    if args.engine == "whoosh":
        return WhooshEngine(query_syntax=args.syntax)
    return SearchlibEngine(k1=args.k1, b=args.b, stemmer=args.stemmer, query_syntax=args.syntax)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m searchlib.evaluation", description=__doc__)
    parser.add_argument("datasets", nargs="+", help="dataset folders (e.g. ../shared/datasets/npl)")
    parser.add_argument("--engine", choices=["whoosh", "searchlib"], default="whoosh")
    parser.add_argument("--k1", type=float, default=0.9)
    parser.add_argument("--b", type=float, default=0.4)
    parser.add_argument("--stemmer", default="snowball")
    parser.add_argument("--syntax", action="store_true", help="parse AND/OR/NOT, quotes...")
    parser.add_argument("--method", choices=METHODS, default="MaxP")
    parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS))
    parser.add_argument("--run-dir", help="also write one TREC run file per dataset here")
    args = parser.parse_args(argv)
    results = []
    try:
        for path in args.datasets:
            engine = _engine(args)
            result = benchmark(
                engine, load_dataset(path), metrics=args.metrics.split(","), method=args.method
            )
            if args.run_dir:
                write_run(
                    f"{args.run_dir}/{result.dataset}.{engine.name}.run",
                    result.run,
                    tag=engine.name,
                )
            results.append(result)
    except SearchlibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
