"""Expansion over the index vocabulary: close words for typos and `term~` (rapidfuzz), and
the words a `prefix*` starts.

A typed word is compared both as a word (against each term's readable surface form) and
as a stem (against the terms themselves), with optimal-string-alignment distance, so a
swapped pair of letters ("Acemolgu") costs one edit. Short words are not expanded: at four
letters one edit reaches too many unrelated words.

A prefix is compared with the words as written (folded, unstemmed): `communis*` must find
communist and communism, not every word whose *stem* starts like the stem of "communis"
(communiqué, communication).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from .index.snapshot import Snapshot

MIN_LENGTH = 5
MAX_EXPANSIONS = 3


def max_edits(word: str, forced: bool = False) -> int:
    """Edits allowed for a word: none under 5 letters (1 if asked for with ~), 1 up to 8, else 2."""
    n = len(word)
    if n < MIN_LENGTH:
        return 1 if forced and n >= 3 else 0
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
