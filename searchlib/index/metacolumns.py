"""Article metadata as segment columns: a date per article and dictionary-encoded keywords.

A segment stores `meta.date` (int64 seconds UTC, `NO_DATE` for none) and, per article, its
keyword values as CSR (`meta.ptr` offsets into `meta.code`); each code is a row of the
segment's dictionary `meta.json`, a sorted list of [field, value] pairs. Filters and facets
then work on integer arrays (numpy over articles), never on strings per paragraph; a value is
folded (case-insensitive) once per dictionary entry, not once per article.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cached_property

import numpy as np

from ..errors import CorruptIndex
from ..metadata import Metadata, fold
from .schema import NO_DATE

SCALAR_FIELDS = ("source", "url", "language")  # one value per article
STANDARD_FIELDS = frozenset({"date", "source", "author", "url", "language"})


def keyword_pairs(meta: Metadata) -> list[tuple[str, str]]:
    """The (field, value) pairs an article is filtered and faceted by (authors as `author`)."""
    pairs = [(name, value) for name in SCALAR_FIELDS
             if (value := getattr(meta, name)) is not None]
    pairs += [("author", a) for a in meta.authors]
    for name, values in meta.keywords.items():
        pairs += [(name, v) for v in values]
    return list(dict.fromkeys(pairs))


def encode(pairs_per_article: Sequence[Iterable[tuple[str, str]]],
           dates: Sequence[int | None]) -> tuple[dict[str, np.ndarray], list[list[str]]]:
    """Per-article pairs and dates → the metadata columns and the sorted dictionary."""
    lists = [list(p) for p in pairs_per_article]
    dictionary = sorted({pair for pairs in lists for pair in pairs})
    index = {pair: i for i, pair in enumerate(dictionary)}
    counts = np.fromiter((len(p) for p in lists), dtype=np.int64, count=len(lists))
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    codes = np.fromiter((index[pair] for pairs in lists for pair in pairs), dtype=np.int32,
                        count=int(ptr[-1]))
    date = np.array([NO_DATE if d is None else d for d in dates], dtype=np.int64)
    return ({"meta.date": date, "meta.ptr": ptr, "meta.code": codes},
            [list(pair) for pair in dictionary])


def merged_dictionary(parts: Sequence[tuple[SegmentMeta, np.ndarray]]
                      ) -> tuple[list[list[str]], list[np.ndarray]]:
    """The dictionary of the values the live articles (`live` bool per article) of several
    segments have, sorted as `encode` makes it, and per segment each old code's new one
    (-1: no live article has it): a merge then re-encodes codes with numpy, segment by
    segment, never a Python object per article."""
    used = []
    for meta, live in parts:
        codes = meta.code[live[meta.entry_article]] if len(meta.code) else meta.code
        used.append(np.unique(codes).tolist())
    dictionary = sorted({meta.dictionary[c] for (meta, _), codes in zip(parts, used)
                         for c in codes})
    index = {pair: i for i, pair in enumerate(dictionary)}
    remaps = []
    for (meta, _), codes in zip(parts, used):
        remap = np.full(len(meta.dictionary), -1, dtype=np.int64)
        remap[codes] = [index[meta.dictionary[c]] for c in codes]
        remaps.append(remap)
    return [list(pair) for pair in dictionary], remaps


class SegmentMeta:
    """One segment's metadata columns, read on first use (a search without filters never
    decodes the dictionary)."""

    def __init__(self, date: np.ndarray, ptr: np.ndarray, code: np.ndarray, raw,
                 label: str) -> None:
        self.date, self.ptr, self.code = date, ptr, code
        self._raw = raw
        self._label = label

    @cached_property
    def dictionary(self) -> list[tuple[str, str]]:
        try:
            values = json.loads(bytes(self._raw).decode("utf-8")) if len(self._raw) else []
        except (ValueError, UnicodeDecodeError, RecursionError):
            values = None
        if not (isinstance(values, list) and all(
                isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
                for v in values)) or (len(self.code) and int(self.code.max()) >= len(values)):
            raise CorruptIndex(f"index file damaged: {self._label} is not a metadata dictionary")
        return [(f, v) for f, v in values]

    @cached_property
    def fields(self) -> frozenset[str]:
        return frozenset(f for f, _ in self.dictionary)

    @cached_property
    def _folded(self) -> dict[tuple[str, str], list[int]]:
        out: dict[tuple[str, str], list[int]] = {}
        for i, (f, v) in enumerate(self.dictionary):
            out.setdefault((f, fold(v)), []).append(i)
        return out

    @cached_property
    def entry_article(self) -> np.ndarray:
        """The article each keyword entry belongs to."""
        return np.repeat(np.arange(len(self.ptr) - 1, dtype=np.int64), np.diff(self.ptr))

    @cached_property
    def entry_field(self) -> dict[str, np.ndarray]:
        """field → bool per dictionary row: which codes are values of that field."""
        names = np.array([f for f, _ in self.dictionary], dtype=object)
        return {f: names == f for f in self.fields}

    @cached_property
    def _by_code(self) -> tuple[np.ndarray, np.ndarray]:
        """The articles of each code (CSR: offsets per code, articles): a filter then reads
        only the articles it selects, not every keyword entry."""
        order = np.argsort(self.code, kind="stable")
        ptr = np.zeros(len(self.dictionary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.code, minlength=len(self.dictionary)), out=ptr[1:])
        return ptr, self.entry_article[order]

    def has_any(self, field: str, values: Iterable[str]) -> np.ndarray:
        """Bool per article: it has one of `values` (compared folded) in `field`."""
        mask = np.zeros(len(self.date), dtype=bool)
        codes = [c for value in values for c in self._folded.get((field, fold(value)), [])]
        if codes:
            ptr, articles = self._by_code
            for c in codes:
                mask[articles[ptr[c]:ptr[c + 1]]] = True
        return mask

    @cached_property
    def dated(self) -> bool:
        """Whether some article of the segment has a date."""
        return bool((self.date != NO_DATE).any())

    def in_range(self, lo: int | None, hi: int | None) -> np.ndarray:
        """Bool per article: dated, and lo <= date < hi (None: unbounded)."""
        mask = self.date != NO_DATE
        if lo is not None:
            mask &= self.date >= lo
        if hi is not None:
            mask &= self.date < hi
        return mask

    def values(self, article: int) -> dict[str, list[str]]:
        """An article's stored keyword fields (field → values, as written)."""
        out: dict[str, list[str]] = {}
        for c in self.code[self.ptr[article]:self.ptr[article + 1]].tolist():
            f, v = self.dictionary[c]
            out.setdefault(f, []).append(v)
        return out

    def counts(self, field: str, articles: np.ndarray) -> dict[str, int]:
        """How many of `articles` (bool per article) have each value of `field`."""
        entries = articles[self.entry_article] if len(self.code) else np.zeros(0, dtype=bool)
        codes = self.code[entries]
        mask = self.entry_field.get(field)
        if mask is None or not len(codes):
            return {}
        codes = codes[mask[codes]]
        found = np.bincount(codes, minlength=len(self.dictionary))
        return {self.dictionary[c][1]: int(found[c]) for c in np.flatnonzero(found).tolist()}
