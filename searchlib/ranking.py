"""BM25 ranking: small scoring functions, a plan compiled from the query tree, dense evaluation.

Compiling resolves everything that needs global knowledge (analysis, prefix and fuzzy
expansion, document frequencies → idf) once per query; evaluation then runs per segment
on numpy arrays: no Python loop ever touches individual postings.

Score of a paragraph = Σ over matched positive leaves of
    weight · idf · tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl))
    idf = ln(1 + (N − df + 0.5)/(df + 0.5))
with N and avgdl over live paragraphs (text field) or live articles (title field, whose score
a paragraph inherits from its article). Phrases use the phrase frequency as tf and the sum of
their terms' idf. Fuzzy expansions of one word score as the best of their terms (each
weighted by similarity) so a word with many variants does not outweigh the others. The words
of a prefix score as one word (`blended`): their tf summed, with the idf of the most frequent
one, so a rare word that happens to share the prefix (COMMUNISMO for communis*) does not
outrank the common words people mean by its idf alone (as Elasticsearch's
top_terms_blended_freqs rewrite).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from . import fuzzy as fz
from .budget import DEFAULT_BUDGET, Spend
from .index.segment import Segment, expand_ranges
from .index.snapshot import Snapshot
from .query import Bool, Fuzzy, Node, Phrase, Prefix, Term, shown

MAX_PREFIX_TERMS = 128
# The fuzzy fallback's one threshold: when a word is unknown or the query matches fewer than
# FEW paragraphs, every word found in fewer than FEW paragraphs is searched with close words.
FEW = 3
_KEY_SHIFT = np.int64(1) << np.int64(32)
_POS_BIAS = np.int64(1) << np.int64(24)


# -- scoring functions -------------------------------------------------------------------------


@dataclass(frozen=True)
class BM25:
    """Ranking parameters. The defaults were chosen by `searchlib bench --sweep` over
    Cranfield, NPL, CACM and MED: the best mean nDCG@10 and MAP of the settings tried."""

    k1: float = 0.8
    b: float = 0.5
    title_boost: float = 0.5


def idf(n_docs: int, df: int | np.ndarray) -> float | np.ndarray:
    """Lucene's BM25 idf: always positive, even for terms in most documents."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def tf_weight(tf: np.ndarray, dl: np.ndarray, avgdl: float, k1: float, b: float) -> np.ndarray:
    """Saturating tf with length normalization (the part of BM25 that depends on the document)."""
    tf = np.asarray(tf, dtype=np.float64)
    norm = k1 * (1.0 - b + b * (np.asarray(dl, dtype=np.float64) / (avgdl or 1.0)))
    return tf * (k1 + 1.0) / (tf + norm)


# -- plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermLeaf:
    """One query word: its term, or alternative terms (prefix/fuzzy) scored as the best one."""

    label: str
    fields: tuple[tuple[str, float], ...]  # (field, field weight)
    terms: tuple[str, ...]
    weights: tuple[float, ...]
    idfs: dict  # field -> tuple of idf per term
    expanded: bool = False  # True if some terms are fuzzy/prefix expansions rather than typed
    blended: bool = False  # scored as one word: summed tf, one shared idf (prefix expansions)
    scale: float = 1.0  # how many times the clause was repeated (it counts that many times)
    cost: int = 0  # postings evaluation reads (title postings counted as their paragraphs)


@dataclass(frozen=True)
class PhraseLeaf:
    label: str
    fields: tuple[tuple[str, float], ...]
    terms: tuple[str, ...]
    offsets: tuple[int, ...]
    slop: int
    idfs: dict  # field -> summed idf
    scale: float = 1.0
    cost: int = 0


@dataclass(frozen=True)
class BoolPlan:
    must: tuple = ()
    should: tuple = ()
    must_not: tuple = ()
    scale: float = 1.0


Plan = TermLeaf | PhraseLeaf | BoolPlan


@dataclass
class CompileState:
    """What compiling learned about the query: for warnings, did-you-mean and highlighting."""

    unknown: list[str] = field(default_factory=list)  # typed words absent from the index
    corrections: dict[str, str] = field(default_factory=dict)  # typed word -> suggested word
    expanded: bool = False
    warnings: list[str] = field(default_factory=list)
    stopwords: list[str] = field(default_factory=list)  # ignored words: one warning names them
    limits: dict[str, str] = field(default_factory=dict)  # caps of the budget hit -> warning


class Compiler:
    def __init__(self, snap: Snapshot, params: BM25, *, expand_unknown: bool = False,
                 expand_rare: bool = False, spend: Spend | None = None) -> None:
        """`spend`: the budget of the search this compile is part of (default: a fresh one
        with the default caps)."""
        self.snap = snap
        self.params = params
        self.analyzer = snap.analyzer
        self.expand_unknown = expand_unknown
        self.expand_rare = expand_rare
        self.state = CompileState()
        self.spend = spend if spend is not None else Spend(DEFAULT_BUDGET)
        self.negated = 0  # inside how many NOTs
        self._df: dict[tuple[str, str], int] = {}
        # Equal clauses are one plan object, evaluated once; the objects stay alive here, so
        # their id() can key the groups holding them.
        self._plans: dict[tuple, Plan] = {}
        self._memo: dict[tuple[Node, bool], Plan | None] = {}
        stats = snap.stats
        self._title_fanout = stats["text"].docs / max(stats["title"].docs, 1)

    def df(self, term: str, fld: str) -> int:
        key = (term, fld)
        if key not in self._df:
            self._df[key] = self.snap.doc_freq(term, fld)
        return self._df[key]

    def idf(self, term: str, fld: str) -> float:
        return float(idf(self.snap.stats[fld].docs, self.df(term, fld)))

    def reach(self, term: str, fields: tuple[tuple[str, float], ...]) -> int:
        """How many live paragraphs a word matches, through their text or their article's
        title (exact below FEW, which is all the fuzzy fallback asks)."""
        names = {f for f, _ in fields}
        text_df = self.df(term, "text") if "text" in names else 0
        if "title" not in names or text_df >= FEW:
            return text_df
        if self.df(term, "title") >= FEW:  # every article has a paragraph
            return FEW
        n = 0
        for seg in self.snap.segments:
            tid = seg.term_id(term)
            if tid < 0:
                continue
            arts = np.asarray(seg.fields["title"].postings(tid)[0], dtype=np.int64)
            first = seg.art_first64
            paras = expand_ranges(first[arts], first[arts + 1] - first[arts])
            if "text" in names:
                paras = np.concatenate([paras, seg.fields["text"].postings(tid)[0]])
                paras.sort()
                paras = paras[np.r_[True, paras[1:] != paras[:-1]]]  # (np.unique imports np.ma)
            live = seg.live_paragraphs
            n += len(paras) if live is None else int(np.count_nonzero(live[paras]))
        return n

    def fields(self, fld: str | None) -> tuple[tuple[str, float], ...]:
        """(field, weight) pairs a leaf is matched and scored on.

        A plain word matches paragraph text, or (with title_boost > 0) the article's title,
        which then lends each of its paragraphs a share of the title's score; measured on
        four test collections, that beats title-as-a-boost-only by 0.007 nDCG@10. Inside NOT
        only the text counts: `russia NOT ukraine` must not drop every paragraph of an
        article whose title says Ukraine."""
        if fld in ("text", "title"):
            return ((fld, 1.0),)
        if self.params.title_boost > 0 and not self.negated:
            return (("text", 1.0), ("title", self.params.title_boost))
        return (("text", 1.0),)

    def compile(self, node: Node | None) -> Plan | None:
        """The plan of a whole query, within the budget (its warnings in state.limits)."""
        self.spend.start()
        plan = self._fit(self._node(node))
        self.state.limits.update(self.spend.warnings)
        return plan

    def _node(self, node: Node | None) -> Plan | None:
        """Equal clauses compile to one plan object: leaves are memoized by their query
        node (cheap to hash), groups by the identity of their compiled children."""
        if node is None:
            return None
        if isinstance(node, Bool):
            if not self.spend.clause():
                return None
            must = self._clauses(node.must)
            should = self._clauses(node.should)
            self.negated += 1
            must_not = self._clauses(node.must_not, scored=False)
            self.negated -= 1
            if not (must or should or must_not):
                return None
            key = ("bool", *(tuple(map(id, g)) for g in (must, should, must_not)))
            return self._plans.setdefault(key, BoolPlan(must, should, must_not))
        key = (node, self.negated > 0)  # inside NOT a word matches the text only
        if key not in self._memo:
            self._memo[key] = self._leaf_node(node) if self.spend.clause() else None
        return self._memo[key]

    def _leaf_node(self, node: Node) -> Plan | None:
        if isinstance(node, Phrase):
            return self._phrase(node.text, node.field, node.slop)
        if isinstance(node, Prefix):
            return self._prefix(node)
        if isinstance(node, Fuzzy):
            return self._word(node.text, node.field, forced_edits=node.edits, forced=True)
        if isinstance(node, Term):
            return self._word(node.text, node.field)
        raise TypeError(f"unknown query node {node!r}")

    def _clauses(self, nodes: tuple[Node, ...], scored: bool = True) -> tuple[Plan, ...]:
        """Compile each distinct clause once. A repeated one (`oil oil`, or `Oil oil`, which
        compile to the same leaf) counted once per copy before, so it keeps that weight as
        its `scale`; evaluating it once keeps `said said …` from costing memory per copy."""
        merged: dict[int, list] = {}
        for node in nodes:
            plan = self._node(node)
            if plan is not None:
                merged.setdefault(id(plan), [plan, 0])[1] += 1
        return tuple(self._scaled(plan, n) if scored else plan for plan, n in merged.values())

    def _scaled(self, plan: Plan, copies: int) -> Plan:
        if copies == 1:
            return plan
        key = ("scaled", id(plan), copies)
        if key not in self._plans:
            self._plans[key] = replace(plan, scale=plan.scale * copies)
        return self._plans[key]

    def _cost(self, terms, fields) -> int:
        """Postings evaluation reads for these terms (a title posting fans out to the
        paragraphs of its article)."""
        fanout = {"text": 1.0, "title": self._title_fanout}
        return int(sum(self.df(t, f) * fanout[f] for f, _ in fields for t in terms))

    def _leaf(self, label: str, fld: str | None, terms: list[str], weights: list[float],
              expanded: bool, blended: bool = False) -> TermLeaf:
        fields = self.fields(fld)
        key = ("term", fields, tuple(terms), tuple(weights), expanded, blended)
        if key not in self._plans:
            if blended:  # one idf for all: that of the most frequent term (the blend's df)
                top = {f: max(self.df(t, f) for t in terms) for f, _ in fields}
                idfs = {f: (float(idf(self.snap.stats[f].docs, top[f])),) * len(terms)
                        for f, _ in fields}
            else:
                idfs = {f: tuple(self.idf(t, f) for t in terms) for f, _ in fields}
            self._plans[key] = TermLeaf(label, fields, tuple(terms), tuple(weights), idfs,
                                         expanded, blended=blended,
                                         cost=self._cost(terms, fields))
        return self._plans[key]

    def _expand(self, word: str, term: str, edits: int, limit: int = fz.MAX_EXPANSIONS,
                typo_df: int | None = None) -> list[tuple[str, float]]:
        """fuzzy.expand (fuzzy.corrections for a typo: `typo_df` is the typed word's df)
        within the budget: long words and words beyond the first few that asked for it are
        not compared with the vocabulary."""
        if edits <= 0:
            return []
        limit = min(limit, self.spend.expansion_room(word + "~"))
        key = (word, term, edits, limit, typo_df)
        if key not in self.spend.looked_up:
            if not limit or not self.spend.fuzzy(word):
                return []
            self.spend.looked_up[key] = (
                fz.expand(word, term, self.snap, edits, limit=limit) if typo_df is None
                else fz.corrections(word, term, self.snap, edits, typo_df, limit=limit))
        found = self.spend.looked_up[key]
        self.spend.expansions += len(found)
        return found

    def _fit(self, plan: Plan | None) -> Plan | None:
        """Drop the most frequent leaves until the plan reads at most max_postings."""
        limit = self.spend.budget.max_postings
        occurrences = list(_leaves(plan))
        leaves = {id(leaf): leaf for leaf in occurrences}
        copies = Counter(map(id, occurrences))  # a leaf object may sit in several groups
        total = sum(leaf.cost for leaf in occurrences)
        if total <= limit:
            return plan
        dropped: set[int] = set()
        left = total
        for key in sorted(copies, key=lambda k: -leaves[k].cost * copies[k]):
            if left <= limit:
                break
            dropped.add(key)
            left -= leaves[key].cost * copies[key]
        labels = list(dict.fromkeys(leaves[k].label for k in copies if k in dropped))
        listed = ", ".join(f"'{shown(w)}'" for w in labels[:3]) + (", …" if len(labels) > 3
                                                                   else "")
        self.spend.warn("postings", f"query would read {total:,} postings (limit {limit:,}); "
                        f"left out {len(labels)} of its most frequent words: {listed}")
        return _without(plan, dropped)

    def _word(self, raw: str, fld: str | None, forced_edits: int | None = None,
              forced: bool = False) -> Plan | None:
        tokens = self.analyzer.tokens(raw)
        terms = [t.term for t in tokens if t.term is not None]
        if not terms:
            self.state.stopwords.append(raw)
            return None
        if len(tokens) > 1:  # jong-un, U.S., foo:bar → a phrase of the parts
            if forced:
                self.state.warnings.append(
                    f"'{shown(raw)}~': fuzzy matching applies to single words; "
                    "searched as the exact phrase")
            return self._phrase(raw, fld, 0)
        return self._single(raw, terms[0], self.analyzer.normalize(raw), fld, forced_edits, forced)

    def _single(self, raw: str, term: str, word: str, fld: str | None,
                forced_edits: int | None = None, forced: bool = False) -> Plan:
        fields = self.fields(fld)
        df = sum(self.df(term, f) for f, _ in fields)
        if df == 0 and not forced:
            self.state.unknown.append(raw)
        # Never widen an exclusion: `zebra -stripes` must not also drop paragraphs on "strip".
        fallback = (self.expand_unknown and df == 0) or (
            self.expand_rare and self.reach(term, fields) < FEW)
        want = forced or (fallback and not self.negated)
        if want:
            max_edits = (forced_edits if forced_edits is not None
                         else fz.max_edits(word, forced, unknown=df == 0))
            if df and not forced:  # a rare word that exists: only its nearest neighbours
                max_edits = min(max_edits, 1)
            found = self._expand(word, term, max_edits, typo_df=None if forced else df)
            found = [(t, w) for t, w in found if t != term]
            if found:
                self.state.expanded = True
                if not forced:  # word~ asked for fuzzy: nothing to suggest
                    self._suggest(raw, df, found)
                terms_w = ([(term, 1.0)] if df else []) + found
                return self._leaf(raw, fld, [t for t, _ in terms_w], [w for _, w in terms_w], True)
        return self._leaf(raw, fld, [term], [1.0], False)

    def _suggest(self, raw: str, df: int, found: list[tuple[str, float]]) -> None:
        """Did you mean: for an unknown word its closest word (the most frequent among equally
        close ones); for a rare one a close word that is not rare (Volker → Volcker)."""
        if df == 0:
            best = max(found, key=lambda tw: (tw[1], self.df(tw[0], "text")))[0]
        else:
            best = max((t for t, _ in found), key=lambda t: self.df(t, "text"))
            if self.df(best, "text") < FEW:
                return
        self.state.corrections[raw] = fz.match_case(raw, fz.surface_of(self.snap, best))

    def _prefix(self, node: Prefix) -> Plan | None:
        """The index words starting with what was typed, mapped to their terms; the most
        frequent ones if there are too many. They are scored as one word (see `blended`)."""
        word = self.analyzer.normalize(node.text)
        if not word:
            return None
        label = node.text + "*"
        limit = min(MAX_PREFIX_TERMS, self.spend.expansion_room(label))
        if not limit:
            return None
        fields = self.fields(node.field)
        dfs = {t: sum(self.df(t, f) for f, _ in fields) for t in fz.prefix_terms(self.snap, word)}
        found = sorted((t for t, df in dfs.items() if df), key=lambda t: (-dfs[t], t))
        if not found:
            self.state.unknown.append(label)
            return self._leaf(label, node.field, [word], [1.0], False)
        if len(found) > limit:
            found = found[:limit]
            self.state.warnings.append(
                f"'{shown(node.text)}*' matches many words; using the {limit} most frequent"
            )
        self.spend.expansions += len(found)
        return self._leaf(label, node.field, found, [1.0] * len(found), True, blended=True)

    def _phrase(self, raw: str, fld: str | None, slop: int) -> Plan | None:
        tokens = [t for t in self.analyzer.tokens(raw) if t.term is not None]
        if not tokens:
            self.state.warnings.append(f'"{shown(raw)}" has only stopwords and is ignored')
            return None
        most = self.spend.budget.max_phrase_terms
        if len(tokens) > most:
            tokens = tokens[:most]
            self.spend.warn(f"phrase {raw}", f'"{shown(raw)}" has more than {most} words; '
                            f"only its first {most} are matched")
        if len(tokens) == 1:
            tok = tokens[0]
            word = self.analyzer.normalize(raw[tok.start:tok.end])
            return self._single(raw, tok.term, word, fld)
        base = tokens[0].position
        terms = tuple(t.term for t in tokens)
        offsets = tuple(t.position - base for t in tokens)
        fields = self.fields(fld)
        unknown = [i for i, t in enumerate(terms) if sum(self.df(t, f) for f, _ in fields) == 0]
        if unknown:
            self.state.unknown.append(raw)
        if unknown and self.expand_unknown and not self.negated:
            # A typo inside a phrase: search the phrase with the closest index word instead
            # (hits are then flagged fuzzy, and the correction becomes "did you mean").
            fixed = list(terms)
            for i in unknown:
                typed = raw[tokens[i].start:tokens[i].end]
                word = self.analyzer.normalize(typed)
                found = self._expand(word, terms[i], fz.max_edits(word), limit=1, typo_df=0)
                if not found:
                    break
                fixed[i] = found[0][0]
                self.state.corrections[typed] = fz.match_case(
                    typed, fz.surface_of(self.snap, found[0][0]))
            else:
                self.state.expanded = True
                terms = tuple(fixed)
        key = ("phrase", fields, terms, offsets, slop)
        if key not in self._plans:
            idfs = {f: sum(self.idf(t, f) for t in terms) for f, _ in fields}
            self._plans[key] = PhraseLeaf(raw, fields, terms, offsets, slop, idfs,
                                           cost=self._cost(terms, fields))
        return self._plans[key]


def _leaves(plan: Plan | None):
    """Every leaf of the plan, once per place it occurs."""
    if isinstance(plan, BoolPlan):
        for child in plan.must + plan.should + plan.must_not:
            yield from _leaves(child)
    elif plan is not None:
        yield plan


def _without(plan: Plan | None, dropped: set[int]) -> Plan | None:
    """The plan minus the leaves whose id() is in `dropped` (and groups left empty)."""
    if plan is None or id(plan) in dropped:
        return None
    if not isinstance(plan, BoolPlan):
        return plan
    must, should, must_not = (tuple(p for c in group if (p := _without(c, dropped)) is not None)
                              for group in (plan.must, plan.should, plan.must_not))
    if not (must or should) and (plan.must or plan.should):
        return None
    return BoolPlan(must, should, must_not, plan.scale)


def positive_terms(plan: Plan | None) -> set[str]:
    """Terms that can make a paragraph's text match (what highlighting marks in it); a
    `title:` word matched the title, so it is not marked in the paragraph."""
    if plan is None:
        return set()
    if isinstance(plan, BoolPlan):
        out: set[str] = set()
        for child in plan.must + plan.should:
            out |= positive_terms(child)
        return out
    return set(plan.terms) if any(f == "text" for f, _ in plan.fields) else set()


# -- evaluation ----------------------------------------------------------------------------------


Postings = tuple[np.ndarray, np.ndarray]  # (sorted unique paragraph ids, scores)
_EMPTY: Postings = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def union(parts: list[Postings], reduce=np.add) -> Postings:
    """Merge sorted (docs, scores) lists, combining scores of equal docs with `reduce`.

    A stable sort of concatenated sorted runs is a linear merge (timsort), cheaper than
    scattering into a dense array the size of the segment."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _EMPTY
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    order = np.argsort(docs, kind="stable")
    docs, scores = docs[order], scores[order]
    first = np.empty(len(docs), dtype=bool)
    first[0] = True
    np.not_equal(docs[1:], docs[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return docs[starts], reduce.reduceat(scores, starts)


def member(docs: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Bool per element of sorted `docs`: is it in sorted `pool`?"""
    if not len(pool):
        return np.zeros(len(docs), dtype=bool)
    idx = np.searchsorted(pool, docs)
    idx[idx == len(pool)] = len(pool) - 1
    return pool[idx] == docs


class SegmentScorer:
    """Evaluates a plan on one segment, sparsely: sorted paragraph ids with their scores."""

    def __init__(self, snap: Snapshot, seg: Segment, params: BM25) -> None:
        self.snap = snap
        self.seg = seg
        self.params = params
        self.text_hits: list[np.ndarray] = []  # paragraphs whose own text matched a leaf
        self.title_hit = False  # some leaf matched through a title
        self._excluding = 0  # inside NOT: matches there are no reason to show a paragraph

    def evaluate(self, plan: Plan) -> Postings:
        if isinstance(plan, BoolPlan):
            docs, scores = self._bool(plan)
            return (docs, scores * plan.scale) if plan.scale != 1.0 else (docs, scores)
        return union(self._parts(plan))

    def _parts(self, plan: Plan) -> list[Postings]:
        """Pieces whose sum is the node's result: one per field of a leaf. An OR of leaves
        merges all its children's pieces in one pass instead of merging twice."""
        if isinstance(plan, BoolPlan):
            return [self.evaluate(plan)]
        parts = []
        for fld, field_weight in plan.fields:
            weight = field_weight * plan.scale
            docs, scores = self._leaf_field(plan, fld)
            if not self._excluding and len(docs):
                if fld == "text":
                    self.text_hits.append(docs)
                else:
                    self.title_hit = True
            if fld == "title" and len(docs):  # articles → their paragraphs
                first = self.seg.art_first64
                counts = first[docs + 1] - first[docs]
                docs = expand_ranges(first[docs], counts)
                scores = np.repeat(scores, counts)
            parts.append((docs, weight * scores if weight != 1.0 else scores))
        return parts

    def _bool(self, plan: BoolPlan) -> Postings:
        result: Postings | None = None
        for child in sorted(plan.must, key=_cost):
            docs, scores = self.evaluate(child)
            if result is None:
                result = (docs, scores)
            else:
                common, i, j = np.intersect1d(result[0], docs, assume_unique=True,
                                              return_indices=True)
                result = (common, result[1][i] + scores[j])
            if not len(result[0]):
                return _EMPTY
        if plan.should:
            should = union([part for c in plan.should for part in self._parts(c)])
            if result is None:
                result = should
            elif len(should[0]):
                idx = np.searchsorted(should[0], result[0])
                idx[idx == len(should[0])] = 0
                found = should[0][idx] == result[0]
                result = (result[0], result[1] + np.where(found, should[1][idx], 0.0))
        if result is None:  # only exclusions: nothing to match
            return _EMPTY
        if plan.must_not and len(result[0]):
            self._excluding += 1
            banned = union([part for c in plan.must_not for part in self._parts(c)])[0]
            self._excluding -= 1
            keep = ~member(result[0], banned)
            result = (result[0][keep], result[1][keep])
        return result

    def _leaf_field(self, leaf, fld: str) -> Postings:
        fp = self.seg.fields[fld]
        avgdl = self.snap.stats[fld].avg_length
        p = self.params
        if isinstance(leaf, PhraseLeaf):
            docs, freq = phrase_matches(self.seg, fld, leaf.terms, leaf.offsets, leaf.slop)
            if not len(docs):
                return _EMPTY
            return docs, leaf.idfs[fld] * tf_weight(freq, fp.length[docs], avgdl, p.k1, p.b)
        if leaf.blended:
            docs, tf = blended_tf(self.seg, fld, leaf.terms)
            if not len(docs):
                return _EMPTY
            return docs, leaf.idfs[fld][0] * tf_weight(tf, fp.length[docs], avgdl, p.k1, p.b)
        parts = []
        for term, w, term_idf in zip(leaf.terms, leaf.weights, leaf.idfs[fld]):
            tid = self.seg.term_id(term)
            if tid < 0:
                continue
            docs, tf = fp.postings(tid)
            parts.append((docs.astype(np.int64),
                          (w * term_idf) * tf_weight(tf, fp.length[docs], avgdl, p.k1, p.b)))
        return union(parts, np.maximum)


def blended_tf(seg: Segment, fld: str, terms: tuple[str, ...]) -> Postings:
    """Documents holding any of the terms, with the terms' frequencies summed."""
    fp = seg.fields[fld]
    parts = []
    for term in terms:
        tid = seg.term_id(term)
        if tid >= 0:
            docs, tf = fp.postings(tid)
            parts.append((docs.astype(np.int64), tf.astype(np.float64)))
    return union(parts)


def _cost(plan: Plan) -> int:
    """Evaluate cheap (leaf) clauses of a conjunction first, so it can stop early."""
    return 1 if isinstance(plan, BoolPlan) else 0


def phrase_matches(seg: Segment, fld: str, terms: tuple[str, ...], offsets: tuple[int, ...],
                   slop: int) -> tuple[np.ndarray, np.ndarray]:
    """Documents where the terms occur at their relative offsets (each within `slop` of where
    the first term puts it), and how often. Vectorized: positions become sortable keys
    doc·2³² + (position − offset), compared with searchsorted."""
    fp = seg.fields[fld]
    tids = [seg.term_id(t) for t in terms]
    empty = np.zeros(0, dtype=np.int64)
    if min(tids) < 0:
        return empty, empty
    plists = [fp.postings(t) for t in tids]
    order = sorted(range(len(tids)), key=lambda i: len(plists[i][0]))
    cands = np.asarray(plists[order[0]][0])
    for i in order[1:]:
        cands = np.intersect1d(cands, plists[i][0], assume_unique=True)
        if not len(cands):
            return empty, empty
    pos_ptr = fp.pos_ptr
    keys = []
    for tid, (docs, _tf), off in zip(tids, plists, offsets):
        idx = int(fp.ptr[tid]) + np.searchsorted(docs, cands)
        lens = np.asarray(fp.tf[idx], dtype=np.int64)
        pos = np.asarray(fp.pos[expand_ranges(pos_ptr[idx], lens)], dtype=np.int64)
        owner = np.repeat(np.arange(len(cands), dtype=np.int64), lens)
        keys.append(owner * _KEY_SHIFT + (pos - off + _POS_BIAS))
    anchors = keys[0]
    ok = np.ones(len(anchors), dtype=bool)
    for i in range(1, len(keys)):
        k = keys[i]
        # A repeated word needs an occurrence of its own: when windows of equal terms can
        # overlap (slop), the window must hold one more occurrence per earlier copy.
        need = 1 + sum(1 for m in range(i) if terms[m] == terms[i]
                       and abs(offsets[m] - offsets[i]) <= 2 * slop)
        lo = np.searchsorted(k, anchors - slop, side="left")
        hi = np.searchsorted(k, anchors + slop, side="right")
        ok &= (hi - lo) >= need
    freq = np.bincount(anchors[ok] // _KEY_SHIFT, minlength=len(cands))
    found = freq > 0
    return cands[found].astype(np.int64), freq[found]


@dataclass
class Ranked:
    """Top paragraphs over all segments: (segment index, paragraph id, score), best first;
    `matched` holds every matching paragraph id per segment (sorted)."""

    entries: list[tuple[int, int, float]]
    total: int
    matched: list[np.ndarray]


def top_k(docs: np.ndarray, scores: np.ndarray, k: int) -> Postings:
    """The k best (docs sorted ascending); among equal scores the lowest ids win, so the
    answer never depends on k or on argpartition's arbitrary choice among ties."""
    kth = -np.partition(-scores, k - 1)[k - 1]
    cand = np.flatnonzero(scores >= kth)
    if len(cand) > k:
        cand = cand[np.lexsort((docs[cand], -scores[cand]))[:k]]
        cand.sort()
    return docs[cand], scores[cand]


def collapse_title_only(seg: Segment, docs: np.ndarray, scores: np.ndarray,
                        text_hits: list[np.ndarray]) -> Postings:
    """A title match lends its score to every paragraph of the article; paragraphs matched
    through the title alone would then tie and crowd out other articles. Keep paragraphs
    whose text matches, and from an article with none of those only its first paragraph
    (docs are sorted, so an article's paragraphs are consecutive in them)."""
    said = np.zeros(seg.n_paragraphs, dtype=bool)  # dense: O(postings), no sorting
    for hits in text_hits:
        said[hits] = True
    keep = said[docs]
    if keep.all():
        return docs, scores
    arts = seg.para_article[docs]
    new = np.empty(len(docs), dtype=bool)
    new[0] = True
    np.not_equal(arts[1:], arts[:-1], out=new[1:])
    starts = np.flatnonzero(new)  # each article's first paragraph among docs
    keep[starts[~np.logical_or.reduceat(keep, starts)]] = True
    return docs[keep], scores[keep]


def best_per_article(seg: Segment, docs: np.ndarray, scores: np.ndarray) -> Postings:
    """Keep each article's best paragraph (ties: the earlier paragraph)."""
    arts = seg.para_article[docs]
    order = np.lexsort((docs, -scores, arts))
    arts_sorted = arts[order]
    first = np.empty(len(order), dtype=bool)
    first[:1] = True
    np.not_equal(arts_sorted[1:], arts_sorted[:-1], out=first[1:])
    keep = np.sort(order[first])
    return docs[keep], scores[keep]


def run(snap: Snapshot, plan: Plan | None, params: BM25, k: int,
        per_article: bool = False) -> Ranked:
    """Top k paragraphs (or, per_article, the best paragraph of each of the top k articles)."""
    if plan is None:
        return Ranked([], 0, [_EMPTY[0] for _ in snap.segments])
    all_scores, all_seg, all_pid, matched, total = [], [], [], [], 0
    for si, seg in enumerate(snap.segments):
        scorer = SegmentScorer(snap, seg, params)
        docs, scores = scorer.evaluate(plan)
        live = seg.live_paragraphs
        if live is not None and len(docs):
            keep = live[docs]
            docs, scores = docs[keep], scores[keep]
        if scorer.title_hit and len(docs):
            docs, scores = collapse_title_only(seg, docs, scores, scorer.text_hits)
        matched.append(docs)
        if per_article and len(docs):
            docs, scores = best_per_article(seg, docs, scores)
        total += len(docs)
        if not len(docs):
            continue
        if len(docs) > k:
            docs, scores = top_k(docs, scores, k)
        all_scores.append(scores)
        all_pid.append(docs)
        all_seg.append(np.full(len(docs), si))
    if not all_scores:
        return Ranked([], total, matched)
    sc = np.concatenate(all_scores)
    sg = np.concatenate(all_seg)
    pid = np.concatenate(all_pid)
    order = np.lexsort((pid, sg, -sc))[:k]
    return Ranked([(int(sg[i]), int(pid[i]), float(sc[i])) for i in order], total, matched)
