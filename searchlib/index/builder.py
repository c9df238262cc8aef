"""Analyzed articles → the content of one segment (the in-memory side of a flush).

Token streams arrive in (document, position) order and become (term, document, position)
triples per field, which `segment.write_segment` turns into postings, the same way it does
for a merge. Raw tokens are mapped to term ids through one dict lookup each (the hot loop).
"""

from __future__ import annotations

import numpy as np

from ..analysis import Analyzer
from ..metadata import NO_METADATA, Metadata
from .metacolumns import encode, keyword_pairs
from .segment import FieldTriples, SegmentContent, stored_paragraphs


class SegmentBuilder:
    """Accumulates analyzed articles in memory until flushed as one segment."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.terms: list[str] = []
        self.surface: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._raw: dict[str, int] = {}
        self.text_ids: list[int] = []
        self.text_counts: list[int] = []
        self.title_ids: list[int] = []
        self.title_counts: list[int] = []
        self.paragraphs: list[str] = []
        self.articles: list[tuple[str, str, str]] = []
        self.paragraph_counts: list[int] = []
        self.keywords: list[list[tuple[str, str]]] = []
        self.dates: list[int | None] = []
        self.tokens = 0

    def _tid(self, raw: str) -> int:
        term = self.analyzer.term(raw)
        if term is None:
            tid = -1
        else:
            tid = self._term_ids.get(term, -1)
            word = self.analyzer.normalize(raw)
            if tid < 0:
                tid = self._term_ids[term] = len(self.terms)
                self.terms.append(term)
                self.surface.append(word)
            elif len(word) < len(self.surface[tid]):
                self.surface[tid] = word
        self._raw[raw] = tid
        return tid

    def _ids(self, text: str) -> list[int]:
        raw = self._raw
        words = self.analyzer.words(text)
        try:
            return list(map(raw.__getitem__, words))
        except KeyError:
            return [raw[w] if w in raw else self._tid(w) for w in words]

    def add(self, article_id: str, title: str, source: str, paragraphs: list[str],
            meta: Metadata = NO_METADATA) -> None:
        paragraphs = stored_paragraphs(title, paragraphs)
        ids = self._ids(title)
        self.title_ids.extend(ids)
        self.title_counts.append(len(ids))
        for para in paragraphs:
            ids = self._ids(para)
            self.text_ids.extend(ids)
            self.text_counts.append(len(ids))
            self.tokens += len(ids)
        self.paragraphs.extend(paragraphs)
        self.articles.append((article_id, title, source))
        self.paragraph_counts.append(len(paragraphs))
        self.keywords.append(keyword_pairs(meta))
        self.dates.append(meta.date)

    def __len__(self) -> int:
        return len(self.articles)

    def content(self) -> SegmentContent:
        """What is buffered, with terms renumbered in sorted order (the vocabulary's)."""
        order = sorted(range(len(self.terms)), key=self.terms.__getitem__)
        remap = np.empty(len(order), dtype=np.int64)
        remap[np.array(order, dtype=np.int64)] = np.arange(len(order))
        encoded = [p.encode("utf-8") for p in self.paragraphs]
        columns, dictionary = encode(self.keywords, self.dates)
        return SegmentContent(
            terms=[self.terms[i] for i in order],
            surface=[self.surface[i] for i in order],
            fields={"text": _triples(self.text_ids, self.text_counts, remap),
                    "title": _triples(self.title_ids, self.title_counts, remap)},
            paragraph_counts=np.array(self.paragraph_counts, dtype=np.int64),
            store=b"".join(encoded),
            paragraph_bytes=np.array([len(b) for b in encoded], dtype=np.int64),
            articles=self.articles, columns=columns, meta_dictionary=dictionary,
        )


def _triples(ids: list[int], counts: list[int], remap: np.ndarray) -> FieldTriples:
    """Token ids by document (-1: a stopword, which only takes up its position) → triples."""
    tids = np.array(ids, dtype=np.int64)
    counts_arr = np.array(counts, dtype=np.int64)
    docs = np.repeat(np.arange(len(counts_arr), dtype=np.int64), counts_arr)
    pos = np.arange(len(tids), dtype=np.int64) - np.repeat(
        np.cumsum(counts_arr) - counts_arr, counts_arr
    )
    keep = tids >= 0
    lengths = np.bincount(docs[keep], minlength=len(counts_arr))
    return FieldTriples(remap[tids[keep]], docs[keep], pos[keep], lengths)
