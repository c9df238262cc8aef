"""Turn a paragraph-level run into an article-level one (MaxP, FirstP, SumP).

Article-level qrels (Cranfield & co.) judge whole documents, while engines here rank
paragraphs; these are the standard passage-to-document aggregations (Dai & Callan, 2019).
"""

from __future__ import annotations

from typing import Literal

from searchlib.evaluation.common import Run, split_paragraph_id
from searchlib.evaluation.errors import EvaluationError

Method = Literal["MaxP", "FirstP", "SumP"]
METHODS: tuple[Method, ...] = ("MaxP", "FirstP", "SumP")


def aggregate_scores(paragraphs: dict[str, float], method: Method = "MaxP") -> dict[str, float]:
    """Article scores from one query's paragraph scores.

    MaxP: best paragraph score (so articles are ordered by their best paragraph).
    FirstP: score of the lowest-numbered *retrieved* paragraph (only retrieved ones have a score).
    SumP: sum of retrieved paragraph scores (favours articles with many matching paragraphs).
    Docids without a ``#n`` suffix count as the article itself (paragraph 0 for FirstP).
    """
    if method not in METHODS:
        raise EvaluationError(f"unknown aggregation {method!r} (use MaxP, FirstP or SumP)")
    scores: dict[str, float] = {}
    first: dict[str, int] = {}
    for docid, score in paragraphs.items():
        parsed = split_paragraph_id(docid)
        article, number = parsed if parsed is not None else (docid, 0)
        if article not in scores:
            scores[article], first[article] = score, number
        elif method == "MaxP":
            scores[article] = max(scores[article], score)
        elif method == "SumP":
            scores[article] += score
        elif number < first[article]:
            scores[article], first[article] = score, number
    return scores


def aggregate(run: Run, method: Method = "MaxP") -> Run:
    """Apply ``aggregate_scores`` to every query of a paragraph-level run."""
    return {qid: aggregate_scores(paragraphs, method) for qid, paragraphs in run.items()}
