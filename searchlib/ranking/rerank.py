"""Term proximity as a second stage: the exact first stage's top `depth` paragraphs get a
bonus when the query's words occur close together, and are sorted again.

The bonus is BM25TP's (Rasolofo and Savoy, ECIR 2003): walking a paragraph's query-word
occurrences in position order, each two neighbouring occurrences of different words at most
`WINDOW` positions apart add 1/distance² to that pair's frequency; the pair frequency is
saturated like a term frequency (BM25's k1 and length normalization) and weighted by the
smaller idf of the two words. A re-ranker behind the exact top-N, not a change of the first
stage's scores, so pruning that stage stays exact; it reads positions only for those N
paragraphs (`postings.positions_in`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArgument
from ..index.segment import Segment
from .collectors import ScoredHit
from .filters import FilterWeight
from .postings import positions_in
from .scoring import BM25, tf_weight
from .weights import BoolWeight, ExplainPart, PhraseWeight, TermWeight, Weight

_KEY_SHIFT = np.int64(1) << np.int64(32)
WINDOW = 5  # positions: farther apart, two words are not "close" (BM25TP's window)


@dataclass(frozen=True)
class Proximity:
    """The proximity stage's parameters: `weight` scales the bonus (0 turns it off), `depth`
    is how many first-stage hits are re-ranked."""

    weight: float = 1.0
    depth: int = 100

    def __post_init__(self) -> None:
        if not (0 <= self.weight < 1e6 and self.depth >= 1):
            raise InvalidArgument(f"proximity needs weight ≥ 0 and depth ≥ 1 (got {self.weight}, "
                             f"{self.depth})")


# Off until the benchmark says otherwise (see the README's ranking-quality section).
DEFAULT_PROXIMITY: Proximity | None = None

@dataclass(frozen=True)
class Word:
    """One query word as proximity sees it: its terms (a fuzzy word's alternatives count as
    the word) and its idf."""

    label: str
    terms: tuple[str, ...]
    idf: float


def query_words(weight: Weight | None) -> tuple[Word, ...]:
    """The positive words of a plan that are matched in paragraph text (not inside NOT, not
    `title:` only), each once; a phrase's words count one by one."""
    found: dict[tuple[str, ...], Word] = {}

    def walk(node: Weight | None) -> None:
        if isinstance(node, BoolWeight):
            for child in node.must + node.should:
                walk(child)
        elif isinstance(node, (TermWeight, PhraseWeight)) and any(
                f == "text" for f, _ in node.fields):
            if isinstance(node, TermWeight):
                value = max(w * i for w, i in zip(node.weights, node.idfs["text"]))
                found.setdefault(node.terms, Word(node.label, node.terms, float(value)))
            else:
                share = float(node.idfs["text"]) / len(node.terms)
                for term in node.terms:
                    found.setdefault((term,), Word(term, (term,), share))
        elif node is not None and not isinstance(node, FilterWeight):
            raise TypeError(f"unknown weight {type(node).__name__}")

    walk(weight)
    return tuple(found.values())


def proximity_scores(seg: Segment, docs: np.ndarray, words: Sequence[Word], params: BM25,
                     avgdl: float, prox: Proximity) -> tuple[np.ndarray, np.ndarray]:
    """(bonus, summed pair frequencies) per paragraph of the sorted ids `docs` of one
    segment."""
    docs = np.asarray(docs, dtype=np.int64)
    zero = np.zeros(len(docs))
    if len(words) < 2 or not len(docs) or prox.weight == 0:
        return zero, zero
    owners, positions, ids = [], [], []
    for wid, word in enumerate(words):
        for term in word.terms:
            owner, pos = positions_in(seg, "text", term, docs)
            owners.append(owner)
            positions.append(pos)
            ids.append(np.full(len(owner), wid, dtype=np.int64))
    owner, pos, wid = (np.concatenate(a) for a in (owners, positions, ids))
    order = np.argsort(owner * _KEY_SHIFT + pos, kind="stable")
    owner, pos, wid = owner[order], pos[order], wid[order]
    # neighbouring occurrences of two different words, at most WINDOW apart, in one paragraph
    gap = pos[1:] - pos[:-1]
    near = (owner[1:] == owner[:-1]) & (wid[1:] != wid[:-1]) & (gap <= WINDOW)
    left = np.flatnonzero(near)
    n = len(words)
    first, second = np.minimum(wid[left], wid[left + 1]), np.maximum(wid[left], wid[left + 1])
    cells = (owner[left] * n + first) * n + second
    tpi = 1.0 / np.maximum(gap[left], 1).astype(np.float64) ** 2
    freq = np.bincount(cells, weights=tpi, minlength=len(docs) * n * n).reshape(len(docs), n * n)
    idfs = np.array([w.idf for w in words])
    pair_weight = np.minimum.outer(idfs, idfs).reshape(-1)
    lengths = np.repeat(seg.fields["text"].length[docs][:, None], n * n, axis=1)
    saturated = tf_weight(freq, lengths, avgdl, params.k1, params.b)
    return prox.weight * (saturated * pair_weight).sum(axis=1), freq.sum(axis=1)


def rerank(segments: Sequence[Segment], hits: Sequence[ScoredHit], words: Sequence[Word],
           params: BM25, avgdl: float, prox: Proximity) -> list[ScoredHit]:
    """The hits with their proximity bonus added, sorted again (ties: shard, segment,
    paragraph, as the collectors break them)."""
    if len(words) < 2 or prox.weight == 0:
        return list(hits)
    bonus = np.zeros(len(hits))
    by_segment: dict[int, list[int]] = {}
    for i, hit in enumerate(hits):
        by_segment.setdefault(hit.address.segment, []).append(i)
    for ordinal, rows in by_segment.items():
        docs = np.array([hits[i].address.paragraph for i in rows], dtype=np.int64)
        order = np.argsort(docs)
        values, _ = proximity_scores(segments[ordinal], docs[order], words, params, avgdl,
                                     prox)
        bonus[np.asarray(rows)[order]] = values
    scored = [ScoredHit(h.address, h.score + float(b), h.fuzzy) for h, b in zip(hits, bonus)]
    return sorted(scored, key=lambda h: (-h.score, h.address.shard, h.address.segment,
                                         h.address.paragraph))


def explain_part(seg: Segment, paragraph: int, words: Sequence[Word], params: BM25,
                 avgdl: float, n_docs: int, prox: Proximity) -> ExplainPart | None:
    """The proximity bonus of one paragraph as an explanation line (None when it is 0)."""
    bonus, acc = proximity_scores(seg, np.array([paragraph]), words, params, avgdl, prox)
    if not bonus[0]:
        return None
    return ExplainPart("text", "proximity", " ~ ".join(w.label for w in words), 0, n_docs,
                       0.0, float(acc[0]), int(seg.fields["text"].length[paragraph]), avgdl,
                       prox.weight, float(bonus[0]))
