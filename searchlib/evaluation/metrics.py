"""Ranking metrics computed exactly as trec_eval (via pytrec_eval / ir_measures) computes them.

Conventions copied from trec_eval so numbers are comparable with published ones:

* a run is ranked by score descending, ties broken by docid descending (trec_eval's qsort
  comparator; ir_measures' pytrec_eval provider inherits it);
* a document is relevant when its grade is >= 1; nDCG uses the grade itself as gain (negative
  grades count as 0) with discount ``log2(rank + 1)`` and the ideal ranking taken from qrels;
* metrics without a cutoff (``AP``, ``RR``, ``nDCG``) look at the top 1000 (TREC's
  ``trec_eval -M1000``), so ``AP`` is MAP to depth 1000 (= ir_measures ``AP@1000``);
* averages are over the queries in qrels; a judged query missing from the run scores 0, a run
  query absent from qrels is ignored.

Names follow ir_measures: ``nDCG@10``, ``AP``, ``AP@100``, ``RR@10``, ``P@10``, ``R@100``...
and are read in any case (``ndcg@10`` is ``nDCG@10``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from searchlib.evaluation.common import Qrels, Run
from searchlib.evaluation.errors import EvaluationError

DEFAULT_DEPTH = 1000
DEFAULT_METRICS: tuple[str, ...] = ("nDCG@10", "AP", "RR@10", "P@10", "R@100", "R@1000")

_NAME = re.compile(r"^(?P<kind>nDCG|AP|RR|P|R)(?:@(?P<cutoff>[1-9][0-9]*))?$", re.I)
_KINDS = {kind.lower(): kind for kind in ("nDCG", "AP", "RR", "P", "R")}
_NEEDS_CUTOFF = {"P", "R"}


@dataclass(frozen=True)
class Metric:
    """A parsed metric name: ``kind`` in nDCG/AP/RR/P/R and the rank ``depth`` it looks at."""

    name: str
    kind: str
    depth: int


def parse_metric(name: str) -> Metric:
    """Parse an ir_measures-style name in any case; ``name`` comes back spelled as
    ir_measures does. P and R need a cutoff, the others default to 1000."""
    match = _NAME.match(name.strip())
    kind = _KINDS[match["kind"].lower()] if match else ""
    if match is None or (kind in _NEEDS_CUTOFF and match["cutoff"] is None):
        raise EvaluationError(
            f"unknown metric {name!r} (use nDCG@k, AP, AP@k, RR, RR@k, P@k or R@k)"
        )
    depth = int(match["cutoff"]) if match["cutoff"] else DEFAULT_DEPTH
    return Metric(kind + (f"@{match['cutoff']}" if match["cutoff"] else ""), kind, depth)


def metric_names(names: Iterable[str]) -> tuple[str, ...]:
    """The names as ir_measures spells them, each once, in the order given."""
    return tuple(dict.fromkeys(parse_metric(name).name for name in names))


def rank(scores: Mapping[str, float]) -> list[str]:
    """Docids best first: score descending, then docid descending (trec_eval's tie-break)."""
    ordered = sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    return [docid for docid, _ in ordered]


def _num_relevant(judged: Mapping[str, int]) -> int:
    return sum(1 for grade in judged.values() if grade >= 1)


def ndcg(ranked: Sequence[str], judged: Mapping[str, int], depth: int) -> float:
    """DCG of the top ``depth`` over the DCG of the ideal top ``depth`` (gain = grade)."""
    gains = (max(judged.get(docid, 0), 0) for docid in ranked[:depth])
    dcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(gains))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:depth]
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def average_precision(ranked: Sequence[str], judged: Mapping[str, int], depth: int) -> float:
    """Mean of precision at each relevant rank within ``depth``, over all relevant docs."""
    total = _num_relevant(judged)
    if total == 0:
        return 0.0
    hits, precision_sum = 0, 0.0
    for i, docid in enumerate(ranked[:depth], start=1):
        if judged.get(docid, 0) >= 1:
            hits += 1
            precision_sum += hits / i
    return precision_sum / total


def reciprocal_rank(ranked: Sequence[str], judged: Mapping[str, int], depth: int) -> float:
    """1 / rank of the first relevant doc within ``depth`` (0 if none)."""
    for i, docid in enumerate(ranked[:depth], start=1):
        if judged.get(docid, 0) >= 1:
            return 1.0 / i
    return 0.0


def precision(ranked: Sequence[str], judged: Mapping[str, int], depth: int) -> float:
    """Relevant docs in the top ``depth`` divided by ``depth`` (even if fewer were retrieved)."""
    return sum(1 for docid in ranked[:depth] if judged.get(docid, 0) >= 1) / depth


def recall(ranked: Sequence[str], judged: Mapping[str, int], depth: int) -> float:
    """Share of the relevant docs found in the top ``depth`` (0 when nothing is relevant)."""
    total = _num_relevant(judged)
    found = sum(1 for docid in ranked[:depth] if judged.get(docid, 0) >= 1)
    return found / total if total else 0.0


_FUNCTIONS: dict[str, Callable[[Sequence[str], Mapping[str, int], int], float]] = {
    "nDCG": ndcg,
    "AP": average_precision,
    "RR": reciprocal_rank,
    "P": precision,
    "R": recall,
}


def evaluate_per_query(
    run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS
) -> dict[str, dict[str, float]]:
    """qid -> metric -> value for every query in qrels (queries missing from the run get 0)."""
    parsed = [parse_metric(name) for name in metric_names(metrics)]
    results: dict[str, dict[str, float]] = {}
    for qid, judged in qrels.items():
        ranked = rank(run.get(qid, {}))
        results[qid] = {m.name: _FUNCTIONS[m.kind](ranked, judged, m.depth) for m in parsed}
    return results


def evaluate(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each metric over the judged queries (those in qrels), as trec_eval reports it."""
    names = list(metric_names(metrics))
    if not qrels:
        raise EvaluationError("no judged queries: qrels are empty")
    per_query = evaluate_per_query(run, qrels, names)
    return {name: sum(v[name] for v in per_query.values()) / len(per_query) for name in names}
