"""The library facade: `Index`, `SearchResults`, `Hit` — what embedding users import.

Search is stages: parse (query) → compile to a plan over one snapshot (ranking) → score
segments → materialize the top hits with highlight spans. When words are unknown or too
few paragraphs match, the fuzzy fallback compiles the query again with expansions; hits
only the expanded query found are flagged `fuzzy`.
"""

from __future__ import annotations

import operator
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import fuzzy as fuzzy_mod
from . import highlight
from .analysis import STEMMERS
from .budget import DEFAULT_BUDGET, QueryBudget, Spend
from .errors import CorruptIndex, InvalidArgument, SearchlibError
from .index.snapshot import Snapshot
from .index.storage import MANIFEST
from .query import capped, listing, parse, stopwords_warning
from .ranking import (
    BM25,
    FEW,
    BoolPlan,
    Compiler,
    PhraseLeaf,
    TermLeaf,
    blended_tf,
    member,
    phrase_matches,
    run,
)
from .ranking import positive_terms as _positive_terms
from .ranking import tf_weight as _tf_weight

if TYPE_CHECKING:
    from .index.writer import UpdateReport

MIN_HITS = FEW  # below this many matching paragraphs the fuzzy fallback is tried
DEFAULT_K1, DEFAULT_B, DEFAULT_TITLE_BOOST = BM25.k1, BM25.b, BM25.title_boost


@dataclass
class Hit:
    article_id: str
    title: str
    paragraph: int  # 1-based within the article
    score: float
    text: str
    spans: list[tuple[int, int]]
    fuzzy: bool = False
    source: str = ""
    _ref: tuple[int, int, int] = field(default=(0, 0, 0), repr=False, compare=False)


@dataclass
class SearchResults:
    query: str
    hits: list[Hit]
    total: int  # matching paragraphs (all of them, not only the k returned)
    warnings: list[str] = field(default_factory=list)
    did_you_mean: str | None = None
    took_ms: float = 0.0
    fuzzy: bool = False  # the fuzzy fallback (or a term~) took part

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


@dataclass(frozen=True)
class ExplainPart:
    field: str
    query: str  # the query word/phrase this part comes from
    term: str  # the indexed term (or phrase terms joined by spaces)
    df: int
    docs: int
    idf: float
    tf: float
    length: int
    avg_length: float
    weight: float  # field boost × similarity weight of a fuzzy/prefix alternative
    score: float


@dataclass
class Explanation:
    score: float
    parts: list[ExplainPart]
    k1: float
    b: float

    def __str__(self) -> str:
        lines = [f"score {self.score:.4f} = sum of (BM25 k1={self.k1:g} b={self.b:g}):"]
        for p in self.parts:
            lines.append(
                f"  {p.score:8.4f}  {p.field}:{p.term!r} (from {p.query!r})  idf={p.idf:.4f} "
                f"[N={p.docs}, df={p.df}]  tf={p.tf:g}  len={p.length} avg={p.avg_length:.1f}"
                + (f"  weight={p.weight:.3f}" if p.weight != 1.0 else "")
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class IndexStats:
    path: str
    articles: int
    paragraphs: int
    vocabulary: int
    segments: int
    bytes: int
    generation: int
    analyzer: dict
    top_terms: list[tuple[str, int]]


class Index:
    """An on-disk index. Reads are from an immutable snapshot; `update` commits atomically."""

    def __init__(self, root: str | os.PathLike, *, k1: float = DEFAULT_K1, b: float = DEFAULT_B,
                 title_boost: float = DEFAULT_TITLE_BOOST, verify: bool = True,
                 budget: QueryBudget = DEFAULT_BUDGET) -> None:
        """Open the latest commit at `root`. With verify=True (the default) every file is
        checked against its checksum first (~2 ms per MB), so damage is an error, never
        silently wrong results; pass verify=False to open very large indexes faster.
        `budget` caps the work one query may cause (see searchlib.budget)."""
        self.root = Path(root)
        self.params = _checked(BM25(k1, b, title_boost))
        self.budget = budget
        self.verify = verify
        self.snapshot = Snapshot(self.root, verify)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def roots(self) -> list[str]:
        """The files and folders this index was built from (what `update` re-syncs)."""
        return list(self.snapshot.manifest.get("roots") or [])

    @staticmethod
    def exists(root: str | os.PathLike) -> bool:
        """Whether `root` holds a committed searchlib index (without opening it)."""
        from .cluster.layout import is_cluster

        return (Path(root) / MANIFEST).is_file() or is_cluster(root)

    @classmethod
    def open(cls, root: str | os.PathLike, **params) -> Index:
        """The index at `root`; a `ShardedIndex` (same API) if it holds cluster.json."""
        from .cluster.layout import is_cluster

        if is_cluster(root):
            from . import cluster

            return cluster.ShardedIndex(root, **params)
        return cls(root, **params)

    @classmethod
    def build(cls, paths, root: str | os.PathLike, *, stemmer: str = "snowball",
              stopwords: bool = True, warn=None, progress=None, **params) -> Index:
        """Index `paths` from scratch into `root` (replacing an existing searchlib index)."""
        _check_stemmer(stemmer)
        from .index.writer import IndexWriter  # the writer is not needed to search

        IndexWriter(Path(root), rebuild=True, stemmer=stemmer, stopwords=stopwords).update(
            _as_list(paths), warn=warn, progress=progress
        )
        return cls(root, **params)

    @classmethod
    def create_or_update(cls, paths, root: str | os.PathLike, *, rebuild: bool = False,
                         stemmer: str | None = None, warn=None, progress=None,
                         prune_missing: bool = False, **params) -> tuple[Index, UpdateReport]:
        from .index.writer import IndexWriter  # the writer is not needed to search

        if stemmer is not None:
            _check_stemmer(stemmer)
        report = IndexWriter(Path(root), rebuild=rebuild, stemmer=stemmer,
                             prune_missing=prune_missing).update(
            _as_list(paths), warn=warn, progress=progress
        )
        return cls(root, **params), report

    def update(self, paths, *, warn=None, progress=None,
               prune_missing: bool = False) -> UpdateReport:
        """Add new files, re-index changed ones, drop deleted ones; then see the new commit.

        Articles from a folder or file that cannot be read now (permissions, a missing root
        such as an unmounted drive) are kept and listed in `report.kept_subtrees`, unless
        `prune_missing=True`, which drops them."""
        from .index.writer import IndexWriter

        report = IndexWriter(self.root, prune_missing=prune_missing).update(
            _as_list(paths), warn=warn, progress=progress)
        self.refresh()
        return report

    def refresh(self) -> None:
        """Move to the latest commit (searches in progress keep their snapshot)."""
        self.snapshot = Snapshot(self.root, self.verify)

    def close(self) -> None:
        """Release the index's open files (also done when the Index is garbage collected)."""
        self.snapshot.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching ---------------------------------------------------------------------------

    def _params(self, k1, b, title_boost) -> BM25:
        p = self.params
        return _checked(BM25(p.k1 if k1 is None else k1, p.b if b is None else b,
                             p.title_boost if title_boost is None else title_boost))

    def _plan(self, query: str, snap: Snapshot, params: BM25, strict: bool,
              default_operator: str, fuzzy: bool, k: int, per_article: bool = False):
        parsed = parse(query, default_operator=default_operator, strict=strict,
                       max_chars=self.budget.max_chars)
        spend = Spend(self.budget)  # shared by this search's compiles
        first = Compiler(snap, params, spend=spend)
        plan = first.compile(parsed.root)
        ranked = first_run = run(snap, plan, params, k, per_article)
        # the parser's "… and N more" line is left out: capped() counts again with ours
        warnings = [*parsed.warnings[: len(parsed.warnings) - (parsed.omitted > 0)],
                    *first.state.warnings, *stopwords_warning(first.state.stopwords)]
        limits = dict(first.state.limits)  # the caps of the budget the query hit
        state = first.state
        if fuzzy and parsed.root is not None and (state.unknown or ranked.total < MIN_HITS):
            wide = Compiler(snap, params, expand_unknown=True, expand_rare=True, spend=spend)
            wide_plan = wide.compile(parsed.root)
            if wide.state.expanded:  # its plan answers: its figures are the ones to show
                limits.update(wide.state.limits)
                plan, state = wide_plan, wide.state
                ranked = run(snap, plan, params, k, per_article)
            for cap, message in wide.state.limits.items():  # e.g. why no typo was fixed
                limits.setdefault(cap, message)
        exact_docs = None  # per segment: paragraphs the query matches without expansions
        if state.expanded:
            if first.state.expanded:  # word~ in the query: match it as the plain word
                first_run = run(snap, Compiler(snap, params, spend=spend).compile(
                    _unfuzz(parsed.root)), params, 1)
            exact_docs = first_run.matched
        warnings = [*limits.values(), *warnings]  # caps first: capped() keeps the first lines
        return parsed, plan, state, ranked, warnings, exact_docs

    def search(self, query: str, k: int = 10, *, strict: bool = False,
               default_operator: str = "OR", fuzzy: bool = True, k1: float | None = None,
               b: float | None = None, title_boost: float | None = None,
               articles: bool = False) -> SearchResults:
        """Rank paragraphs for `query`. Lenient by default: never raises on query syntax;
        with strict=True a malformed query raises QuerySyntaxError (with its position).

        `articles=True` returns the best paragraph of each of the top k articles instead,
        and `total` then counts matching articles rather than paragraphs."""
        k = _check_k(k)
        _check_operator(default_operator)
        self._params(k1, b, title_boost)  # validates them
        return self._search(query, k, strict, default_operator, fuzzy, k1, b, title_boost,
                            articles)

    def _search(self, query, k, strict, default_operator, fuzzy, k1, b, title_boost,
                articles) -> SearchResults:
        t0 = time.perf_counter()
        snap = self.snapshot
        params = self._params(k1, b, title_boost)
        parsed, plan, state, ranked, warnings, exact_docs = self._plan(
            query, snap, params, strict, default_operator, fuzzy, k, articles
        )
        terms = _positive_terms(plan)
        hits = []
        for si, pid, score in ranked.entries[:k]:
            hit = self._hit(snap, si, pid, score, terms)
            if exact_docs is not None:
                hit.fuzzy = not bool(member(np.array([pid]), exact_docs[si])[0])
            hits.append(hit)
        did_you_mean = None
        if state.corrections:
            did_you_mean = query
            for raw, word in state.corrections.items():
                # the typed word itself, not the same letters inside another word
                did_you_mean = re.sub(rf"(?<!\w){re.escape(raw)}(?!\w)", lambda _m, w=word: w,
                                      did_you_mean, count=1)
        if parsed.root is not None and plan is not None and state.unknown and not ranked.total:
            warnings.append(f"no paragraph contains: {listing(state.unknown)}")
        return SearchResults(
            query=query, hits=hits, total=ranked.total, warnings=capped(warnings, parsed.omitted),
            did_you_mean=did_you_mean, took_ms=(time.perf_counter() - t0) * 1000,
            fuzzy=exact_docs is not None,
        )

    def rank(self, query: str, k: int = 10, *, default_operator: str = "OR", fuzzy: bool = True,
             k1: float | None = None, b: float | None = None, title_boost: float | None = None,
             articles: bool = False) -> list[tuple[str, int, float]]:
        """(article_id, paragraph, score) of the top k, best first: `search` without building
        hits (no text, no highlighting), for evaluation and bulk ranking. Lenient parsing."""
        k = _check_k(k)
        _check_operator(default_operator)
        snap = self.snapshot
        params = self._params(k1, b, title_boost)
        ranked = self._plan(query, snap, params, False, default_operator, fuzzy, k, articles)[3]
        out = []
        for si, pid, score in ranked.entries[:k]:
            seg, ai, paragraph = _locate(snap, si, pid)
            out.append((seg.articles[ai][0], paragraph, score))
        return out

    def _hit(self, snap: Snapshot, si: int, pid: int, score: float, terms: set[str]) -> Hit:
        seg, ai, paragraph = _locate(snap, si, pid)
        art_id, title, source = seg.articles[ai]
        text = seg.paragraph_text(pid)
        return Hit(
            article_id=art_id, title=title, paragraph=paragraph,
            score=score, text=text, spans=highlight.spans(snap.analyzer, text, terms),
            source=source, _ref=(snap.generation, si, pid),
        )

    def explain(self, query: str, hit: Hit, *, default_operator: str = "OR", fuzzy: bool = True,
                k1: float | None = None, b: float | None = None,
                title_boost: float | None = None, articles: bool = False) -> Explanation:
        """Why `hit` scored what it did: idf, tf and length normalization per matched term."""
        snap = self.snapshot
        gen, si, pid = hit._ref
        if gen != snap.generation:
            raise SearchlibError("the index changed since this hit was found; search again")
        params = self._params(k1, b, title_boost)
        _, plan, _, _, _, _ = self._plan(query, snap, params, False, default_operator, fuzzy, 1,
                                         articles)
        _, parts = _explain_node(snap, snap.segments[si], plan, pid, params)
        return Explanation(sum(p.score for p in parts), parts, params.k1, params.b)

    # -- browsing ----------------------------------------------------------------------------

    def article_of(self, hit: Hit) -> tuple[str, list[str]]:
        """(title, paragraphs) of the very article `hit` came from (ids may repeat)."""
        gen, si, pid = hit._ref
        snap = self.snapshot
        if gen != snap.generation:
            return self.article(hit.article_id)
        seg = snap.segments[si]
        ai = int(seg.para_article[pid])
        lo, hi = int(seg.art_first[ai]), int(seg.art_first[ai + 1])
        return seg.articles[ai][1], [seg.paragraph_text(p) for p in range(lo, hi)]

    def article(self, article_id: str) -> tuple[str, list[str]]:
        """(title, paragraphs) of an article, for showing a hit in context."""
        for seg in self.snapshot.segments:
            for ai, (aid, title, _src) in enumerate(seg.articles):
                if aid == article_id and (seg.deleted is None or not seg.deleted[ai]):
                    lo, hi = int(seg.art_first[ai]), int(seg.art_first[ai + 1])
                    return title, [seg.paragraph_text(p) for p in range(lo, hi)]
        raise SearchlibError(f"no article {article_id!r} in the index")

    def complete(self, prefix: str, limit: int = 20) -> list[str]:
        """Index words starting with `prefix`, most frequent first (for shell completion)."""
        word = self.snapshot.analyzer.normalize(prefix)
        if not word:
            return []
        terms, surfaces = self.snapshot.vocabulary
        found = [(s, df) for t, s in zip(terms, surfaces)
                 if s.startswith(word) and (df := self.snapshot.doc_freq(t))]  # live words
        return [s for s, _ in sorted(found, key=lambda sd: -sd[1])[:limit]]

    def stats(self, top: int = 10) -> IndexStats:
        snap = self.snapshot
        terms, surfaces = snap.vocabulary
        # Candidates: each segment's most frequent terms; then exact live document counts.
        candidates: set[str] = set()
        for seg in snap.segments:
            counts = np.diff(np.asarray(seg.fields["text"].ptr))
            candidates.update(seg.vocab[i] for i in np.argsort(-counts, kind="stable")[: top * 3])
        ranked = sorted(((snap.doc_freq(t), t) for t in candidates), key=lambda dt: (-dt[0], dt[1]))
        top_terms = [(fuzzy_mod.surface_of(snap, t), df) for df, t in ranked[:top] if df]
        return IndexStats(
            path=str(self.root), articles=snap.articles, paragraphs=snap.paragraphs,
            vocabulary=len(terms), segments=len(snap.segments), bytes=snap.size,
            generation=snap.generation, analyzer=dict(snap.manifest["analyzer"]),
            top_terms=top_terms,
        )

    def check(self) -> list[str]:
        """Verify every file of this index's commit against its checksum; [] means OK.

        It checks the commit this Index opened (call `refresh()` first for the latest), from
        the files it opened: a writer committing meanwhile cannot make it report damage."""
        return self.snapshot.check()


def _check_k(k) -> int:
    """k as an int: a float or a string is a mistake to report, not to round."""
    try:
        k = operator.index(k)
    except TypeError:
        raise InvalidArgument(f"k must be a whole number, not {k!r}") from None
    if k < 1:
        raise InvalidArgument(f"k must be at least 1, not {k}")
    return k


def _check_operator(default_operator) -> None:
    if not isinstance(default_operator, str) or default_operator.upper() not in ("AND", "OR"):
        raise InvalidArgument(f"default_operator must be 'AND' or 'OR', not {default_operator!r}")


def _check_stemmer(stemmer) -> None:
    if stemmer not in STEMMERS:
        raise InvalidArgument(f"unknown stemmer {stemmer!r} (choose from {', '.join(STEMMERS)})")


def _checked(params: BM25) -> BM25:
    """BM25 parameters in range (NaN fails every comparison, so it is rejected too)."""
    if not (params.k1 >= 0 and 0 <= params.b <= 1 and params.title_boost >= 0):
        raise InvalidArgument(f"BM25 parameters out of range: k1={params.k1} (≥ 0), "
                              f"b={params.b} (0..1), title_boost={params.title_boost} (≥ 0)")
    return params


def _has(seg, fld: str, term: str, doc: int) -> bool:
    """Whether `term` occurs in document `doc` of field `fld` of the segment."""
    tid = seg.term_id(term)
    if tid < 0:
        return False
    docs, _ = seg.fields[fld].postings(tid)
    i = int(np.searchsorted(docs, doc))
    return i < len(docs) and docs[i] == doc


def _locate(snap: Snapshot, si: int, pid: int):
    """(segment, article ordinal, 1-based paragraph number) of paragraph `pid` of segment si."""
    seg = snap.segments[si]
    ai = int(seg.para_article[pid])
    return seg, ai, pid - int(seg.art_first[ai]) + 1


def _as_list(paths) -> list:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


def _unfuzz(node):
    """The query with `word~` read as the plain word (to tell which hits are fuzzy-only)."""
    from .query import Bool, Fuzzy, Term

    if isinstance(node, Fuzzy):
        return Term(node.text, node.field)
    if isinstance(node, Bool):
        return Bool(tuple(map(_unfuzz, node.must)), tuple(map(_unfuzz, node.should)),
                    tuple(map(_unfuzz, node.must_not)))
    return node


def _explain_node(snap, seg, plan, pid: int, params) -> tuple[bool, list[ExplainPart]]:
    """(does `plan` match paragraph `pid`, the parts its score is made of) — following the
    same rules as evaluation, so a clause that does not match contributes nothing."""
    if plan is None:
        return False, []
    ok, parts = _explain_unscaled(snap, seg, plan, pid, params)
    if plan.scale != 1.0:  # a repeated clause counts once per copy
        parts = [replace(p, weight=p.weight * plan.scale, score=p.score * plan.scale)
                 for p in parts]
    return ok, parts


def _explain_unscaled(snap, seg, plan, pid: int, params) -> tuple[bool, list[ExplainPart]]:
    if isinstance(plan, BoolPlan):
        parts: list[ExplainPart] = []
        for child in plan.must:
            ok, sub = _explain_node(snap, seg, child, pid, params)
            if not ok:
                return False, []
            parts += sub
        any_should = False
        for child in plan.should:
            ok, sub = _explain_node(snap, seg, child, pid, params)
            if ok:
                any_should = True
                parts += sub
        if not plan.must and not any_should:
            return False, []
        if any(_explain_node(snap, seg, c, pid, params)[0] for c in plan.must_not):
            return False, []
        return True, parts
    parts = []
    for fld, fweight in plan.fields:
        doc = pid if fld == "text" else int(seg.para_article[pid])
        part = _explain_leaf(snap, seg, plan, fld, fweight, doc, params)
        if part is not None:
            parts.append(part)
    return bool(parts), parts


def _explain_leaf(snap, seg, leaf, fld, fweight, doc, params) -> ExplainPart | None:
    fp = seg.fields[fld]
    stats = snap.stats[fld]
    length = int(fp.length[doc])
    if isinstance(leaf, PhraseLeaf):
        docs, freq = phrase_matches(seg, fld, leaf.terms, leaf.offsets, leaf.slop)
        i = int(np.searchsorted(docs, doc))
        if i >= len(docs) or docs[i] != doc:
            return None
        tf = float(freq[i])
        tfw = float(_tf_weight(np.array([tf]), np.array([length]), stats.avg_length,
                               params.k1, params.b)[0])
        idf_v = leaf.idfs[fld]  # a phrase's idf is the sum of its terms' idf (as Lucene)
        df = 0
        for other in snap.segments:
            found, _ = phrase_matches(other, fld, leaf.terms, leaf.offsets, leaf.slop)
            live = snap.live_mask(other, fld)
            df += len(found) if live is None else int(live[found].sum())
        return ExplainPart(fld, leaf.label, " ".join(leaf.terms), df, stats.docs, idf_v, tf,
                           length, stats.avg_length, fweight, fweight * idf_v * tfw)
    assert isinstance(leaf, TermLeaf)
    if leaf.blended:  # prefix words count as one word: tf summed, one idf
        docs, tfs = blended_tf(seg, fld, leaf.terms)
        i = int(np.searchsorted(docs, doc))
        if i >= len(docs) or docs[i] != doc:
            return None
        tf = float(tfs[i])
        idf_v = leaf.idfs[fld][0]
        tfw = float(_tf_weight(np.array([tf]), np.array([length]), stats.avg_length,
                               params.k1, params.b)[0])
        words = [t for t in leaf.terms if _has(seg, fld, t, doc)]
        df = max(snap.doc_freq(t, fld) for t in leaf.terms)
        return ExplainPart(fld, leaf.label, " | ".join(words), df, stats.docs, idf_v, tf,
                           length, stats.avg_length, fweight, fweight * idf_v * tfw)
    best = None
    for term, w, idf_v in zip(leaf.terms, leaf.weights, leaf.idfs[fld]):
        tid = seg.term_id(term)
        if tid < 0:
            continue
        docs, tfs = fp.postings(tid)
        i = int(np.searchsorted(docs, doc))
        if i >= len(docs) or docs[i] != doc:
            continue
        tf = float(tfs[i])
        tfw = float(_tf_weight(np.array([tf]), np.array([length]), stats.avg_length,
                               params.k1, params.b)[0])
        part = ExplainPart(fld, leaf.label, term, snap.doc_freq(term, fld), stats.docs, idf_v,
                           tf, length, stats.avg_length, fweight * w, fweight * w * idf_v * tfw)
        if best is None or part.score > best.score:
            best = part
    return best


def __getattr__(name: str):
    """`UpdateReport` on demand: importing the writer (and corpus readers) costs a one-shot
    search time it does not need."""
    if name == "UpdateReport":
        from .index.writer import UpdateReport

        return UpdateReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Index", "Hit", "SearchResults", "Explanation", "ExplainPart", "IndexStats",
           "UpdateReport", "CorruptIndex"]
