"""BM25 as small pure functions, and the statistics it reads behind an interface.

Score of a paragraph = Σ over matched positive leaves and fields of
    weight · idf · tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl))
    idf = ln(1 + (N − df + 0.5)/(df + 0.5))
`leaf_score` is the one place that formula is applied: evaluation and explanations both call
it. N, avgdl and df come from a `CollectionStats`, not from the segments being scored, so a
sharded index can give every shard the same global statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class BM25:
    """Ranking parameters. The defaults were chosen by `searchlib bench --sweep` over
    Cranfield, NPL, CACM and MED: the best mean nDCG@10 and MAP of the settings tried."""

    k1: float = 0.8
    b: float = 0.5
    title_boost: float = 0.5


class CollectionStats(Protocol):
    """What BM25 needs to know about the whole collection (tantivy's Bm25StatisticsProvider):
    per field, the live documents and their total length, and a term's document frequency.
    `index.snapshot.Snapshot` implements it over its segments' live documents."""

    def num_docs(self, field: str) -> int: ...

    def total_length(self, field: str) -> int: ...

    def doc_freq(self, term: str, field: str) -> int: ...


def avg_length(stats: CollectionStats, field: str) -> float:
    """Average document length of a field (0 for an empty collection)."""
    docs = stats.num_docs(field)
    return stats.total_length(field) / docs if docs else 0.0


def idf(n_docs: int, df: int | np.ndarray) -> float | np.ndarray:
    """Lucene's BM25 idf: always positive, even for terms in most documents."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def tf_weight(tf: np.ndarray, dl: np.ndarray, avgdl: float, k1: float, b: float) -> np.ndarray:
    """Saturating tf with length normalization (the part of BM25 that depends on the document)."""
    tf, dl = _float_operand(tf), _float_operand(dl)
    norm = k1 * (1.0 - b + b * (dl / (avgdl or 1.0)))
    return tf * (k1 + 1.0) / (tf + norm)


def _float_operand(values) -> np.ndarray:
    """`values` as an operand computing in float64: an integer array as it is (each ufunc
    converts it exactly, in the same pass), anything else converted first."""
    if isinstance(values, np.ndarray) and (values.dtype.kind in "iu"
                                           or values.dtype == np.float64):
        return values
    return np.asarray(values, dtype=np.float64)


def leaf_score(idf_value: float, tf: np.ndarray, dl: np.ndarray, avgdl: float, params: BM25,
               weight: float = 1.0) -> np.ndarray:
    """One leaf's contribution on one field, per document: weight · idf · tf_weight."""
    scores = idf_value * tf_weight(tf, dl, avgdl, params.k1, params.b)
    return weight * scores if weight != 1.0 else scores
