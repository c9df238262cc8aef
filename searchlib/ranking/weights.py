"""The compiled plan: a tree of weights (tantivy's Query → Weight → Scorer is the model).

A weight is what compiling one query node produced: its terms with their idf (read from the
collection statistics once per query), the fields it is matched on with their boosts, and
how many times the clause was repeated (`scale`). Bound to one segment by a `SegmentScorer`,
a weight gives (sorted paragraph ids, scores). `SegmentScorer.explain` runs the very same
code on the segment restricted to one paragraph and keeps a trace of each leaf's
contribution, so an explanation's total is the score by construction.

Fuzzy alternatives of one word score as the best of their terms (each weighted by
similarity), so a word with many variants does not outweigh the others. The words of a prefix
score as one word (`blended`): their tf summed, with the idf of the most frequent one, so a
rare word sharing the prefix does not outrank the common ones by its idf alone (as
Elasticsearch's top_terms_blended_freqs). A phrase scores its phrase frequency with the sum
of its terms' idf. A title match lends its score, times `title_boost`, to every paragraph of
the article.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..index.segment import Segment, expand_ranges
from .filters import FilterWeight, all_of
from .postings import EMPTY, Postings, blended_tf, intersect, member, phrase_matches, union
from .scoring import BM25, CollectionStats, avg_length, leaf_score


@dataclass(frozen=True)
class ExplainPart:
    """One leaf's contribution on one field to one paragraph's score."""

    field: str
    query: str  # the query word/phrase this part comes from
    term: str  # the indexed term (prefix words joined by " | ", phrase terms by spaces)
    df: int  # the term's document frequency (0 for a phrase: its idf sums its words')
    docs: int
    idf: float
    tf: float
    length: int
    avg_length: float
    weight: float  # field boost × similarity of a fuzzy alternative × repeats of the clause
    score: float


Parts = tuple[ExplainPart, ...]
Scored = tuple[np.ndarray, np.ndarray, Parts]  # postings, and their trace when explaining
_NOTHING: Scored = (EMPTY[0], EMPTY[1], ())
Fields = tuple[tuple[str, float], ...]  # (field, field weight)


@dataclass(frozen=True)
class TermWeight:
    """One query word: its term, or alternative terms (prefix/fuzzy) scored as the best one."""

    label: str
    fields: Fields
    terms: tuple[str, ...]
    weights: tuple[float, ...]  # similarity of each alternative (1 for the typed word)
    idfs: dict  # field -> tuple of idf per term
    dfs: dict  # field -> tuple of document frequency per term (for explanations)
    expanded: bool = False  # True if some terms are fuzzy/prefix expansions rather than typed
    blended: bool = False  # scored as one word: summed tf, one shared idf (prefix expansions)
    scale: float = 1.0  # how many times the clause was repeated (it counts that many times)
    cost: int = 0  # postings evaluation reads (title postings counted as their paragraphs)

    def field_scores(self, scorer: SegmentScorer, fld: str, weight: float) -> Scored:
        seg = scorer.seg
        if self.blended:
            docs, tf = scorer.restrict(fld, *blended_tf(seg, fld, self.terms))
            if not len(docs):
                return _NOTHING
            scores = scorer.leaf_scores(fld, self.idfs[fld][0], tf, docs, weight)
            parts: Parts = ()
            if scorer.explaining:
                words = " | ".join(t for t in self.terms if scorer.has(fld, t, int(docs[0])))
                parts = (scorer.part(fld, self.label, words, max(self.dfs[fld]),
                                     self.idfs[fld][0], tf, docs, weight, scores),)
            return docs, scores, parts
        pieces = []
        for term, w, term_idf, df in zip(self.terms, self.weights, self.idfs[fld],
                                         self.dfs[fld]):
            tid = seg.term_id(term)
            if tid < 0:
                continue
            docs, tf = scorer.restrict(fld, *seg.fields[fld].postings(tid))
            docs = docs.astype(np.int64)
            scores = scorer.leaf_scores(fld, w * term_idf, tf, docs, weight)
            parts = ()
            if scorer.explaining and len(docs):
                parts = (scorer.part(fld, self.label, term, df, term_idf, tf, docs, weight * w,
                                     scores),)
            pieces.append((docs, scores, parts))
        if len(pieces) == 1:  # one term: its postings as they are
            return pieces[0] if len(pieces[0][0]) else _NOTHING
        docs, scores, parts = _sum(pieces, np.maximum)
        return docs, scores, (max(parts, key=lambda p: p.score),) if parts else ()


@dataclass(frozen=True)
class PhraseWeight:
    """Words at fixed relative offsets (each within `slop` of where the first puts it)."""

    label: str
    fields: Fields
    terms: tuple[str, ...]
    offsets: tuple[int, ...]
    slop: int
    idfs: dict  # field -> summed idf
    scale: float = 1.0
    cost: int = 0

    def field_scores(self, scorer: SegmentScorer, fld: str, weight: float) -> Scored:
        found = phrase_matches(scorer.seg, fld, self.terms, self.offsets, self.slop,
                               scorer.within(fld))
        docs, freq = scorer.restrict(fld, *found)
        if not len(docs):
            return _NOTHING
        scores = scorer.leaf_scores(fld, self.idfs[fld], freq, docs, weight)
        parts: Parts = ()
        if scorer.explaining:
            parts = (scorer.part(fld, self.label, " ".join(self.terms), 0, self.idfs[fld], freq,
                                 docs, weight, scores),)
        return docs, scores, parts


@dataclass(frozen=True)
class BoolWeight:
    must: tuple = ()
    should: tuple = ()
    must_not: tuple = ()
    scale: float = 1.0


Weight = TermWeight | PhraseWeight | BoolWeight | FilterWeight


class SegmentScorer:
    """Weights bound to one segment, evaluated sparsely: sorted paragraph ids with scores.

    With `only` (a paragraph id) every leaf is restricted to that paragraph (or its article,
    for the title) and leaves a trace: that is `explain`, the same code as `evaluate`."""

    def __init__(self, seg: Segment, stats: CollectionStats, params: BM25,
                 only: int | None = None, article_scope: bool = False) -> None:
        self.seg = seg
        # article scope: clauses combine per article (AND over paragraphs of one article);
        # each leaf's paragraph matches are kept to pick each article's best paragraph
        self.article_scope = article_scope and only is None
        self._paragraph_pieces: list[Scored] = []
        self.stats = stats
        self.params = params
        self.explaining = only is not None
        self._only = {} if only is None else {"text": only, "title": int(seg.para_article[only])}
        self._avgdl: dict[str, float] = {}
        self.text_hits: list[np.ndarray] = []  # paragraphs whose own text matched a leaf
        self.title_hit = False  # some leaf matched through a title
        self._excluding = 0  # inside NOT: matches there are no reason to show a paragraph
        self._article_titles = False  # title pieces kept per article (`collapsed`)

    def evaluate(self, weight: Weight) -> Postings:
        docs, scores, _ = self._scored(weight)
        if self.article_scope:
            return self._best_paragraphs(docs, scores)
        return docs, scores

    def collapsed(self, weight: Weight, live: np.ndarray | None) -> Postings | None:
        """`evaluate` masked by `live` and collapsed as `collectors.collapse_title_only` does,
        for one leaf or an OR of leaves, without spreading title matches over their
        articles' paragraphs: the docs are the live paragraphs a text matched, plus the first
        paragraph of each live title-matched article none of whose paragraphs did; each
        one's score adds its pieces in the order `union` does (None: another shape)."""
        if isinstance(weight, BoolWeight):
            if weight.must or weight.must_not or not all(
                    isinstance(c, (TermWeight, PhraseWeight)) for c in weight.should):
                return None
            children, scale = weight.should, weight.scale
        elif isinstance(weight, (TermWeight, PhraseWeight)):
            children, scale = (weight,), 1.0
        else:
            return None
        if self.explaining or self.article_scope:
            return None
        self._article_titles = True
        try:
            pieces = [(p[0], p[1], f) for c in children
                      for p, (f, _) in zip(self._pieces(c), c.fields)]
        finally:
            self._article_titles = False
        if live is not None:
            pieces = [(d[live[d]], s[live[d]], f) if f == "text" else (d, s, f)
                      for d, s, f in pieces]
        titles = [d for d, _, f in pieces if f == "title" and len(d)]
        if titles:
            pieces = self._cut_titles(pieces, merged_ids(titles), live)
        docs, scores = union([(d, s) for d, s, _ in pieces])  # `evaluate`'s very sums
        return docs, scores * scale if scale != 1.0 else scores

    def _cut_titles(self, pieces: list, arts: np.ndarray, live: np.ndarray | None) -> list:
        """The pieces (live text; title per article) in paragraphs, cut to those the collapse
        keeps: the ones a text matched, and the first paragraph of each (live) title-matched
        article none of whose paragraphs did. Only the title-matched articles' ranges of
        the text pieces are read (no merge of the text pieces whole)."""
        seg = self.seg
        first = seg.art_first64
        arts = arts[first[arts + 1] > first[arts]]  # (an article without paragraphs)
        if live is not None:
            arts = arts[live[first[arts]]]  # deletions are per article
        starts, ends = first[arts], first[arts + 1]
        inside, said = [], np.zeros(len(arts), dtype=bool)
        for d, _, f in pieces:
            if f == "text" and len(d):
                lo = d.searchsorted(starts)
                counts = d.searchsorted(ends) - lo
                said |= counts > 0
                inside.append(d[expand_ranges(lo, counts)])
        docs = merged_ids([*inside, starts[~said]])  # the kept paragraphs of these articles
        owners = seg.para_article[docs].astype(np.int64)
        out = []
        for d, s, f in pieces:
            if f == "title" and len(d):
                lo = owners.searchsorted(d, side="left")
                counts = owners.searchsorted(d, side="right") - lo
                d, s = docs[expand_ranges(lo, counts)], s.repeat(counts)
            out.append((d, s, f))
        return out

    def _owner(self, docs: np.ndarray) -> np.ndarray:
        """The article of each document of the current scope."""
        return docs if self.article_scope else self.seg.para_article[docs]

    def _to_articles(self, piece: Scored) -> Scored:
        """A leaf's paragraph matches as article matches: each article's best score."""
        docs, scores, parts = piece
        if not len(docs):
            return piece
        arts = self.seg.para_article[docs].astype(np.int64)  # sorted, as docs are
        starts = np.flatnonzero(np.r_[True, arts[1:] != arts[:-1]])
        return arts[starts], np.maximum.reduceat(scores, starts), parts

    def _best_paragraphs(self, arts: np.ndarray, scores: np.ndarray) -> Postings:
        """Matched articles (with their scores) → each one's best paragraph by the query's
        positive words (its first paragraph when only filters or exclusions matched)."""
        if not len(arts):
            return EMPTY
        from .collectors import best_per_article

        seg = self.seg
        pdocs, pscores = EMPTY[0], EMPTY[1]
        if self._paragraph_pieces:
            pdocs, pscores, _ = _sum(self._paragraph_pieces)
            keep = member(seg.para_article[pdocs].astype(np.int64), arts)
            pdocs, pscores = best_per_article(seg, pdocs[keep], pscores[keep])
        missing = arts[~member(arts, seg.para_article[pdocs].astype(np.int64))]
        docs = np.sort(np.concatenate([pdocs.astype(np.int64), seg.art_first64[missing]]))
        return docs, scores[np.searchsorted(arts, seg.para_article[docs])]

    def explain(self, weight: Weight | None) -> tuple[float, list[ExplainPart]]:
        """(score, the leaf contributions it is the sum of) of the paragraph bound as `only`."""
        if weight is None:
            return 0.0, []
        docs, scores, parts = self._scored(weight)
        return (float(scores[0]), list(parts)) if len(docs) else (0.0, [])

    # -- what the weights call ---------------------------------------------------------------

    def restrict(self, fld: str, docs: np.ndarray, *columns: np.ndarray) -> tuple:
        """Sorted postings as they are, or (explaining) cut to the one document explained."""
        if not self.explaining:
            return (docs, *columns)
        doc = self._only[fld]
        i = int(np.searchsorted(docs, doc))
        cut = slice(i, i + 1) if i < len(docs) and docs[i] == doc else slice(0, 0)
        return (np.asarray(docs[cut], dtype=np.int64), *(c[cut] for c in columns))

    def within(self, fld: str) -> np.ndarray | None:
        """The sorted documents of `fld` this scorer sees, when it sees only some (None: all;
        `restrict` cuts any list to them, a phrase looks for its positions in them only)."""
        return None

    def leaf_scores(self, fld: str, idf_value: float, tf: np.ndarray, docs: np.ndarray,
                    weight: float) -> np.ndarray:
        return leaf_score(idf_value, tf, self.seg.fields[fld].length[docs], self.avgdl(fld),
                          self.params, weight)

    def avgdl(self, fld: str) -> float:
        if fld not in self._avgdl:
            self._avgdl[fld] = avg_length(self.stats, fld)
        return self._avgdl[fld]

    def part(self, fld: str, label: str, term: str, df: int, idf_value: float, tf: np.ndarray,
             docs: np.ndarray, weight: float, scores: np.ndarray) -> ExplainPart:
        """The trace of a leaf's contribution, from the arrays that scored it."""
        return ExplainPart(fld, label, term, int(df), self.stats.num_docs(fld), float(idf_value),
                           float(tf[0]), int(self.seg.fields[fld].length[docs[0]]),
                           self.avgdl(fld), weight, float(scores[0]))

    def has(self, fld: str, term: str, doc: int) -> bool:
        """Whether `term` occurs in document `doc` of field `fld`."""
        tid = self.seg.term_id(term)
        if tid < 0:
            return False
        docs, _ = self.seg.fields[fld].postings(tid)
        i = int(np.searchsorted(docs, doc))
        return i < len(docs) and docs[i] == doc

    # -- tree evaluation ---------------------------------------------------------------------

    def _scored(self, weight: Weight) -> Scored:
        if isinstance(weight, BoolWeight):
            docs, scores, parts = self._bool(weight)
            if weight.scale == 1.0:
                return docs, scores, parts
            return docs, scores * weight.scale, tuple(
                replace(p, weight=p.weight * weight.scale, score=p.score * weight.scale)
                for p in parts)
        return _sum(self._pieces(weight))

    def _pieces(self, weight: Weight) -> list[Scored]:
        """Pieces whose sum is the node's result: one per field of a leaf. An OR of leaves
        merges all its children's pieces in one pass instead of merging twice."""
        if isinstance(weight, BoolWeight):
            return [self._scored(weight)]
        if isinstance(weight, FilterWeight):  # matches its articles' paragraphs, scores 0
            docs = (np.flatnonzero(weight.articles(self.seg)) if self.article_scope
                    else self.restrict("text", weight.paragraphs(self.seg))[0])
            return [(docs, np.zeros(len(docs)), ())]
        pieces = []
        for fld, field_weight in weight.fields:
            docs, scores, parts = weight.field_scores(self, fld, field_weight * weight.scale)
            if not self._excluding and len(docs):
                if fld == "text":
                    self.text_hits.append(docs)
                else:
                    self.title_hit = True
            if fld == "title" and len(docs) and not self._article_titles:  # → paragraphs
                first = self.seg.art_first64
                counts = first[docs + 1] - first[docs]
                docs = expand_ranges(first[docs], counts)
                scores = np.repeat(scores, counts)
                if self.explaining:
                    docs, scores = self.restrict("text", docs, scores)
            pieces.append((docs, scores, parts))
        if self.article_scope:
            if not self._excluding:
                self._paragraph_pieces += pieces
            return [self._to_articles(p) for p in pieces]
        return pieces

    def _bool(self, weight: BoolWeight) -> Scored:
        result: Scored | None = None
        required = all_of(c for c in weight.must if isinstance(c, FilterWeight))
        excluded = [c for c in weight.must_not if isinstance(c, FilterWeight)]
        scored = [c for c in weight.must if not isinstance(c, FilterWeight)]
        for child in sorted(scored, key=_cost):
            docs, scores, parts = self._scored(child)
            if result is None:
                result = (docs, scores, parts)
            else:
                common, i, j = intersect(result[:2], (docs, scores))
                result = (common, result[1][i] + scores[j], result[2] + parts)
            if not len(result[0]):
                return _NOTHING
        if weight.should:
            should = _sum([part for c in weight.should for part in self._pieces(c)])
            if result is None:
                result = should
            elif len(should[0]):
                idx = np.searchsorted(should[0], result[0])
                idx[idx == len(should[0])] = 0
                found = should[0][idx] == result[0]
                result = (result[0], result[1] + np.where(found, should[1][idx], 0.0),
                          result[2] + should[2] if found.any() else result[2])
        if result is None and required is not None:  # filters alone: their paragraphs
            result = self._pieces(required)[0]
        elif result is not None and required is not None and len(result[0]):
            result = _masked(result, required.articles(self.seg)[self._owner(result[0])])
        if result is None:  # only exclusions: nothing to match
            return _NOTHING
        if excluded and len(result[0]):
            banned_articles = np.logical_or.reduce([c.articles(self.seg) for c in excluded])
            result = _masked(result, ~banned_articles[self._owner(result[0])])
        others = [c for c in weight.must_not if not isinstance(c, FilterWeight)]
        if others and len(result[0]):
            self._excluding += 1
            banned = _sum([part for c in others for part in self._pieces(c)])[0]
            self._excluding -= 1
            keep = ~member(result[0], banned)
            result = (result[0][keep], result[1][keep], result[2] if keep.all() else ())
        return result


def merged_ids(runs: list[np.ndarray]) -> np.ndarray:
    """The sorted union of sorted runs of ids (a stable sort of sorted runs merges them)."""
    runs = [r for r in runs if len(r)]
    if len(runs) < 2:
        return runs[0] if runs else EMPTY[0]
    docs = np.sort(np.concatenate(runs), kind="stable")
    new = np.empty(len(docs), dtype=bool)
    new[0] = True
    np.not_equal(docs[1:], docs[:-1], out=new[1:])
    return docs[new]


def _masked(result: Scored, keep: np.ndarray) -> Scored:
    return result[0][keep], result[1][keep], result[2] if keep.all() else ()


def _sum(pieces: list[Scored], reduce=np.add) -> Scored:
    docs, scores = union([(d, s) for d, s, _ in pieces], reduce)
    return docs, scores, tuple(p for _, _, parts in pieces for p in parts)


def _cost(weight: Weight) -> int:
    """Evaluate cheap (leaf) clauses of a conjunction first, so it can stop early."""
    return 1 if isinstance(weight, BoolWeight) else 0


# -- the tree as a whole -----------------------------------------------------------------------


def leaves(weight: Weight | None) -> Iterator[TermWeight | PhraseWeight]:
    """Every leaf of the tree, once per place it occurs."""
    if isinstance(weight, BoolWeight):
        for child in weight.must + weight.should + weight.must_not:
            yield from leaves(child)
    elif weight is not None and not isinstance(weight, FilterWeight):
        yield weight


def without(weight: Weight | None, dropped: set[int]) -> Weight | None:
    """The tree minus the leaves whose id() is in `dropped` (and groups left empty)."""
    if weight is None or id(weight) in dropped:
        return None
    if not isinstance(weight, BoolWeight):
        return weight
    must, should, must_not = (tuple(p for c in group if (p := without(c, dropped)) is not None)
                              for group in (weight.must, weight.should, weight.must_not))
    if not (must or should) and (weight.must or weight.should):
        return None
    return BoolWeight(must, should, must_not, weight.scale)


def positive_terms(weight: Weight | None) -> set[str]:
    """Terms that can make a paragraph's text match (what highlighting marks in it); a
    `title:` word matched the title, so it is not marked in the paragraph."""
    if weight is None or isinstance(weight, FilterWeight):
        return set()
    if isinstance(weight, BoolWeight):
        out: set[str] = set()
        for child in weight.must + weight.should:
            out |= positive_terms(child)
        return out
    return set(weight.terms) if any(f == "text" for f, _ in weight.fields) else set()
