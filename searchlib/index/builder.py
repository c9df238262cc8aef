"""Analyzed articles → the content of one segment (the in-memory side of a flush).

Articles arrive analyzed in chunks (`analyze.ChunkTokens`: raw-token ids, from this process
or a worker) and are added one by one, in order, so a flush falls between the same two
articles however many workers analyzed them. Raw-token ids (each worker numbers its own)
become term ids through a numpy map per worker's table; the (term, document, position)
triples that `segment.write_segment` turns into postings are made at the flush, with the
terms the segment holds renumbered in sorted order.

The next builder of the same update carries these tables over (`SegmentBuilder(analyzer,
previous)`): a raw token is resolved to its term once per update, not once per flush. So a
term's readable word in a later flush is the shortest seen in the update so far — what the
update's merged segment holds anyway (`segment.merge_vocabularies`: first shortest wins).
"""

from __future__ import annotations

import numpy as np

from ..analysis import Analyzer
from .analyze import ChunkTokens, Item, RawTable
from .metacolumns import encode
from .segment import FieldTriples, SegmentContent, expand_ranges

# Bytes a flush needs per buffered token (int32 ids now; int64 triples, the sort and the
# postings at the flush) and per byte of stored text (UTF-8 runs, then the joined store).
FLUSH_BYTES_PER_TOKEN = 100
FLUSH_BYTES_PER_CHAR = 4
ARTICLE_BYTES = 400
# Raw tokens a builder may carry over to the next flush's (with their terms: ~100 bytes
# each); past this the next one starts afresh, so memory stays bounded however many distinct
# words an update brings (a worker renews its own table at 250,000).
CARRY_LIMIT = 500_000


class SegmentBuilder:
    """Accumulates analyzed articles in memory until flushed as one segment."""

    def __init__(self, analyzer: Analyzer, previous: SegmentBuilder | None = None) -> None:
        self.analyzer = analyzer
        self.terms: list[str] = []
        self.surface: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._raw: dict[str, int] = {}  # raw token → term id (-1: a stopword)
        # per raw-token table: raw id → term id (-1: a stopword, -2: not seen yet)
        self._maps: dict[tuple[int, int], np.ndarray] = {}
        if previous is not None and len(previous._raw) < CARRY_LIMIT:
            # copies: `previous` is flushed in another thread while this one grows
            self.terms, self.surface = list(previous.terms), list(previous.surface)
            self._term_ids, self._raw = dict(previous._term_ids), dict(previous._raw)
            latest = {}  # a worker's renewed table replaces its older ones
            for pid, generation in previous._maps:
                latest[pid] = max(generation, latest.get(pid, generation))
            self._maps = {key: m.copy() for key, m in previous._maps.items()
                          if latest[key[0]] == key[1]}
        self._none = np.zeros(0, dtype=np.int32)
        self.text_ids: list[np.ndarray] = []
        self.text_counts: list[np.ndarray] = []
        self.title_ids: list[np.ndarray] = []
        self.title_counts: list[np.ndarray] = []
        self.stores: list[bytes] = []  # stored paragraphs (UTF-8), run after run
        self.paragraph_bytes: list[np.ndarray] = []
        self.articles: list[tuple[str, str, str]] = []
        self.paragraph_counts: list[np.ndarray] = []
        self.keywords: list[tuple[tuple[str, str], ...]] = []
        self.dates: list[int | None] = []
        self.tokens = 0
        self.store_bytes = 0

    def estimated_bytes(self) -> int:
        """What flushing this builder would take in memory, roughly (the memory budget)."""
        return (self.tokens * FLUSH_BYTES_PER_TOKEN + self.store_bytes * FLUSH_BYTES_PER_CHAR
                + len(self.articles) * ARTICLE_BYTES)

    def _tid(self, table: RawTable, raw_id: int) -> int:
        term = table.terms[raw_id]
        if term is None:
            return -1
        word = table.words[raw_id]
        tid = self._term_ids.get(term, -1)
        if tid < 0:
            tid = self._term_ids[term] = len(self.terms)
            self.terms.append(term)
            self.surface.append(word)
        elif len(word) < len(self.surface[tid]):
            self.surface[tid] = word
        return tid

    def _term_ids_of(self, table: RawTable, raw_ids: np.ndarray) -> np.ndarray:
        """Term ids of a run of raw-token ids of `table`; new terms numbered in order of
        appearance in the run (so a build is the same whichever worker analyzed what)."""
        known = self._maps.get(table.key, self._none)
        if len(known) < len(table.raws):
            grown = np.full(max(len(table.raws), 2 * len(known)), -2, dtype=np.int32)
            grown[:len(known)] = known
            known = self._maps[table.key] = grown
        mapped = known[raw_ids]
        unseen = mapped == -2
        if unseen.any():
            found, first = np.unique(raw_ids[unseen], return_index=True)
            new = found[np.argsort(first, kind="stable")]
            raws = table.raws
            keys = [raws[i] for i in new.tolist()]
            tids = list(map(self._raw.get, keys))  # seen through another table: not new
            for k in [k for k, tid in enumerate(tids) if tid is None]:
                tids[k] = self._raw[keys[k]] = self._tid(table, int(new[k]))
            known[new] = tids
            mapped = known[raw_ids]
        return mapped

    def add(self, items: list[Item], chunk: ChunkTokens, tokens: slice, docs: slice,
            counts: slice) -> None:
        """Add a run of a chunk's articles: `items` ((id, title, source, number of stored
        paragraphs, keyword pairs, date)), which are `chunk`'s documents `docs`, its tokens
        `chunk.ids[tokens]` and its paragraphs `counts`. One run or several give the same
        segment."""
        ids = self._term_ids_of(chunk.table, chunk.ids[tokens])
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
        sizes = chunk.paragraph_bytes[counts]
        first = int(chunk.paragraph_bytes[:counts.start].sum())
        end = first + int(sizes.sum())
        self.stores.append(chunk.store if (first, end) == (0, len(chunk.store))
                           else chunk.store[first:end])
        self.paragraph_bytes.append(sizes)
        self.store_bytes += end - first
        for article_id, title, source, _, keywords, date in items:
            self.articles.append((article_id, title, source))
            self.keywords.append(keywords)
            self.dates.append(date)
        self.paragraph_counts.append(chunk.paragraphs[docs])

    def __len__(self) -> int:
        return len(self.articles)

    def content(self) -> SegmentContent:
        """What is buffered, with the terms it holds renumbered in sorted order (the
        vocabulary's); terms carried over from earlier flushes but absent here are left out."""
        held = np.zeros(len(self.terms), dtype=bool)
        for ids in (*self.text_ids, *self.title_ids):
            held[ids[ids >= 0]] = True
        order = sorted(np.flatnonzero(held).tolist(), key=self.terms.__getitem__)
        remap = np.full(len(self.terms), -1, dtype=np.int64)
        remap[np.array(order, dtype=np.int64)] = np.arange(len(order))
        columns, dictionary = encode(self.keywords, self.dates)
        return SegmentContent(
            terms=[self.terms[i] for i in order],
            surface=[self.surface[i] for i in order],
            fields={"text": _triples(self.text_ids, self.text_counts, remap),
                    "title": _triples(self.title_ids, self.title_counts, remap)},
            paragraph_counts=np.concatenate([np.zeros(0, np.int64), *self.paragraph_counts]),
            store=b"".join(self.stores),
            paragraph_bytes=np.concatenate([np.zeros(0, np.int64), *self.paragraph_bytes]),
            articles=self.articles, columns=columns, meta_dictionary=dictionary,
        )


def _triples(ids: list[np.ndarray], counts: list[np.ndarray],
             remap: np.ndarray) -> FieldTriples:
    """Token ids by document (-1: a stopword, which only takes up its position) → triples."""
    tids = np.concatenate([np.zeros(0, np.int32), *ids])
    counts_arr = np.concatenate([np.zeros(0, np.int64), *counts]).astype(np.int64)
    n = len(counts_arr)
    keep = np.flatnonzero(tids >= 0)  # a token's index is its position plus its doc's start
    docs = np.repeat(np.arange(n, dtype=np.int64), counts_arr)[keep]
    pos = keep - (np.cumsum(counts_arr) - counts_arr)[docs]
    lengths = np.bincount(docs, minlength=n)
    return FieldTriples(remap[tids[keep]], docs, pos, lengths)
