"""Expansion over the index vocabulary: close words for typos and `term~` (rapidfuzz), and
the words a `prefix*` starts.

A typed word is compared both as a word (against each term's readable surface form) and
as a stem (against the terms themselves), with optimal-string-alignment distance, so a
swapped pair of letters ("Acemolgu") costs one edit. Short words are not expanded: at four
letters one edit reaches too many unrelated words.

The typo fallback ranks the close words as a noisy channel would (`corrections`): how
common a word is against how costly the slip (swaps and keyboard neighbours are cheap).

A prefix is compared with the words as written (folded, unstemmed): `communis*` must find
communist and communism, not every word whose *stem* starts like the stem of "communis"
(communiqué, communication).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from .index.snapshot import Snapshot

MIN_LENGTH = 5
MAX_EXPANSIONS = 3


def max_edits(word: str, forced: bool = False, unknown: bool = False) -> int:
    """Edits allowed for a word: none under 5 letters (1 if asked for with ~, or at 4 letters
    if the index lacks the word: "lrge" is a slip, not a word), 1 up to 8, else 2."""
    n = len(word)
    if n < MIN_LENGTH:
        return 1 if (forced and n >= 3) or (unknown and n == MIN_LENGTH - 1) else 0
    return 1 if n <= 8 else 2


def expand(word: str, term: str, snap: Snapshot, edits: int,
           limit: int = MAX_EXPANSIONS) -> list[tuple[str, float]]:
    """Up to `limit` vocabulary terms within `edits` of the word, as (term, similarity weight),
    closest first and, among equally close ones, the most frequent first."""
    if edits <= 0 or not word:
        return []
    from rapidfuzz import process  # imported on first use: most queries need no fuzzing
    from rapidfuzz.distance import OSA

    terms, surfaces = snap.vocabulary
    best: dict[int, int] = {}
    for query, choices in ((word, surfaces), (term, terms)):
        for _choice, dist, idx in process.extract(
            query, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
        ):
            if dist < best.get(idx, edits + 1):
                best[idx] = int(dist)
    dfs = {idx: snap.doc_freq(terms[idx]) for idx in best}
    ranked = sorted((it for it in best.items() if dfs[it[0]]),  # no words of deleted texts
                    key=lambda it: (it[1], -dfs[it[0]], it[0]))
    return [(terms[idx], max(0.5, 1.0 - dist / max(len(word), 1))) for idx, dist in ranked[:limit]]


# -- typo correction: a noisy channel over the index's words ----------------------------------

# An edit costs this much log-frequency: a candidate one edit away beats one that is as close
# only if it is e**ALPHA (~20) times rarer or less. Typos are mostly of common words.
ALPHA = 3.0
TRUST = 1.0  # weight of the likeliest correction
MIN_WEIGHT = 0.05  # candidates less likely than this, relative to the best, are dropped
NEAR_KEY = 0.6  # substituting a keyboard neighbour ("tge" for "the")
SWAP = 0.7  # two adjacent letters swapped ("teh")
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    """The QWERTY keys touching each letter key: its row's neighbours, and two keys each of
    the rows above (offset left) and below (offset right)."""
    out = {}
    for r, row in enumerate(_ROWS):
        for i, c in enumerate(row):
            near = [row[i - 1] if i else "", row[i + 1:i + 2]]
            if r:
                near.append(_ROWS[r - 1][i:i + 2])
            if r + 1 < len(_ROWS):
                near.append(_ROWS[r + 1][max(i - 1, 0):i + 1])
            out[c] = "".join(near)
    return out


NEIGHBOURS = _neighbours()


def edit_cost(a: str, b: str) -> float:
    """Weighted optimal-string-alignment distance: an insertion, deletion or substitution
    costs 1, a keyboard neighbour NEAR_KEY and a swapped pair SWAP, since those are the
    slips typing makes most."""
    prev2: list[float] = []
    prev = [float(j) for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        cur = [float(i)] + [0.0] * len(b)
        for j in range(1, len(b) + 1):
            x, y = a[i - 1], b[j - 1]
            sub = 0.0 if x == y else NEAR_KEY if y in NEIGHBOURS.get(x, "") else 1.0
            cur[j] = min(prev[j] + 1.0, cur[j - 1] + 1.0, prev[j - 1] + sub)
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y and x != y:
                cur[j] = min(cur[j], prev2[j - 2] + SWAP)
        prev2, prev = prev, cur
    return prev[-1]


_WORDS: WeakKeyDictionary[Snapshot, tuple[list[str], list[str]]] = WeakKeyDictionary()


def _words(snap: Snapshot) -> tuple[list[str], list[str]]:
    """The index's words as written (folded, unstemmed) and each one's term: a typo is one
    edit from the word the user meant ("heting"/heating), not always from its stem (heat).
    Without the writer's word cache, each term's readable form stands in."""
    pair = _WORDS.get(snap)
    if pair is None:
        stems = snap.word_stems
        pair = (list(stems), list(stems.values())) if stems else snap.vocabulary[::-1]
        _WORDS[snap] = pair
    return pair


_SPELLINGS: WeakKeyDictionary[Snapshot, dict[str, list[str]]] = WeakKeyDictionary()


def spelling(snap: Snapshot, typed: str, term: str) -> str:
    """The index word with `term` written closest to what was typed, for "did you mean":
    `heting` means *heating*, although *heat* has the same stem and is shorter."""
    by_term = _SPELLINGS.get(snap)
    if by_term is None:
        by_term = {}
        for word, stem in zip(*_words(snap)):
            by_term.setdefault(stem, []).append(word)
        _SPELLINGS[snap] = by_term
    choices = by_term.get(term) or [surface_of(snap, term)]
    return min(choices, key=lambda w: (edit_cost(typed, w), len(w), w))


def corrections(word: str, term: str, snap: Snapshot, edits: int, df: int = 0,
                limit: int = MAX_EXPANSIONS) -> list[tuple[str, float]]:
    """What a typed word probably meant: up to `limit` terms within `edits` of it, ranked by
    ln(document frequency) − ALPHA·edit_cost (a noisy channel: the likeliest intended word
    is close *and* common), each weighted by its likelihood relative to the best one. A word
    the index has (`df` > 0) competes as itself at no cost, so a common word next to a rare
    one draws little; it is never in the answer (the caller keeps it)."""
    if edits <= 0 or not word:
        return []
    from rapidfuzz import process  # imported on first use: most queries need no fuzzing
    from rapidfuzz.distance import OSA

    words, stems = _words(snap)
    terms = snap.vocabulary[0]
    cost: dict[str, float] = {}
    for query, choices, mapped in ((word, words, stems), (term, terms, terms)):
        for choice, _dist, idx in process.extract(
            query, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
        ):
            cand = mapped[idx]
            if cand != term:
                cost[cand] = min(cost.get(cand, edits + 1.0), edit_cost(query, choice))
    if not cost:
        return []
    dfs = {t: snap.doc_freq(t) for t in cost}
    score = {t: math.log(dfs[t]) - ALPHA * c for t, c in cost.items() if dfs[t]}
    if not score:
        return []
    top = max([*score.values(), *([math.log(df)] if df > 0 else [])])
    ranked = sorted(score, key=lambda t: (-score[t], t))[:limit]
    # The word means one thing: a rare alternative must not outscore the likeliest word by
    # its idf, so each term counts with at most the idf of the likeliest one.
    n = max(snap.stats["text"].docs, 1)
    cap = _idf(n, dfs[ranked[0]])
    weighted = [(t, TRUST * math.exp(score[t] - top) * min(1.0, cap / _idf(n, dfs[t])))
                for t in ranked]
    return [(t, w) for t, w in weighted if w >= MIN_WEIGHT]


def _idf(n: int, df: int) -> float:
    """BM25's idf (as ranking.idf, which imports this module)."""
    return math.log1p((n - df + 0.5) / (df + 0.5))


_STEMS_TEXT: WeakKeyDictionary[Snapshot, str] = WeakKeyDictionary()


def _stems_text(snap: Snapshot) -> str:
    """The index's word → stem cache as text, with a newline in front (read once per
    snapshot): searching it for "\nprefix" finds the words without parsing them all."""
    text = _STEMS_TEXT.get(snap)
    if text is None:
        text = _STEMS_TEXT[snap] = "\n" + snap.stems_text
    return text


def prefix_terms(snap: Snapshot, prefix: str) -> set[str]:
    """Terms of the index words that start with `prefix` (a folded, unstemmed word): the
    words of the writer's word → stem cache, plus terms that are words as written (numbers
    and codes are not stemmed) and, for an index without that cache, each term's readable
    form."""
    if not prefix or "\n" in prefix or "\t" in prefix:
        return set()
    found: set[str] = set()
    text, needle = _stems_text(snap), "\n" + prefix
    i = text.find(needle)
    while i >= 0:
        end = text.find("\n", i + 1)
        word, _, stem = text[i + 1:end if end >= 0 else len(text)].partition("\t")
        if stem:
            found.add(stem)
        if end < 0:
            break
        i = text.find(needle, end)
    for seg in snap.segments:  # sorted terms: the ones starting with the prefix are a run
        terms = seg.vocab
        lo, hi = bisect_left(terms, prefix), bisect_right(terms, prefix + "\U0010ffff")
        found.update(t for t in terms[lo:hi] if not t.isalpha())
    if len(text) == 1:  # no word cache: each term's readable word stands in
        found.update(t for t, w in zip(*snap.vocabulary) if w.startswith(prefix))
    return found


def surface_of(snap: Snapshot, term: str) -> str:
    """A readable word for a term (stems like 'allianc' are not for users' eyes)."""
    terms, surfaces = snap.vocabulary
    i = bisect_left(terms, term)
    return surfaces[i] if i < len(terms) and terms[i] == term else term


def match_case(typed: str, word: str) -> str:
    """Spell a suggestion the way the user typed the word: Acemolgu → Acemoglu, NATO → NATO."""
    if typed.isupper() and len(typed) > 1:
        return word.upper()
    if typed[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
