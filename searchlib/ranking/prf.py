"""RM3 pseudo-relevance feedback (opt-in): the query is expanded with the terms most likely
under a relevance model estimated from the first search's top paragraphs, and run again.

P(w|R) = Σ_d P(w|d)·s(d) over the top `fb_docs` paragraphs d, P(w|d) = tf/length (stored
text, analyzed as the index analyzed it) and s(d) their scores normalized to sum 1; its
`fb_terms` most likely terms, renormalized, are added to the query as ordinary BM25 leaves,
weighted (1 − original_weight)·P(w|R)·(number of query words), the query itself
by `original_weight` (RM3's interpolation, with BM25 scoring the expanded query as Anserini
does). An OR query may then match paragraphs through expansion terms alone; a query with
required parts (AND, NOT, filters) keeps them required.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import InvalidArgument
from ..index.snapshot import Snapshot
from .collectors import ScoredHit
from .compiler import Compiler
from .weights import BoolWeight, TermWeight, Weight


@dataclass(frozen=True)
class Feedback:
    """RM3's parameters: paragraphs fed back, terms added, weight of the original query.
    The defaults are the best mean nDCG@10 of `searchlib bench --prf --sweep` over Cranfield,
    NPL, CACM and MED (see the README)."""

    fb_docs: int = 3
    fb_terms: int = 20
    original_weight: float = 0.7

    def __post_init__(self) -> None:
        if not (self.fb_docs >= 1 and self.fb_terms >= 1 and 0 <= self.original_weight <= 1):
            raise InvalidArgument("feedback needs fb_docs ≥ 1, fb_terms ≥ 1 and 0 ≤ original_weight"
                             f" ≤ 1 (got {self.fb_docs}, {self.fb_terms}, "
                             f"{self.original_weight})")


def relevance_model(snap: Snapshot, hits: Sequence[ScoredHit],
                    fb: Feedback) -> list[tuple[str, float]]:
    """The `fb_terms` most likely (term, P(w|R)) of the top `fb_docs` hits, summing to 1."""
    top = [h for h in hits[: fb.fb_docs] if h.score > 0]
    total = sum(h.score for h in top)
    model: Counter[str] = Counter()
    for hit in top:
        seg = snap.segments[hit.address.segment]
        terms = [t for t in snap.analyzer.terms(seg.paragraph_text(hit.address.paragraph))
                 if t is not None and len(t) > 1 and not t.isdigit()]
        if not terms:
            continue
        share = hit.score / total / len(terms)
        for term, tf in Counter(terms).items():
            model[term] += tf * share
    best = sorted(model.items(), key=lambda item: (-item[1], item[0]))[: fb.fb_terms]
    mass = sum(p for _, p in best)
    return [(term, p / mass) for term, p in best] if mass else []


def expand(weight: Weight, model: Sequence[tuple[str, float]], n_words: int,
           compiler: Compiler, fb: Feedback) -> Weight:
    """The query's plan interpolated with the relevance model's terms (labelled `prf:term`,
    so an explanation names them)."""
    fields = compiler.fields(None)
    extra = []
    for term, p in model:
        idfs = {f: (compiler.idf(term, f),) for f, _ in fields}
        dfs = {f: (compiler.df(term, f),) for f, _ in fields}
        if not any(dfs[f][0] for f, _ in fields):
            continue
        extra.append(TermWeight(f"prf:{term}", fields, (term,), (1.0,), idfs, dfs,
                                scale=(1 - fb.original_weight) * p * max(n_words, 1)))
    base = replace(weight, scale=weight.scale * fb.original_weight)
    pure_or = isinstance(weight, TermWeight) or (
        isinstance(weight, BoolWeight) and not weight.must and not weight.must_not)
    if pure_or:
        return BoolWeight(should=(base, *extra))
    return BoolWeight(must=(base,), should=tuple(extra))
