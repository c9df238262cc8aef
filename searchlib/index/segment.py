"""An immutable segment: vocabulary, positional postings for two fields, stored paragraphs.

Layout of a segment directory (all arrays are .npy, opened memory-mapped):
  vocab.txt / surface.txt   sorted terms, newline-joined; one readable word form per term
  text.ptr  (V+1) int64     postings of term t are rows ptr[t]:ptr[t+1] of text.doc / text.tf
  text.doc, text.tf int32   paragraph id (segment-local) and term frequency per posting
  text.pos  int32           positions, grouped by posting (posting i owns tf[i] of them)
  text.len  int32           indexed terms per paragraph (BM25 length)
  title.*                   the same for the title field; its "documents" are articles
  art.first (A+1) int32     paragraphs of article a are art.first[a]:art.first[a+1]
  store.off (P+1) int64     byte offsets of each paragraph's UTF-8 text in store.bin
  articles.json             [[article id, title, source path], ...]

Postings are built in one vectorized pass: token streams arrive in (document, position)
order, so a stable sort by term id yields (term, document, position) order directly.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..analysis import Analyzer, token_re
from ..errors import CorruptIndex, SearchlibError
from .storage import crc32_file, write_file

FIELDS = ("text", "title")
_LAZY_FILES = ("vocab.txt", "surface.txt", "articles.json", "store.bin")


def build_postings(tids: np.ndarray, docs: np.ndarray, pos: np.ndarray, n_terms: int) -> dict:
    """Token triples in (doc, position) order → CSR postings with positions."""
    order = np.argsort(tids, kind="stable")
    t, d, p = tids[order], docs[order], pos[order]
    if len(t):
        new = np.empty(len(t), dtype=bool)
        new[0] = True
        np.not_equal(t[1:], t[:-1], out=new[1:])
        new[1:] |= d[1:] != d[:-1]
        starts = np.flatnonzero(new)
    else:
        starts = np.zeros(0, dtype=np.int64)
    tf = np.diff(np.append(starts, len(t))).astype(np.int32)
    ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(t[starts], minlength=n_terms), out=ptr[1:])
    return {
        "ptr": ptr,
        "doc": d[starts].astype(np.int32),
        "tf": tf,
        "pos": p.astype(np.int32),
    }


def merge_vocabularies(segments) -> dict[str, str]:
    """term → readable word over several segments (the shortest word seen for the term)."""
    merged: dict[str, str] = {}
    for seg in segments:
        for term, word in zip(seg.vocab, seg.surface):
            if term not in merged or len(word) < len(merged[term]):
                merged[term] = word
    return merged


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate arange(s, s+l) for each (s, l) pair, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(ends - lengths, lengths)
    return np.repeat(starts.astype(np.int64), lengths) + (np.arange(total) - offsets)


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
        self.art_first: list[int] = [0]
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
        words = token_re(text).findall(text.lower() if text.isascii() else text)
        try:
            return list(map(raw.__getitem__, words))
        except KeyError:
            return [raw[w] if w in raw else self._tid(w) for w in words]

    def add(self, article_id: str, title: str, source: str, paragraphs: list[str]) -> None:
        if not paragraphs and title.strip():
            # A headline-only article (news briefs, title-only records) is findable and
            # shown through its title, as its single paragraph.
            paragraphs = [title.strip()]
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
        self.art_first.append(len(self.paragraphs))

    def __len__(self) -> int:
        return len(self.articles)

    def _field(self, ids: list[int], counts: list[int], remap: np.ndarray) -> dict:
        tids = np.array(ids, dtype=np.int64)
        counts_arr = np.array(counts, dtype=np.int64)
        docs = np.repeat(np.arange(len(counts_arr), dtype=np.int64), counts_arr)
        pos = np.arange(len(tids), dtype=np.int64) - np.repeat(
            np.cumsum(counts_arr) - counts_arr, counts_arr
        )
        keep = tids >= 0
        out = build_postings(remap[tids[keep]], docs[keep], pos[keep], len(self.terms))
        out["len"] = np.bincount(docs[keep], minlength=len(counts_arr)).astype(np.int32)
        return out

    def write(self, directory: Path) -> dict:
        """Write the segment into a new directory; returns its manifest entry."""
        order = sorted(range(len(self.terms)), key=self.terms.__getitem__)
        remap = np.empty(len(order), dtype=np.int64)
        remap[np.array(order, dtype=np.int64)] = np.arange(len(order))
        fields = {
            "text": self._field(self.text_ids, self.text_counts, remap),
            "title": self._field(self.title_ids, self.title_counts, remap),
        }
        encoded = [p.encode("utf-8") for p in self.paragraphs]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        arrays = {f"{f}.{k}": v for f, parts in fields.items() for k, v in parts.items()}
        arrays["art.first"] = np.array(self.art_first, dtype=np.int32)
        arrays["store.off"] = offsets
        blobs = {
            "vocab.txt": "\n".join(self.terms[i] for i in order).encode("utf-8"),
            "surface.txt": "\n".join(self.surface[i] for i in order).encode("utf-8"),
            "store.bin": b"".join(encoded),
            "articles.json": json.dumps(self.articles, ensure_ascii=False).encode("utf-8"),
        }
        return write_segment(directory, arrays, blobs, len(self.articles), len(self.paragraphs))


def write_segment(
    directory: Path, arrays: dict[str, np.ndarray], blobs: dict[str, bytes], n_art: int, n_par: int
) -> dict:
    directory.mkdir()
    files = {}
    for name, arr in arrays.items():
        buf = _npy_bytes(arr)
        files[f"{name}.npy"] = list(write_file(directory / f"{name}.npy", buf))
    for name, data in blobs.items():
        files[name] = list(write_file(directory / name, data))
    return {"name": directory.name, "articles": n_art, "paragraphs": n_par, "files": files}


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    bio = io.BytesIO()
    np.save(bio, np.ascontiguousarray(arr), allow_pickle=False)
    return bio.getvalue()


class ArticleTable(Sequence):
    """[id, title, source] per article, as in articles.json, each decoded when asked for.

    A search shows ten articles; decoding all of them costs a one-shot search more than the
    search itself (12 ms for Reuters-21578). Between two records of three strings the file
    has `"], ["`, which cannot occur inside a JSON string (its quotes are escaped), so one
    split finds every record; any other layout is decoded whole, as is iterating over all."""

    def __init__(self, text: str, n: int) -> None:
        self._text = text
        self._all: list | None = None
        parts = text[3:-3].split('"], ["') if text.startswith('[["') else []
        self._parts = parts if n and len(parts) == n and text.endswith('"]]') else None
        if self._parts is None:
            self._all = json.loads(text)

    def __len__(self) -> int:
        return len(self._parts) if self._parts is not None else len(self._all or ())

    def __getitem__(self, i):
        if self._all is not None:
            return self._all[i]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return json.loads('["' + self._parts[i] + '"]')

    def __iter__(self) -> Iterator[list[str]]:
        if self._all is None:
            self._all = json.loads(self._text)
        return iter(self._all)


@dataclass
class FieldPostings:
    ptr: np.ndarray
    doc: np.ndarray
    tf: np.ndarray
    pos: np.ndarray
    length: np.ndarray

    @cached_property
    def pos_ptr(self) -> np.ndarray:
        out = np.zeros(len(self.tf) + 1, dtype=np.int64)
        np.cumsum(self.tf, out=out[1:])
        return out

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = int(self.ptr[tid]), int(self.ptr[tid + 1])
        return self.doc[lo:hi], self.tf[lo:hi]


class Segment:
    """Read-only view of one segment directory, memory-mapped; deletions applied on top."""

    def __init__(self, directory: Path, entry: dict, deleted: np.ndarray | None,
                 verify: bool = True) -> None:
        self.dir = directory
        self.name = entry["name"]
        self.entry = entry
        self.n_articles = int(entry["articles"])
        self.n_paragraphs = int(entry["paragraphs"])
        for fname, (size, crc) in entry["files"].items():
            p = directory / fname
            try:
                actual = p.stat().st_size
            except FileNotFoundError:
                raise CorruptIndex(f"index file missing: {self.name}/{fname}") from None
            if actual != size:
                raise CorruptIndex(
                    f"index file damaged: {self.name}/{fname} has {actual} bytes, expected {size}"
                )
            if verify and crc32_file(p) != crc:
                raise CorruptIndex(f"index file damaged: {self.name}/{fname} fails its checksum")
        try:
            self.fields = {f: self._field(f) for f in FIELDS}
            self.art_first = self._load("art.first")
            self.store_off = self._load("store.off")
        except (ValueError, OSError) as exc:
            raise CorruptIndex(f"index file damaged in segment {self.name}: {exc}") from None
        self.deleted = deleted  # bool per article, or None
        if deleted is not None and len(deleted) != self.n_articles:
            raise CorruptIndex(f"deletion file of segment {self.name} does not match it")
        self._validate()
        # Files read later are opened now: a reader's snapshot stays readable even after a
        # writer's commit has unlinked them (the open handle keeps the data alive).
        self._files = {}
        try:
            for n in _LAZY_FILES:
                self._files[n] = open(directory / n, "rb")  # noqa: SIM115
        except OSError as exc:
            self.close()
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                raise SearchlibError("too many open files to open the index") from None
            raise CorruptIndex(f"index file unreadable in segment {self.name}: {exc}") from None

    def close(self) -> None:
        for f in self._files.values():
            f.close()

    def _validate(self) -> None:
        """Cheap structural checks, so a damaged file fails loudly instead of misleading."""
        sizes = {"text": self.n_paragraphs, "title": self.n_articles}
        ok = len(self.art_first) == self.n_articles + 1
        ok &= len(self.store_off) == self.n_paragraphs + 1
        for f, fp in self.fields.items():
            ok &= len(fp.ptr) >= 1 and int(fp.ptr[0]) == 0 and int(fp.ptr[-1]) == len(fp.doc)
            ok &= len(fp.tf) == len(fp.doc) and len(fp.length) == sizes[f]
            ok &= bool(np.all(np.diff(fp.ptr) >= 0))
        if not ok:
            raise CorruptIndex(f"index files of segment {self.name} disagree with each other")

    def _load(self, name: str) -> np.ndarray:
        # A plain ndarray view of the mapping: np.memmap's Python-level __getitem__ is slow.
        return np.asarray(np.load(self.dir / f"{name}.npy", mmap_mode="r", allow_pickle=False))

    def _field(self, field: str) -> FieldPostings:
        parts = ("ptr", "doc", "tf", "pos", "len")
        return FieldPostings(*(self._load(f"{field}.{k}") for k in parts))

    def _read(self, name: str) -> bytes:
        f = self._files[name]
        return os.pread(f.fileno(), os.fstat(f.fileno()).st_size, 0)

    def _text(self, name: str) -> list[str]:
        data = self._read(name)
        return data.decode("utf-8").split("\n") if data else []

    @cached_property
    def vocab(self) -> list[str]:
        return self._text("vocab.txt")

    @cached_property
    def surface(self) -> list[str]:
        return self._text("surface.txt")

    @cached_property
    def articles(self) -> ArticleTable:
        return ArticleTable(self._read("articles.json").decode("utf-8"), self.n_articles)

    @cached_property
    def art_first64(self) -> np.ndarray:
        return self.art_first.astype(np.int64)

    @cached_property
    def para_article(self) -> np.ndarray:
        counts = np.diff(self.art_first.astype(np.int64))
        return np.repeat(np.arange(self.n_articles, dtype=np.int32), counts)

    @cached_property
    def live_paragraphs(self) -> np.ndarray | None:
        """Bool mask of live paragraphs, or None when nothing is deleted."""
        if self.deleted is None or not self.deleted.any():
            return None
        return ~self.deleted[self.para_article]

    @cached_property
    def live_articles(self) -> np.ndarray | None:
        if self.deleted is None or not self.deleted.any():
            return None
        return ~self.deleted

    @cached_property
    def _store(self) -> np.ndarray:
        fd = self._files["store.bin"].fileno()
        if os.fstat(fd).st_size == 0:  # an empty file cannot be memory-mapped
            return np.zeros(0, dtype=np.uint8)
        return np.frombuffer(mmap.mmap(fd, 0, access=mmap.ACCESS_READ), dtype=np.uint8)

    def term_id(self, term: str) -> int:
        vocab = self.vocab
        i = bisect_left(vocab, term)
        return i if i < len(vocab) and vocab[i] == term else -1

    def paragraph_text(self, pid: int) -> str:
        lo, hi = int(self.store_off[pid]), int(self.store_off[pid + 1])
        return bytes(self._store[lo:hi]).decode("utf-8")
