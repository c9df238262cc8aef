"""Analyzed articles → the content of one segment (the in-memory side of a flush).

Articles arrive analyzed in chunks (`analyze.ChunkTokens`: raw-token ids, from this process
or a worker) and are added one by one, in order, so a flush falls between the same two
articles however many workers analyzed them. Raw tokens become this segment's term ids
through a per-chunk numpy table; the (term, document, position) triples that
`segment.write_segment` turns into postings are made only at the flush.
"""

from __future__ import annotations

import numpy as np

from ..analysis import Analyzer
from .analyze import ChunkTokens, Item
from .metacolumns import encode
from .segment import FieldTriples, SegmentContent, expand_ranges

# Bytes a flush needs per buffered token (int32 ids now; int64 triples, the sort and the
# postings at the flush) and per character of stored text (str, utf-8 parts, joined store).
FLUSH_BYTES_PER_TOKEN = 100
FLUSH_BYTES_PER_CHAR = 4
ARTICLE_BYTES = 400


class SegmentBuilder:
    """Accumulates analyzed articles in memory until flushed as one segment."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.terms: list[str] = []
        self.surface: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._raw: dict[str, int] = {}  # raw token → term id (-1: a stopword)
        self._chunk: ChunkTokens | None = None
        self._map = np.zeros(0, dtype=np.int32)  # raw-token id of `_chunk` → term id
        self.text_ids: list[np.ndarray] = []
        self.text_counts: list[np.ndarray] = []
        self.title_ids: list[np.ndarray] = []
        self.title_counts: list[np.ndarray] = []
        self.paragraphs: list[str] = []
        self.articles: list[tuple[str, str, str]] = []
        self.paragraph_counts: list[int] = []
        self.keywords: list[list[tuple[str, str]]] = []
        self.dates: list[int | None] = []
        self.tokens = 0
        self.chars = 0

    def estimated_bytes(self) -> int:
        """What flushing this builder would take in memory, roughly (the memory budget)."""
        return (self.tokens * FLUSH_BYTES_PER_TOKEN + self.chars * FLUSH_BYTES_PER_CHAR
                + len(self.articles) * ARTICLE_BYTES)

    def _tid(self, chunk: ChunkTokens, raw_id: int) -> int:
        term = chunk.terms[raw_id]
        if term is None:
            return -1
        word = chunk.words[raw_id]
        tid = self._term_ids.get(term, -1)
        if tid < 0:
            tid = self._term_ids[term] = len(self.terms)
            self.terms.append(term)
            self.surface.append(word)
        elif len(word) < len(self.surface[tid]):
            self.surface[tid] = word
        return tid

    def _term_ids_of(self, chunk: ChunkTokens, raw_ids: np.ndarray) -> np.ndarray:
        """Term ids of a run of raw-token ids; new terms numbered in order of appearance."""
        if chunk is not self._chunk:
            self._chunk = chunk
            self._map = np.full(len(chunk.raws), -2, dtype=np.int32)
        mapped = self._map[raw_ids]
        unseen = mapped == -2
        if unseen.any():
            new, first = np.unique(raw_ids[unseen], return_index=True)
            known, raws = self._raw, chunk.raws
            for raw_id in new[np.argsort(first, kind="stable")].tolist():
                tid = known.get(raws[raw_id])  # seen in an earlier chunk: nothing new
                if tid is None:
                    tid = known[raws[raw_id]] = self._tid(chunk, raw_id)
                self._map[raw_id] = tid
            mapped = self._map[raw_ids]
        return mapped

    def add(self, items: list[Item], chunk: ChunkTokens, tokens: slice, docs: slice,
            counts: slice) -> None:
        """Add a run of a chunk's articles: `items` ((id, title, source, stored paragraphs,
        keyword pairs, date)), which are `chunk`'s documents `docs`, its tokens
        `chunk.ids[tokens]` and its paragraphs `counts`. One run or several give the same
        segment."""
        ids = self._term_ids_of(chunk, chunk.ids[tokens])
        title_counts = chunk.title_counts[docs]
        para_counts = chunk.para_counts[counts]
        doc_tokens = chunk.doc_tokens[docs]
        starts = np.cumsum(doc_tokens) - doc_tokens
        is_title = np.zeros(len(ids), dtype=bool)
        is_title[expand_ranges(starts, title_counts)] = True
        self.title_ids.append(ids[is_title])
        self.title_counts.append(title_counts)
        self.text_ids.append(ids[~is_title])
        self.text_counts.append(para_counts)
        self.tokens += len(ids) - int(title_counts.sum())
        for article_id, title, source, paragraphs, keywords, date in items:
            self.chars += sum(map(len, paragraphs))
            self.paragraphs.extend(paragraphs)
            self.articles.append((article_id, title, source))
            self.paragraph_counts.append(len(paragraphs))
            self.keywords.append(keywords)
            self.dates.append(date)

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


def _triples(ids: list[np.ndarray], counts: list[np.ndarray],
             remap: np.ndarray) -> FieldTriples:
    """Token ids by document (-1: a stopword, which only takes up its position) → triples."""
    tids = np.concatenate([np.zeros(0, np.int64), *ids]).astype(np.int64)
    counts_arr = np.concatenate([np.zeros(0, np.int64), *counts]).astype(np.int64)
    docs = np.repeat(np.arange(len(counts_arr), dtype=np.int64), counts_arr)
    pos = np.arange(len(tids), dtype=np.int64) - np.repeat(
        np.cumsum(counts_arr) - counts_arr, counts_arr
    )
    keep = tids >= 0
    lengths = np.bincount(docs[keep], minlength=len(counts_arr))
    return FieldTriples(remap[tids[keep]], docs[keep], pos[keep], lengths)
