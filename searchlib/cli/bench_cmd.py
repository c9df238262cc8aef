"""``searchlib bench``: score searchlib (and peer engines) on test collections.

Only argument handling and printing live here; the work is in ``searchlib.evaluation``. The
report goes to stdout alone (so ``--format json`` pipes cleanly); progress goes to stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import click

import searchlib
from searchlib.errors import SearchlibError

from .common import UsageLine, Whole

SEEDS = "seeds"
FORMATS = ("table", "markdown", "json")


class BenchError(UsageLine):
    """Exit status 2 with one ``searchlib: error:`` line (the CLI's style), no usage banner."""


def seeds_dataset() -> Path:
    """The sample collection shipped in the source tree (benchmarks/seeds/), if present."""
    folder = Path(searchlib.__file__).resolve().parents[1] / "benchmarks" / "seeds"
    if not (folder / "qrels.txt").is_file():
        raise BenchError(
            "the built-in 'seeds' dataset is not installed (it lives in benchmarks/seeds/ of a "
            "source checkout); pass --dataset DIR instead"
        )
    return folder


class Status:
    """One ``\\r`` status line on stderr, redrawn at most every 0.1 s, erased at the end."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.width = 0
        self.last = 0.0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.1:
            return
        self.last = now
        line = message[:120]
        sys.stderr.write("\r" + line.ljust(self.width))
        sys.stderr.flush()
        self.width = len(line)

    def clear(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0


def _split(values: str) -> list[str]:
    """Comma list, each name once (case-insensitively: searchlib,SearchLib is one engine)."""
    unique: dict[str, str] = {}
    for name in (v.strip() for v in values.split(",")):
        if name:
            unique.setdefault(name.lower(), name)
    return list(unique.values())


def check_run_out(path: str) -> None:
    """Fail before a long run, not after it, when its run file cannot be written."""
    target = Path(path)
    problem = None
    if target.is_dir():
        problem = "it is a folder"
    elif not target.parent.is_dir():
        problem = f"no folder {target.parent}"
    else:
        try:
            with tempfile.TemporaryFile(dir=target.parent):
                pass
            if target.exists() and not os.access(target, os.W_OK):
                problem = "permission denied"
        except OSError as exc:
            problem = exc.strerror or str(exc)
    if problem:
        raise BenchError(f"cannot write run file {path}: {problem}")


@click.command(
    "bench", context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:\n\n\b\n  searchlib bench --dataset seeds --engine searchlib,whoosh\n"
    "  searchlib bench --dataset ../shared/datasets/cranfield --sweep k1=0.6:1.6:0.2 "
    "b=0.2:1.0:0.1\n  searchlib bench --dataset ../shared/datasets/npl --typos 1",
)
@click.option("--dataset", "datasets", multiple=True, required=True, metavar="DIR|seeds",
              help="Test collection folder (corpus + queries + qrels), or 'seeds' for the "
              "built-in sample. Repeat to run several; sweeps then add mean rows.")
@click.option("--engine", "engines", default="searchlib", show_default=True,
              help="Comma list: searchlib, whoosh, and bm25s, tantivy, sqlite when installed.")
@click.option("--metrics", default=None,
              help="Comma list of nDCG@k, AP, RR@k, P@k, R@k (AP is MAP to depth 1000). "
              "Default nDCG@10,AP,RR@10,P@10,R@100; a sweep picks its best by the first.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--run-out", type=click.Path(dir_okay=False), default=None,
              help="Write the TREC run file here (several rows: one file per row; "
              "a sweep writes its best setting's run).")
@click.option("--k1", type=click.FloatRange(0, 100), default=None,
              help="BM25 k1 (default: the library's).")
@click.option("--b", "b", type=click.FloatRange(0, 1), default=None,
              help="BM25 b (default: the library's).")
@click.option("--title-boost", type=click.FloatRange(0, 100), default=None,
              help="Weight of title matches (default: the library's).")
@click.option("--proximity", type=click.FloatRange(0, 100), default=None,
              help="Weight of the proximity bonus (0: off; default: the library's).")
@click.option("--prf", is_flag=True,
              help="RM3 pseudo-relevance feedback (the library's: 3 paragraphs, 20 terms, "
              "weight 0.7 for the original query; sweep fb_docs, fb_terms, fb_weight).")
@click.option("--stemmer", type=click.Choice(["snowball", "porter", "none"]), default="snowball",
              show_default=True)
@click.option("--no-stopwords", is_flag=True, help="Index and search stopwords too.")
@click.option("--sweep", "sweep_spec", default=None, metavar="SPEC",
              help="Grid over k1=a:b:step, b=a:b:step, title_boost=x,y, proximity=x,y, "
              "prf=on,off, fb_docs=n,m, fb_terms=n,m, fb_weight=x,y, stemmer=snowball,porter,"
              "none, stopwords=on,off; more specs may follow as arguments.")
@click.option("--typos", type=Whole(0), default=0,
              help="Also run every query with N typos, without and with the fuzzy fallback.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the typos.")
@click.option("--aggregate", "method", type=click.Choice(["MaxP", "FirstP", "SumP"]),
              default="MaxP", show_default=True,
              help="Paragraph-to-article scores for article-level qrels.")
@click.option("--syntax/--no-syntax", default=None,
              help="Read AND/OR/NOT in queries as operators (quotes are phrases either way for "
              "searchlib). Default: on for 'seeds', whose queries use them; off for prose "
              "collections, where an upper-case AND is a word.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress line on stderr (there is none when stderr is not a terminal).")
@click.argument("more_specs", nargs=-1, metavar="[SPEC]...")
def bench(datasets: tuple[str, ...], engines: str, metrics: str | None, fmt: str,
          run_out: str | None, k1: float | None, b: float | None, title_boost: float | None,
          proximity: float | None, prf: bool, stemmer: str, no_stopwords: bool,
          sweep_spec: str | None, typos: int, seed: int,
          method: str, syntax: bool | None, quiet: bool, more_specs: tuple[str, ...]) -> None:
    """Score search engines on test collections (nDCG, MAP, ...), side by side.

    Article-level judgments are scored on paragraph hits aggregated per article (MaxP by
    default); paragraph-level judgments (like 'seeds') are scored directly.
    """
    from searchlib.evaluation import suite

    if more_specs and sweep_spec is None:
        raise BenchError(f"unexpected argument {more_specs[0]!r} (specs follow --sweep)")
    if sweep_spec is not None and typos:
        raise BenchError("use --sweep or --typos, not both")
    if run_out:
        check_run_out(run_out)
    status = Status(enabled=not quiet and sys.stderr.isatty())
    try:
        options = suite.Options(tuple(_split(metrics)) if metrics else suite.BENCH_METRICS,
                                method)
        rows = _run(suite, list(dict.fromkeys(datasets)), _split(engines), options, k1, b,
                    title_boost, (proximity, prf), stemmer, not no_stopwords,
                    [sweep_spec, *more_specs] if sweep_spec else None, typos, seed, syntax,
                    run_out is not None, status)
    except SearchlibError as exc:
        status.clear()
        raise BenchError(str(exc)) from None
    status.clear()
    click.echo(suite.table(rows, options.metrics, fmt))
    if run_out:
        try:
            for path in suite.write_runs(rows, run_out):
                click.echo(f"run written to {path}", err=True)
        except SearchlibError as exc:
            raise BenchError(str(exc)) from None


def _run(suite, datasets, engine_names, options, k1, b, title_boost, stages, stemmer,
         stopwords, specs, typos, seed, syntax, keep_runs, status) -> list:
    """Load everything first (so a typo in a late argument fails fast), then run."""
    from searchlib.evaluation import load_dataset, make_engine
    from searchlib.evaluation.sweep import Setting, expand, parse_specs
    from searchlib.search import (
        DEFAULT_B,
        DEFAULT_K1,
        DEFAULT_PROXIMITY_WEIGHT,
        DEFAULT_TITLE_BOOST,
    )

    if not engine_names:
        raise BenchError("--engine needs at least one engine name")
    from searchlib.ranking.prf import Feedback

    proximity, prf = stages
    fb = Feedback()
    base = Setting(DEFAULT_K1 if k1 is None else k1, DEFAULT_B if b is None else b,
                   DEFAULT_TITLE_BOOST if title_boost is None else title_boost, stemmer, stopwords,
                   DEFAULT_PROXIMITY_WEIGHT if proximity is None else proximity, prf,
                   fb.fb_docs, fb.fb_terms, fb.original_weight)
    settings = expand(parse_specs(specs), base) if specs is not None else None
    loaded = [load_dataset(seeds_dataset() if d == SEEDS else d) for d in datasets]
    if syntax is None:
        syntax = all(d == SEEDS for d in datasets)

    def engine(name: str, stem: str = base.stemmer, stop: bool = base.stopwords):
        made = make_engine(name, query_syntax=syntax, k1=base.k1, b=base.b,
                           title_boost=base.title_boost, stemmer=stem, stopwords=stop)
        if hasattr(made, "set_params"):  # searchlib's second stages are search-time options
            made.set_params(proximity=base.proximity, prf=base.prf)
        return made

    for name in engine_names:  # unknown or missing engines fail before any indexing
        engine(name)
    rows = []
    for dataset in loaded:
        if settings is not None:
            others = [engine(n) for n in engine_names if n.strip().lower() != "searchlib"]
            rows += suite.compare(others, dataset, options, progress=status)
            rows += suite.sweep(settings, dataset, options, lambda s, w: engine("searchlib", s, w),
                                keep_best_run=keep_runs, progress=status)
        elif typos:
            engines = [engine(n) for n in engine_names]
            rows += suite.typos(engines, dataset, options, typos, seed, keep_runs=keep_runs,
                                progress=status)
        else:
            engines = [engine(n) for n in engine_names]
            rows += suite.compare(engines, dataset, options, keep_runs=keep_runs, progress=status)
    if settings is not None:
        rows += suite.means([r for r in rows if r.engine == "searchlib"], options.metrics[0])
    elif len(loaded) > 1:
        rows += suite.means(rows)
    return rows
