"""One big record file: generate a single JSONL of about --mb MB (Reuters-21578 replicated,
ids suffixed per copy), optionally gzip it, and index it, reporting time and peak RSS.

    python benchmarks/bigfile.py [--mb 300] [--gzip] [--engines searchlib,tantivy]
        [--corpus ../shared/datasets/reuters21578] [--workdir DIR]

Each engine builds in a fresh child process whose memory is sampled over its whole process
tree (searchlib's analysis workers count), as in ``speed.py --scale``. The file is written to
a temporary folder under --workdir and removed afterwards. tantivy reads only the plain JSONL.
"""

from __future__ import annotations

import argparse
import gzip
import math
import shutil
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=300, help="size of the JSONL (300 MB)")
    parser.add_argument("--gzip", action="store_true", help="index it as .jsonl.gz")
    parser.add_argument("--engines", default="searchlib", help="comma list (searchlib)")
    parser.add_argument("--corpus", help="corpus.jsonl to replicate (default Reuters-21578)")
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    args = parser.parse_args(argv)
    if not args.mb > 0:
        print(f"error: --mb must be positive, not {args.mb}", file=sys.stderr)
        return 2

    from searchlib.evaluation import scale
    from searchlib.evaluation.speed import count_paragraphs, dir_bytes

    default = Path(__file__).resolve().parents[1].parent / "shared/datasets/reuters21578"
    corpus = Path(args.corpus or default)
    if corpus.is_dir():
        corpus = corpus / "corpus.jsonl"
    if not corpus.is_file():
        print(f"error: no corpus at {corpus}", file=sys.stderr)
        return 2
    engines = args.engines.split(",")
    if args.gzip and engines != ["searchlib"]:
        print("error: --gzip is for searchlib only", file=sys.stderr)
        return 2
    copies = max(1, math.ceil(args.mb * 2**20 / corpus.stat().st_size))
    paragraphs = count_paragraphs(str(corpus)) * copies
    mb = 2**20
    with tempfile.TemporaryDirectory(prefix="searchlib-bigfile-", dir=args.workdir) as tmp:
        data = scale.replicate(str(corpus), copies, Path(tmp) / "dump.jsonl")
        size = data.stat().st_size
        if args.gzip:
            packed = data.with_name("dump.jsonl.gz")
            with open(data, "rb") as src, gzip.open(packed, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 2**20)
            data.unlink()
            data = packed
        print(f"# {data.name}: {data.stat().st_size / mb:,.0f} MB on disk ({size / mb:,.0f} MB "
              f"of JSONL, {copies} copies of {corpus.name}), {paragraphs:,} paragraphs",
              flush=True)
        print("| file | engine | paragraphs | index time | paragraphs/s | peak RSS | index MB |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for name in engines:
            workdir = Path(tmp) / name
            workdir.mkdir()
            built = scale.build_in_child(name, str(data), str(workdir))
            print(f"| {data.name} {data.stat().st_size / mb:,.0f} MB | {name} | {paragraphs:,} | "
                  f"{built['seconds']:.1f} s | {paragraphs / built['seconds']:,.0f} | "
                  f"{built['peak_rss'] / mb:,.0f} MB | {dir_bytes(workdir) / mb:,.0f} |",
                  flush=True)
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
