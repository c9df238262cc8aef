"""Run an engine over a test collection and score it (paragraph runs, aggregated if needed)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from searchlib.evaluation.aggregate import Method, aggregate
from searchlib.evaluation.common import Run, paragraph_id
from searchlib.evaluation.datasets import Dataset
from searchlib.evaluation.engines import Engine
from searchlib.evaluation.metrics import DEFAULT_METRICS, evaluate, evaluate_per_query, rank

# Paragraphs fetched per article wanted: MaxP needs several paragraphs per article to still
# fill the top ``k`` articles (Cranfield averages 2.3 paragraphs per article).
ARTICLE_FETCH_FACTOR = 3


@dataclass(frozen=True)
class BenchmarkResult:
    """Scores of one engine on one dataset; ``run`` is at the level the qrels judge."""

    engine: str
    dataset: str
    level: str
    scores: dict[str, float]
    per_query: dict[str, dict[str, float]]
    run: Run
    judged_queries: int
    build_seconds: float
    search_seconds: float


def retrieve(engine: Engine, queries: Mapping[str, str], k: int) -> Run:
    """A paragraph-level run (docids ``<article>#<n>``) with the top ``k`` hits per query."""
    run: Run = {}
    for qid, text in queries.items():
        scores: dict[str, float] = {}
        for article, number, score in engine.search(text, k):
            scores.setdefault(paragraph_id(article, number), score)
        run[qid] = scores
    return run


def cut(run: Run, depth: int) -> Run:
    """Keep each query's ``depth`` best documents (trec_eval order)."""
    return {qid: {d: scores[d] for d in rank(scores)[:depth]} for qid, scores in run.items()}


def benchmark(
    engine: Engine,
    dataset: Dataset,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    k: int = 1000,
    method: Method = "MaxP",
    workdir: str | None = None,
) -> BenchmarkResult:
    """Build ``engine`` on the dataset's corpus, run every query, and score the judged ones.

    Article-level qrels get a ``method``-aggregated run (fetching ``ARTICLE_FETCH_FACTOR * k``
    paragraphs, then keeping the top ``k`` articles); paragraph qrels score paragraphs directly.
    """
    with tempfile.TemporaryDirectory(prefix="searchlib-eval-") as tmp:
        started = time.perf_counter()
        engine.build(dataset.corpus_path, workdir or tmp)
        built = time.perf_counter()
        fetch = k if dataset.level == "paragraph" else ARTICLE_FETCH_FACTOR * k
        run = retrieve(engine, dataset.queries, fetch)
        searched = time.perf_counter()
        close = getattr(engine, "close", None)
        if callable(close):
            close()
    if dataset.level == "article":
        run = cut(aggregate(run, method), k)
    return BenchmarkResult(
        engine=engine.name,
        dataset=dataset.name,
        level=dataset.level,
        scores=evaluate(run, dataset.qrels, metrics),
        per_query=evaluate_per_query(run, dataset.qrels, metrics),
        run=run,
        judged_queries=len(dataset.judged),
        build_seconds=built - started,
        search_seconds=searched - built,
    )


def format_table(results: Iterable[BenchmarkResult], floatfmt: str = ".4f") -> str:
    """A plain-text table, one row per result (tabulate is imported only here)."""
    from tabulate import tabulate

    rows = list(results)
    metrics = list(rows[0].scores) if rows else []
    headers = ["dataset", "engine", "level", "queries", *metrics, "build s", "search s"]
    table = [
        [
            r.dataset,
            r.engine,
            r.level,
            r.judged_queries,
            *(r.scores.get(m) for m in metrics),
            r.build_seconds,
            r.search_seconds,
        ]
        for r in rows
    ]
    return tabulate(table, headers=headers, floatfmt=floatfmt)
