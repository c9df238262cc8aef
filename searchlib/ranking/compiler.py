"""Compiling a query tree into weights: everything that needs global knowledge (analysis,
prefix and fuzzy expansion within the query budget, document frequencies → idf) is resolved
once per query here; scoring a segment then needs no look-up."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from .. import fuzzy as fz
from ..budget import DEFAULT_BUDGET, Spend
from ..index.segment import expand_ranges
from ..index.snapshot import Snapshot
from ..query import Bool, Filter, Fuzzy, Node, Phrase, Prefix, Term, is_filter, shown
from .filters import FilterWeight, present_fields
from .scoring import BM25, CollectionStats, idf
from .weights import BoolWeight, PhraseWeight, TermWeight, Weight, leaves, without

MAX_PREFIX_TERMS = 128
# The fuzzy fallback's one threshold: when a word is unknown or the query matches fewer than
# FEW paragraphs, every word found in fewer than FEW paragraphs is searched with close words.
FEW = 3


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
                 expand_rare: bool = False, spend: Spend | None = None,
                 stats: CollectionStats | None = None) -> None:
        """`spend`: the budget of the search this compile is part of (default: a fresh one
        with the default caps); `stats`: the collection statistics idf is computed from
        (default: the snapshot's own)."""
        self.snap = snap
        self.stats: CollectionStats = snap if stats is None else stats
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
        self._plans: dict[tuple, Weight] = {}
        self._memo: dict[tuple[Node, bool], Weight | None] = {}
        self._present: frozenset[str] | None = None  # metadata fields, once a filter asks
        self._title_fanout = (self.stats.num_docs("text")
                              / max(self.stats.num_docs("title"), 1))

    def df(self, term: str, fld: str) -> int:
        key = (term, fld)
        if key not in self._df:
            self._df[key] = self.stats.doc_freq(term, fld)
        return self._df[key]

    def idf(self, term: str, fld: str) -> float:
        return float(idf(self.stats.num_docs(fld), self.df(term, fld)))

    def reach(self, term: str, fields: tuple[tuple[str, float], ...]) -> int:
        """How many live paragraphs a word matches, through their text or their article's
        title (exact below FEW, which is all the fuzzy fallback asks)."""
        names = {f for f, _ in fields}
        text_df = self.df(term, "text") if "text" in names else 0
        if "title" not in names or text_df >= FEW:
            return text_df
        if self.df(term, "title") >= FEW:  # every article has a paragraph
            return FEW
        return self.title_reach(term, tuple(sorted(names)))

    def title_reach(self, term: str, names: tuple[str, ...]) -> int:
        """`reach` counted paragraph by paragraph (a sharded index sums its shards')."""
        return paragraph_reach(self.snap.segments, term, names)

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

    def present(self) -> frozenset[str]:
        """The metadata fields some article has (read once, when a filter or facet asks)."""
        if self._present is None:
            self._present = present_fields(self.snap.segments)
        return self._present

    def compile(self, node: Node | None) -> Weight | None:
        """The plan of a whole query, within the budget (its warnings in state.limits)."""
        self.spend.start()
        plan = self._fit(self._node(node))
        self.state.limits.update(self.spend.warnings)
        return plan

    def _node(self, node: Node | None) -> Weight | None:
        """Equal clauses compile to one plan object: leaves are memoized by their query
        node (cheap to hash), groups by the identity of their compiled children."""
        if node is None:
            return None
        if is_filter(node):
            return self._filter(node)
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
            return self._plans.setdefault(key, BoolWeight(must, should, must_not))
        key = (node, self.negated > 0)  # inside NOT a word matches the text only
        if key not in self._memo:
            self._memo[key] = self._leaf_node(node) if self.spend.clause() else None
        return self._memo[key]

    def compile_filter(self, node: Filter) -> FilterWeight:
        """A filter given outside the query (since/until/where)."""
        return self._filter(node)

    def _filter(self, node: Node) -> FilterWeight:
        """A metadata condition; one on a field no article has matches nothing (warned)."""
        if isinstance(node, Bool):
            return FilterWeight(must=tuple(map(self._filter, node.must)),
                                should=tuple(map(self._filter, node.should)),
                                must_not=tuple(map(self._filter, node.must_not)))
        assert isinstance(node, Filter)
        if node.valid and node.field not in self.present():
            self.state.warnings.append(f"no article has a '{node.field}' field: "
                                       f"{node.field}:{shown(node.value)} matches nothing")
        return FilterWeight.of(node)

    def _leaf_node(self, node: Node) -> Weight | None:
        if isinstance(node, Phrase):
            return self._phrase(node.text, node.field, node.slop)
        if isinstance(node, Prefix):
            return self._prefix(node)
        if isinstance(node, Fuzzy):
            return self._word(node.text, node.field, forced_edits=node.edits, forced=True)
        if isinstance(node, Term):
            return self._word(node.text, node.field)
        raise TypeError(f"unknown query node {node!r}")

    def _clauses(self, nodes: tuple[Node, ...], scored: bool = True) -> tuple[Weight, ...]:
        """Compile each distinct clause once. A repeated one (`oil oil`, or `Oil oil`, which
        compile to the same leaf) counted once per copy before, so it keeps that weight as
        its `scale`; evaluating it once keeps `said said …` from costing memory per copy."""
        merged: dict[int, list] = {}
        for node in nodes:
            plan = self._node(node)
            if plan is not None:
                merged.setdefault(id(plan), [plan, 0])[1] += 1
        return tuple(self._scaled(plan, n) if scored else plan for plan, n in merged.values())

    def _scaled(self, plan: Weight, copies: int) -> Weight:
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
              expanded: bool, blended: bool = False) -> TermWeight:
        fields = self.fields(fld)
        key = ("term", fields, tuple(terms), tuple(weights), expanded, blended)
        if key not in self._plans:
            self._plans[key] = self._shared((key, label), lambda: self._term_weight(
                label, fields, terms, weights, expanded, blended))
        return self._plans[key]

    def _shared(self, key: tuple, make):
        """A leaf's weight: the same object for every compile on the snapshot's own
        statistics (a commit never changes; the label is part of `key`), made once."""
        if not (isinstance(self.snap, Snapshot) and self.stats is self.snap):
            return make()
        return self.snap.remembered(key, make)

    def _term_weight(self, label: str, fields, terms: list[str], weights: list[float],
                     expanded: bool, blended: bool) -> TermWeight:
        if blended:  # one idf for all: that of the most frequent term (the blend's df)
            top = {f: max(self.df(t, f) for t in terms) for f, _ in fields}
            idfs = {f: (float(idf(self.stats.num_docs(f), top[f])),) * len(terms)
                    for f, _ in fields}
        else:
            idfs = {f: tuple(self.idf(t, f) for t in terms) for f, _ in fields}
        dfs = {f: tuple(self.df(t, f) for t in terms) for f, _ in fields}
        return TermWeight(label, fields, tuple(terms), tuple(weights), idfs, dfs, expanded,
                          blended=blended, cost=self._cost(terms, fields))

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

    def _fit(self, plan: Weight | None) -> Weight | None:
        """Drop the most frequent leaves until the plan reads at most max_postings."""
        limit = self.spend.budget.max_postings
        occurrences = list(leaves(plan))
        total = sum(leaf.cost for leaf in occurrences)
        if total <= limit:
            return plan
        by_id = {id(leaf): leaf for leaf in occurrences}
        copies = Counter(map(id, occurrences))  # a leaf object may sit in several groups
        dropped: set[int] = set()
        left = total
        for key in sorted(copies, key=lambda k: -by_id[k].cost * copies[k]):
            if left <= limit:
                break
            dropped.add(key)
            left -= by_id[key].cost * copies[key]
        labels = list(dict.fromkeys(by_id[k].label for k in copies if k in dropped))
        listed = ", ".join(f"'{shown(w)}'" for w in labels[:3]) + (", …" if len(labels) > 3
                                                                   else "")
        self.spend.warn("postings", f"query would read {total:,} postings (limit {limit:,}); "
                        f"left out {len(labels)} of its most frequent words: {listed}")
        return without(plan, dropped)

    def _word(self, raw: str, fld: str | None, forced_edits: int | None = None,
              forced: bool = False) -> Weight | None:
        terms, parts, word = self._analyzed(raw)
        if not terms:
            self.state.stopwords.append(raw)
            return None
        if parts > 1:  # jong-un, U.S., foo:bar → a phrase of the parts
            if forced:
                self.state.warnings.append(
                    f"'{shown(raw)}~': fuzzy matching applies to single words; "
                    "searched as the exact phrase")
            return self._phrase(raw, fld, 0)
        return self._single(raw, terms[0], word, fld, forced_edits, forced)

    def _analyzed(self, raw: str) -> tuple[tuple[str, ...], int, str]:
        """(its terms, how many tokens, the word normalized) of a typed word: the snapshot's
        analyzer never changes, so a word is analyzed once per snapshot."""
        def analyze() -> tuple[tuple[str, ...], int, str]:
            tokens = self.analyzer.tokens(raw)
            terms = tuple(t.term for t in tokens if t.term is not None)
            return terms, len(tokens), self.analyzer.normalize(raw) if len(tokens) == 1 else ""

        if not isinstance(self.snap, Snapshot):
            return analyze()
        return self.snap.remembered(("word", raw), analyze)

    def _single(self, raw: str, term: str, word: str, fld: str | None,
                forced_edits: int | None = None, forced: bool = False) -> Weight:
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
        typed = self.analyzer.normalize(raw)
        self.state.corrections[raw] = fz.match_case(raw, fz.spelling(self.snap, typed, best))

    def _prefix(self, node: Prefix) -> Weight | None:
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
        if not found:  # `label` is no term: the clause matches nothing, as it should
            self.state.unknown.append(label)
            return self._leaf(label, node.field, [label], [1.0], False)
        if len(found) > limit:
            found = found[:limit]
            self.state.warnings.append(
                f"'{shown(node.text)}*' matches many words; using the {limit} most frequent"
            )
        self.spend.expansions += len(found)
        return self._leaf(label, node.field, found, [1.0] * len(found), True, blended=True)

    def _phrase(self, raw: str, fld: str | None, slop: int) -> Weight | None:
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
            fixed, spelled = list(terms), {}
            for i in unknown:
                typed = raw[tokens[i].start:tokens[i].end]
                word = self.analyzer.normalize(typed)
                found = self._expand(word, terms[i], fz.max_edits(word, unknown=True), limit=1,
                                     typo_df=0)
                if not found:
                    break  # the phrase cannot be fixed: it is searched (and suggested) as typed
                fixed[i] = found[0][0]
                spelled[typed] = fz.match_case(typed, fz.spelling(self.snap, word, fixed[i]))
            else:
                self.state.expanded = True
                self.state.corrections.update(spelled)
                terms = tuple(fixed)
        key = ("phrase", fields, terms, offsets, slop)
        if key not in self._plans:
            self._plans[key] = self._shared((key, raw), lambda: PhraseWeight(
                raw, fields, terms, offsets, slop,
                {f: sum(self.idf(t, f) for t in terms) for f, _ in fields},
                cost=self._cost(terms, fields)))
        return self._plans[key]


def paragraph_reach(segments, term: str, names: tuple[str, ...]) -> int:
    """Live paragraphs of `segments` whose text (if "text" in `names`) or article's title
    (if "title") contains `term`."""
    n = 0
    for seg in segments:
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
