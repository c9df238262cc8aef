"""Parsing and analysis of article chunks, in this process or in worker processes (both cores).

Parsing records (JSON, metadata, paragraphs), tokenizing and stemming are the indexing's hot
loops and pure Python, so threads would share one core (the GIL). Workers get chunks of
articles or of record lines not parsed yet (`corpus.Pending`) and return the articles as the
index stores them plus compact analysis: the chunk's distinct raw tokens (with their terms and
normalized words) and one int32 array of raw-token ids. The parent turns those into its
segment's term ids in document order, so a build gives the same index whatever the number of
workers: one code path, only where it runs differs.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import signal
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np

from ..analysis import Analyzer, AnalyzerSettings
from ..corpus import Article, Pending, RecordNotes, parse_line
from ..errors import IndexWriteError
from .metacolumns import keyword_pairs
from .segment import stored_paragraphs
from .storage import failpoint

CHUNK_CHARS = 1 << 20  # text per chunk sent to a worker (pickling cost vs. balance)
INLINE_BYTES = 4 << 20  # below this much input, worker start-up costs more than it saves


VOCABULARY_LIMIT = 250_000  # raw tokens a worker numbers before it starts a new table (memory)


class RawVocabulary(dict):
    """raw token → id, numbered in order of first sight for the life of a worker (a dict
    lookup per token in C: `map(vocabulary.__getitem__, tokens)`). Each chunk's result
    carries only the raw tokens numbered since the previous one, so a word crosses the
    process boundary once, not once per chunk. `key` names the table: a worker's pid and a
    generation (a new one when the table reaches `VOCABULARY_LIMIT`)."""

    def __init__(self, key: tuple[int, int]) -> None:
        super().__init__()
        self.key = key
        self.raws: list[str] = []
        self.sent = 0  # raws already sent with an earlier chunk

    def __missing__(self, raw: str) -> int:
        i = self[raw] = len(self.raws)
        self.raws.append(raw)
        return i

    def renewed(self) -> RawVocabulary:
        """This table, or a fresh one if it has grown too big (memory stays bounded)."""
        if len(self.raws) < VOCABULARY_LIMIT:
            return self
        return RawVocabulary((self.key[0], self.key[1] + 1))


@dataclass
class RawTable:
    """The parent's copy of one `RawVocabulary`: every raw token it numbered, with its term
    and normalized word, grown by each chunk's new raws."""

    key: tuple[int, int]
    raws: list[str] = field(default_factory=list)
    terms: list[str | None] = field(default_factory=list)  # None: a stopword
    words: list[str] = field(default_factory=list)  # normalized (surface candidates)

    def extend(self, chunk: ChunkTokens) -> None:
        if chunk.first != len(self.raws):
            raise AssertionError("raw-token tables out of step")  # chunks came out of order
        self.raws += chunk.raws
        self.terms += chunk.terms
        self.words += chunk.words


@dataclass
class ChunkTokens:
    """A chunk's documents (title, then paragraphs, each) as raw-token ids of a worker's
    `RawVocabulary`, and the raw tokens it numbered for this chunk."""

    vocabulary: tuple[int, int]  # the `RawVocabulary.key` the ids refer to
    first: int  # the id of raws[0]
    raws: list[str]  # raw tokens first seen in this chunk, in order of id
    terms: list[str | None]  # each new raw token's term (None: a stopword)
    words: list[str]  # each new raw token's normalized word (the term's surface candidates)
    ids: np.ndarray  # int32 raw-token ids, document after document
    title_counts: np.ndarray  # tokens of each document's title
    para_counts: np.ndarray  # tokens of each paragraph, all documents in order
    paragraphs: np.ndarray  # paragraphs of each document
    doc_tokens: np.ndarray  # tokens of each document (title and paragraphs)
    stems: list[tuple[str, str]]  # word → stem pairs computed for the first time
    # the stored paragraphs as UTF-8, concatenated: one bytes object crosses the process
    # boundary (not a str per paragraph), and the flush joins them without encoding again
    store: bytes = b""
    paragraph_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    table: RawTable | None = None  # set where the chunk is placed (never pickled)


def analyze_chunk(analyzer: Analyzer, docs: list[tuple[str, list[str]]],
                  vocabulary: RawVocabulary, stems_seen: int | None = None) -> ChunkTokens:
    """Raw-token ids of `docs` ((title, paragraphs) pairs). `stems_seen`: how many of the
    analyzer's stems the caller already has (None: it shares the analyzer)."""
    tokens: list[str] = []
    title_counts, para_counts, paragraphs, doc_tokens = [], [], [], []
    words_of = analyzer.words
    for title, paras in docs:
        before = len(tokens)
        ws = words_of(title)
        tokens += ws
        title_counts.append(len(ws))
        for text in paras:
            ws = words_of(text)
            tokens += ws
            para_counts.append(len(ws))
        paragraphs.append(len(paras))
        doc_tokens.append(len(tokens) - before)
    ids = np.fromiter(map(vocabulary.__getitem__, tokens), dtype=np.int32, count=len(tokens))
    first, vocabulary.sent = vocabulary.sent, len(vocabulary.raws)
    raws = vocabulary.raws[first:]
    terms = list(map(analyzer.cache.__getitem__, raws))
    normal = _normalized(analyzer)
    words = [normal[r] if t is not None else "" for r, t in zip(raws, terms)]
    stems: list[tuple[str, str]] = []
    if stems_seen is not None:
        stems = list(itertools.islice(analyzer.stems.items(), stems_seen, None))
    return ChunkTokens(vocabulary.key, first, raws, terms, words, ids,
                       np.array(title_counts, dtype=np.int64),
                       np.array(para_counts, dtype=np.int64),
                       np.array(paragraphs, dtype=np.int64),
                       np.array(doc_tokens, dtype=np.int64), stems)


class _Normalized(dict):
    """raw token → its normalized word, computed once per analyzer (bounded like its term
    cache: cleared when it holds a million words)."""

    def __init__(self, analyzer: Analyzer) -> None:
        super().__init__()
        self.normalize = analyzer.normalize

    def __missing__(self, raw: str) -> str:
        if len(self) > 1_000_000:
            self.clear()
        word = self[raw] = self.normalize(raw)
        return word


_NORMALIZED: weakref.WeakKeyDictionary[Analyzer, _Normalized] = weakref.WeakKeyDictionary()


def _normalized(analyzer: Analyzer) -> _Normalized:
    table = _NORMALIZED.get(analyzer)
    if table is None:
        table = _NORMALIZED[analyzer] = _Normalized(analyzer)
    return table


# One unit of work: a parsed article (notes None), or a record line and its file's notes.
Unit = tuple[RecordNotes | None, Article | Pending]
# What the builder takes per article: (id, title, source path, number of stored
# paragraphs, metadata keyword pairs, date or None); the paragraphs' text is the chunk's
# `ChunkTokens.store`.
Item = tuple


@dataclass
class Analyzed:
    """A chunk's articles (record lines parsed) as `Item`s, their analysis, and what parsing
    had to say: line warnings in order, and each record file's notes (to be absorbed)."""

    items: list[Item]
    tokens: ChunkTokens
    warnings: list[str]
    notes: list[RecordNotes]


def analyze_units(analyzer: Analyzer, units: list[Unit], vocabulary: RawVocabulary,
                  stems_seen: int | None = None) -> Analyzed:
    """Parse the chunk's record lines and analyze all its articles, in order."""
    items: list[Item] = []
    docs: list[tuple[str, list[str]]] = []
    texts: list[str] = []
    warnings: list[str] = []
    gathered: dict[str, RecordNotes] = {}
    for notes, unit in units:
        if notes is not None:
            local = gathered.get(notes.source.path)
            if local is None:
                local = gathered[notes.source.path] = notes.fresh()
            article = parse_line(local, unit.number, unit.line, warnings.append)
            if article is None:
                continue
        else:
            article = unit
        paragraphs = stored_paragraphs(article.title, list(article.paragraphs))
        # a tuple (not a list) of pairs: the collector stops tracking it, so a builder
        # holding a segment's articles adds nothing to the parent's collections
        items.append((article.id, article.title, article.source, len(paragraphs),
                      tuple(keyword_pairs(article.meta)), article.meta.date))
        docs.append((article.title, paragraphs))
        texts += paragraphs
    tokens = analyze_chunk(analyzer, docs, vocabulary, stems_seen)
    tokens.store, tokens.paragraph_bytes = utf8_store(texts)
    return Analyzed(items, tokens, warnings, list(gathered.values()))


def utf8_store(texts: list[str]) -> tuple[bytes, np.ndarray]:
    """`texts` as UTF-8, concatenated, and the bytes of each (ASCII, the usual case, is
    encoded in one call: its byte lengths are its character lengths)."""
    joined = "".join(texts)
    if joined.isascii():
        parts = [joined.encode("ascii")]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    else:
        parts = [t.encode("utf-8") for t in texts]
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    return b"".join(parts), lengths


_worker: dict = {}


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a parent killed outright (SIGKILL, the OOM killer): it
    would hold the parent's output pipes open and its memory forever. Linux's
    PR_SET_PDEATHSIG sends it SIGKILL then (other systems lack it: there a worker waits for
    work that never comes, as before)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _init_worker(settings: AnalyzerSettings, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and cleans up
    _die_with_parent(parent)
    _worker["analyzer"] = Analyzer(settings)
    _worker["sent"] = 0
    _worker["vocabulary"] = RawVocabulary((os.getpid(), 0))
    # A chunk makes ~100k short-lived containers (parsed records, lists, tuples), all freed
    # by reference counting; the cyclic collector's passes over them were ~12% of a worker's
    # time. It runs once per chunk instead, over what is alive then (the objects inherited
    # from the parent are frozen: never scanned, nor their pages touched).
    gc.freeze()
    gc.disable()


def _analyze_in_worker(units: list[Unit]) -> Analyzed:
    gc.collect()  # the previous chunk's cycles, if any (it is gone by now)
    failpoint("analysis-worker")
    analyzer = _worker["analyzer"]
    vocabulary = _worker["vocabulary"] = _worker["vocabulary"].renewed()
    out = analyze_units(analyzer, units, vocabulary, _worker["sent"])
    _worker["sent"] = len(analyzer.stems)
    return out


def default_jobs() -> int:
    return os.cpu_count() or 1


class Pipeline:
    """Units in (articles, or record lines to parse), their analysis out in submission order
    (`place` is called with each chunk's `Analyzed`); `after` runs a callback once everything
    added before it is placed. Up to 2 × jobs chunks are in flight, which bounds the memory
    held for them while the parent reads and flushes."""

    def __init__(self, analyzer: Analyzer, jobs: int,
                 place: Callable[[Analyzed], None]) -> None:
        if multiprocessing.current_process().daemon:
            jobs = 1  # a daemonic process (a multiprocessing.Pool's) may not start workers
        self.analyzer, self.jobs, self.place = analyzer, jobs, place
        self.units: list[Unit] = []
        self.callbacks: list[Callable[[], None]] = []
        self.chars = 0
        self.pool: ProcessPoolExecutor | None = None
        self.vocabulary = RawVocabulary((os.getpid(), 0))  # analysis in this process
        self.tables: dict[int, RawTable] = {}  # worker pid (or ours) → its current table
        self.flight: deque[tuple[Future, list[Callable[[], None]]]] = deque()

    def add(self, notes: RecordNotes | None, unit: Article | Pending) -> None:
        """An article (`notes` None) or a line of the record file `notes` describes."""
        self.units.append((notes, unit))
        if notes is None:
            self.chars += len(unit.title) + sum(map(len, unit.paragraphs))
        else:
            self.chars += len(unit.line)
        if self.chars >= CHUNK_CHARS:
            self._send()

    def after(self, callback: Callable[[], None]) -> None:
        """Call `callback` once every unit added so far has been placed."""
        if self.units:
            self.callbacks.append(callback)
        elif self.flight:
            self.flight[-1][1].append(callback)
        else:
            callback()

    def _send(self) -> None:
        units, callbacks = self.units, self.callbacks
        self.units, self.callbacks, self.chars = [], [], 0
        if not units:
            for callback in callbacks:
                callback()
            return
        if self.jobs <= 1:
            self.vocabulary = self.vocabulary.renewed()
            self._arrived(analyze_units(self.analyzer, units, self.vocabulary))
            for callback in callbacks:
                callback()
            return
        if self.pool is None:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=ctx,
                                            initializer=_init_worker,
                                            initargs=(self.analyzer.settings, os.getpid()))
        self.flight.append((self.pool.submit(_analyze_in_worker, units), callbacks))
        while len(self.flight) > 2 * self.jobs:
            self._receive()

    def _receive(self) -> None:
        future, callbacks = self.flight.popleft()
        try:
            result = future.result()
        except BrokenProcessPool:
            raise IndexWriteError(
                "an analysis worker process died (killed, or out of memory?); the previous "
                "commit is intact (--jobs 1 analyzes without workers)") from None
        self.analyzer.stems.update(result.tokens.stems)
        self._arrived(result)
        for callback in callbacks:
            callback()

    def _arrived(self, result: Analyzed) -> None:
        """Grow the table the chunk's ids refer to by its new raw tokens, then place it.
        A worker's chunks arrive in the order it analyzed them (each takes its chunks in
        submission order), so its table grows in step."""
        chunk = result.tokens
        pid, generation = chunk.vocabulary
        table = self.tables.get(pid)
        if table is None or table.key != chunk.vocabulary:
            table = self.tables[pid] = RawTable(chunk.vocabulary)
        table.extend(chunk)
        chunk.table = table
        self.place(result)

    def drain(self) -> None:
        """Analyze and place everything added so far."""
        self._send()
        while self.flight:
            self._receive()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self.flight.clear()
