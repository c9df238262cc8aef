"""What ``searchlib bench`` runs: engines side by side, parameter sweeps and typo'd queries on
test collections, each result one ``Row`` of one table (plain text, markdown or JSON).

This is the one benchmark runner (the CLI and the tests use it). Every engine of a comparison
indexes the same corpus (searchlib's paragraphs, see ``corpus``) and answers the same queries in
the same process, so rows are comparable. Sweeps build one searchlib index per analyzer setting
and vary k1/b/title_boost per search, because those are query-time parameters.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from searchlib.evaluation.aggregate import Method, aggregate
from searchlib.evaluation.common import Run, paragraph_id
from searchlib.evaluation.datasets import Dataset
from searchlib.evaluation.errors import EvaluationError
from searchlib.evaluation.metrics import evaluate, metric_names, rank
from searchlib.evaluation.runs import write_run
from searchlib.evaluation.sweep import Setting, analyzer_groups
from searchlib.evaluation.typos import typo_queries

Progress = Callable[[str], None]
BENCH_METRICS: tuple[str, ...] = ("nDCG@10", "AP", "RR@10", "P@10", "R@100")
TYPO_LABELS = ("clean", "typo'd", "typo'd + fuzzy")
# Paragraphs fetched per article wanted: MaxP needs several paragraphs per article to still
# fill the top ``k`` articles (Cranfield averages 2.3 paragraphs per article).
ARTICLE_FETCH_FACTOR = 3
SHOWN_DECIMALS = 4  # metric values in the table; rows equal to this many decimals tie


def _quiet(_: str) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True)
class Options:
    """How runs are scored: metric names, passage-to-article aggregation and ranking depth."""

    metrics: tuple[str, ...] = BENCH_METRICS
    method: Method = "MaxP"
    depth: int = 1000

    def __post_init__(self) -> None:
        if not self.metrics:
            raise EvaluationError("no metrics given")
        object.__setattr__(self, "metrics", metric_names(self.metrics))  # ap,AP -> AP once


@dataclass
class Row:
    """One line of the report. ``run`` (at the judged level) is kept only when asked for."""

    dataset: str
    engine: str
    setting: dict[str, Any]
    level: str
    judged: int
    scores: dict[str, float]
    index_seconds: float
    query_ms: float
    best: bool = False
    run: Run | None = field(default=None, repr=False, compare=False)

    def key(self) -> tuple:
        """Identifies the configuration across datasets (for means over datasets)."""
        return self.engine, tuple(self.setting.items())


def fetch_depth(dataset: Dataset, depth: int) -> int:
    """Paragraphs to fetch per query: article qrels need several paragraphs per article."""
    return depth if dataset.level == "paragraph" else ARTICLE_FETCH_FACTOR * depth


def retrieve(engine: Any, queries: Mapping[str, str], k: int, progress: Progress = _quiet,
             label: str = "") -> tuple[Run, float]:
    """A paragraph-level run and the seconds its searches took (progress excluded)."""
    run: Run = {}
    spent = 0.0
    for number, (qid, text) in enumerate(queries.items(), start=1):
        started = time.perf_counter()
        hits = engine.search(text, k)
        spent += time.perf_counter() - started
        scores: dict[str, float] = {}
        for article, paragraph, score in hits:
            scores.setdefault(paragraph_id(article, paragraph), score)
        run[qid] = scores
        progress(f"{label}: query {number}/{len(queries)}")
    return run, spent


def cut(run: Run, depth: int) -> Run:
    """Keep each query's ``depth`` best documents (trec_eval order)."""
    return {qid: {d: scores[d] for d in rank(scores)[:depth]} for qid, scores in run.items()}


def score(run: Run, dataset: Dataset, options: Options) -> tuple[Run, dict[str, float]]:
    """The run at the level the qrels judge (aggregated for articles) and its mean scores."""
    if dataset.level == "article":
        run = cut(aggregate(run, options.method), options.depth)
    return run, evaluate(run, dataset.qrels, options.metrics)


def _row(dataset: Dataset, engine: str, setting: dict, run: Run, seconds: float, built: float,
         queries: int, options: Options, keep_run: bool) -> Row:
    judged_run, scores = score(run, dataset, options)
    return Row(dataset.name, engine, setting, dataset.level, len(dataset.judged), scores, built,
               1000 * seconds / max(queries, 1), run=judged_run if keep_run else None)


def _build(engine: Any, dataset: Dataset, workdir: str, progress: Progress) -> float:
    progress(f"{dataset.name}: indexing with {engine.name}")
    prepare = getattr(engine, "prepare", None)
    if callable(prepare):
        prepare()
    started = time.perf_counter()
    engine.build(dataset.corpus_path, workdir)
    return time.perf_counter() - started


def _close(engine: Any) -> None:
    close = getattr(engine, "close", None)
    if callable(close):
        close()


def describe(engine: Any) -> dict[str, Any]:
    """The setting columns of an engine's row (searchlib's BM25 and analyzer; {} for peers)."""
    if not hasattr(engine, "set_params"):
        return {}
    from searchlib.ranking.prf import Feedback
    from searchlib.search import DEFAULT_PROXIMITY_WEIGHT

    fb = Feedback()
    params = {"k1": engine.k1, "b": engine.b, "proximity": DEFAULT_PROXIMITY_WEIGHT,
              "fb_docs": fb.fb_docs, "fb_terms": fb.fb_terms, "fb_weight": fb.original_weight,
              **engine.options, **engine.overrides}
    return Setting(
        params["k1"], params["b"], params.get("title_boost", 0.0), engine.stemmer,
        bool(params.get("stopwords", True)), params["proximity"],
        bool(params.get("prf", False)), params["fb_docs"], params["fb_terms"],
        params["fb_weight"],
    ).as_dict()


def compare(engines: Sequence[Any], dataset: Dataset, options: Options, *,
            keep_runs: bool = False, progress: Progress = _quiet) -> list[Row]:
    """Each engine indexes the dataset and answers its queries: one row per engine."""
    rows = []
    k = fetch_depth(dataset, options.depth)
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="searchlib-bench-") as tmp:
            built = _build(engine, dataset, tmp, progress)
            run, spent = retrieve(engine, dataset.queries, k, progress,
                                  f"{dataset.name}/{engine.name}")
            _close(engine)
        rows.append(_row(dataset, engine.name, describe(engine), run, spent, built,
                         len(dataset.queries), options, keep_runs))
    return rows


def sweep(settings: Sequence[Setting], dataset: Dataset, options: Options,
          make: Callable[[str, bool], Any], *, keep_best_run: bool = False,
          progress: Progress = _quiet) -> list[Row]:
    """One row per setting; ``make(stemmer, stopwords)`` gives a fresh searchlib engine, built
    once per analyzer and then searched with each k1/b/title_boost. Marks the best row."""
    rows: list[Row] = []
    best: Row | None = None
    k = fetch_depth(dataset, options.depth)
    done = 0
    for (stemmer, stopwords), group in analyzer_groups(settings).items():
        engine = make(stemmer, stopwords)
        with tempfile.TemporaryDirectory(prefix="searchlib-sweep-") as tmp:
            built = _build(engine, dataset, tmp, progress)
            for setting in group:
                done += 1
                engine.set_params(**setting.search_params())
                label = f"{dataset.name}: setting {done}/{len(settings)}"
                run, spent = retrieve(engine, dataset.queries, k, progress, label)
                row = _row(dataset, engine.name, setting.as_dict(), run, spent, built,
                           len(dataset.queries), options, keep_best_run)
                if best is None or row.scores[options.metrics[0]] > best.scores[options.metrics[0]]:
                    if best is not None:
                        best.run = None  # keep one run in memory, not one per setting
                    best = row
                elif keep_best_run:
                    row.run = None
                rows.append(row)
            _close(engine)
    return mark_best(rows, options.metrics[0])


def typos(engines: Sequence[Any], dataset: Dataset, options: Options, edits: int, seed: int,
          *, keep_runs: bool = False, progress: Progress = _quiet) -> list[Row]:
    """Clean queries, then a typo'd copy without and (for searchlib) with the fuzzy fallback.

    Clean and plain typo'd rows run with fuzzy off, so the third row shows exactly what the
    fallback recovers. Engines without a fuzzy fallback get the first two rows only.
    """
    rows = []
    k = fetch_depth(dataset, options.depth)
    typoed = typo_queries(dataset.queries, edits, seed)
    for engine in engines:
        variants: list[tuple[str, Mapping[str, str], bool]] = [
            (TYPO_LABELS[0], dataset.queries, False), (TYPO_LABELS[1], typoed, False)
        ]
        if hasattr(engine, "set_params"):
            variants.append((TYPO_LABELS[2], typoed, True))
        with tempfile.TemporaryDirectory(prefix="searchlib-typos-") as tmp:
            built = _build(engine, dataset, tmp, progress)
            for label, queries, fuzzy in variants:
                if hasattr(engine, "set_params"):
                    engine.set_params(fuzzy=fuzzy)
                run, spent = retrieve(engine, queries, k, progress,
                                      f"{dataset.name}/{engine.name} {label}")
                setting = {**describe(engine), "queries": label}
                rows.append(_row(dataset, engine.name, setting, run, spent, built, len(queries),
                                 options, keep_runs))
            _close(engine)
    return rows


def mark_best(rows: list[Row], metric: str) -> list[Row]:
    """Flag the top rows by ``metric`` within each (dataset, engine) group of several rows:
    rows tied at the top (equal to the 4 decimals the table shows) are all flagged, and none
    when every row ties (nothing won)."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.dataset, row.engine), []).append(row)
    for group in groups.values():
        if len(group) > 1:
            shown = [round(r.scores[metric], SHOWN_DECIMALS) for r in group]
            tied = [score == max(shown) for score in shown]
            for row, is_top in zip(group, tied):
                row.best = is_top and not all(tied)
    return rows


def means(rows: Sequence[Row], metric: str | None = None) -> list[Row]:
    """One row per configuration present on every dataset: metric means over the datasets
    (each dataset weighs the same, whatever its query count). Best marked by ``metric``."""
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    if len(datasets) < 2:
        return []
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.key(), []).append(row)
    label = f"mean of {len(datasets)}"
    out = []
    for group in groups.values():
        if len({r.dataset for r in group}) != len(datasets):
            continue
        n = len(group)
        out.append(replace(
            group[0], dataset=label, level="-", judged=sum(r.judged for r in group),
            scores={m: sum(r.scores[m] for r in group) / n for m in group[0].scores},
            index_seconds=sum(r.index_seconds for r in group),
            query_ms=sum(r.query_ms for r in group) / n, best=False, run=None,
        ))
    return mark_best(out, metric) if metric else out


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return value


def table(rows: Sequence[Row], metrics: Sequence[str], fmt: str = "table") -> str:
    """The report: ``table`` (plain text), ``markdown`` or ``json`` (tabulate imported here)."""
    if fmt == "json":
        return json.dumps({"metrics": list(metrics), "rows": [as_json(r) for r in rows]},
                          indent=2)
    from tabulate import tabulate

    keys = list(dict.fromkeys(key for row in rows for key in row.setting))
    headers = ["dataset", "engine", *keys, "judged", *metrics, "index s", "query ms", "best"]
    as_text = list(range(2 + len(keys))) if rows else []  # settings as written: 1.2, not 1.2000
    body = [
        [r.dataset, r.engine, *(_cell(r.setting.get(key, "")) for key in keys), r.judged,
         *(r.scores[m] for m in metrics), r.index_seconds, r.query_ms, "*" if r.best else ""]
        for r in rows
    ]
    style = "github" if fmt == "markdown" else "simple"
    return tabulate(body, headers=headers, tablefmt=style, floatfmt=f".{SHOWN_DECIMALS}f",
                    disable_numparse=as_text)


def as_json(row: Row) -> dict[str, Any]:
    """A row as plain JSON values (the run is left out: it goes to --run-out)."""
    return {
        "dataset": row.dataset, "engine": row.engine, "setting": row.setting,
        "level": row.level, "judged": row.judged, "scores": row.scores,
        "index_seconds": row.index_seconds, "query_ms": row.query_ms, "best": row.best,
    }


def run_tag(row: Row) -> str:
    """A one-word TREC run tag naming the engine and what distinguishes the row."""
    parts = [row.engine] + [f"{k}={_cell(v)}" for k, v in row.setting.items()]
    return "_".join(p.replace(" ", "").replace("'", "").replace("+", "") for p in parts)


def write_runs(rows: Sequence[Row], path: str | Path) -> list[Path]:
    """Write the kept runs: to ``path`` itself when there is one, else one file per row with
    the dataset and tag before the suffix (``out.cranfield.searchlib_....run``); two rows
    never share a file."""
    kept = [r for r in rows if r.run is not None]
    target = Path(path)
    written: list[Path] = []
    for row in kept:
        out = target
        if len(kept) > 1:
            name = f"{target.stem}.{row.dataset}.{run_tag(row)}"
            out = target.with_name(name + target.suffix)
            number = 1
            while out in written:
                number += 1
                out = target.with_name(f"{name}.{number}{target.suffix}")
        assert row.run is not None
        write_run(out, row.run, tag=run_tag(row))
        written.append(out)
    return written
