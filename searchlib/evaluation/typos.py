"""Misspell queries on purpose, to measure what the fuzzy fallback recovers.

A typo'd query is the original with ``n`` single-character edits (insert, delete, substitute or
transpose a letter), one per word where the query has enough eligible words. Only words of at
least ``MIN_LETTERS`` letters are edited: typos in short words are either undetectable (``cat``
-> ``car``) or wipe out the word, and real users mistype long words far more often.

Every query gets its own generator seeded from ``(seed, qid)``, so a query's typos do not
depend on which other queries are in the set, nor on their order.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping
from typing import Literal

MIN_LETTERS = 5
Edit = Literal["insert", "delete", "substitute", "transpose"]
EDITS: tuple[Edit, ...] = ("insert", "delete", "substitute", "transpose")

_WORD = re.compile(r"[^\W\d_]+")  # runs of letters (any script), nothing else


def eligible_spans(text: str, min_letters: int = MIN_LETTERS) -> list[tuple[int, int]]:
    """``(start, end)`` of every letter run long enough to be edited."""
    return [m.span() for m in _WORD.finditer(text) if m.end() - m.start() >= min_letters]


def _letter(rng: random.Random, word: str, avoid: str = "") -> str:
    """A random ASCII letter in the word's case (NPL queries are upper case), not ``avoid``."""
    pool = string.ascii_uppercase if word.isupper() else string.ascii_lowercase
    return rng.choice([c for c in pool if c != avoid.lower() and c != avoid.upper()])


def edit_word(word: str, edit: Edit, rng: random.Random) -> str:
    """``word`` with exactly one edit of kind ``edit`` (the result always differs from it)."""
    if edit == "insert":
        at = rng.randrange(len(word) + 1)
        return word[:at] + _letter(rng, word) + word[at:]
    if edit == "delete":
        at = rng.randrange(len(word))
        return word[:at] + word[at + 1 :]
    if edit == "substitute":
        at = rng.randrange(len(word))
        return word[:at] + _letter(rng, word, avoid=word[at]) + word[at + 1 :]
    # transpose two adjacent, different letters ("committee" must not swap its "mm")
    spots = [i for i in range(len(word) - 1) if word[i].lower() != word[i + 1].lower()]
    if not spots:
        return edit_word(word, "substitute", rng)
    at = rng.choice(spots)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def add_typos(text: str, n: int, rng: random.Random, min_letters: int = MIN_LETTERS) -> str:
    """``text`` with ``n`` edits spread over distinct eligible words (cycling if there are fewer
    eligible words than edits); a text without eligible words comes back unchanged."""
    spans = eligible_spans(text, min_letters)
    if n <= 0 or not spans:
        return text
    order = rng.sample(range(len(spans)), len(spans))
    per_word = [0] * len(spans)
    for i in range(n):
        per_word[order[i % len(spans)]] += 1
    pieces, last = [], 0
    for (start, end), count in zip(spans, per_word):
        word = text[start:end]
        for _ in range(count):
            word = edit_word(word, rng.choice(EDITS), rng)
        pieces += [text[last:start], word]
        last = end
    return "".join(pieces) + text[last:]


def typo_queries(queries: Mapping[str, str], n: int, seed: int = 0) -> dict[str, str]:
    """A typo'd copy of every query (same ids), reproducible from ``seed``."""
    return {
        qid: add_typos(text, n, random.Random(f"{seed}:{qid}")) for qid, text in queries.items()
    }
