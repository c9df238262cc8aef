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

import contextlib
import errno
import io
import json
import math
import mmap
import zlib
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from tokenize import TokenError

import numpy as np
from numpy.lib import format as npformat

from ..analysis import Analyzer
from ..errors import CorruptIndex, SearchlibError
from .schema import FIELDS
from .storage import map_file, write_file


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


def stored_paragraphs(title: str, paragraphs: list[str]) -> list[str]:
    """The paragraphs an article is indexed as. A headline-only article (news briefs,
    title-only records) is findable and shown through its title, as its single paragraph;
    the evaluation's peer engines index the same list, so paragraph numbers agree."""
    if not paragraphs and title.strip():
        return [title.strip()]
    return paragraphs


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
        words = self.analyzer.words(text)
        try:
            return list(map(raw.__getitem__, words))
        except KeyError:
            return [raw[w] if w in raw else self._tid(w) for w in words]

    def add(self, article_id: str, title: str, source: str, paragraphs: list[str]) -> None:
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
            "articles.json": json_bytes(self.articles),
        }
        return write_segment(directory, arrays, blobs, len(self.articles), len(self.paragraphs))


def json_bytes(value: object) -> bytes:
    """UTF-8 JSON in which a surrogate-escaped string (a file name that is not UTF-8, as
    os.fsdecode gives it) is written as a \\udcff escape: it reads back as the same string,
    so ids and source paths survive the round trip instead of failing to encode."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")


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
    split finds every record; any other layout is decoded whole, as is iterating over all.
    A record that does not decode to three strings is damage (`CorruptIndex`)."""

    def __init__(self, text: str, n: int, label: str = "articles.json") -> None:
        self._text = text
        self._label = label
        self._n = n
        self._all: list | None = None
        parts = text[3:-3].split('"], ["') if text.startswith('[["') else []
        self._parts = parts if n and len(parts) == n and text.endswith('"]]') else None
        if self._parts is None:
            self._decode_all()

    def _decode_all(self) -> list:
        if self._all is None:
            articles = self._loads(self._text)
            if not (isinstance(articles, list) and len(articles) == self._n
                    and all(map(_is_record, articles))):
                raise CorruptIndex(f"index file damaged: {self._label} does not list the articles")
            self._all = articles
        return self._all

    def _loads(self, text: str):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise CorruptIndex(f"index file damaged: {self._label} is not valid JSON") from None

    def __len__(self) -> int:
        return len(self._parts) if self._parts is not None else len(self._all or ())

    def __getitem__(self, i):
        if self._all is not None:
            return self._all[i]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        record = self._loads('["' + self._parts[i] + '"]')
        if not _is_record(record):
            raise CorruptIndex(f"index file damaged: {self._label} does not list the articles")
        return record

    def __iter__(self) -> Iterator[list[str]]:
        return iter(self._decode_all())


def _is_record(a: object) -> bool:
    return isinstance(a, list) and len(a) == 3 and all(isinstance(x, str) for x in a)


@dataclass
class FieldPostings:
    ptr: np.ndarray
    doc: np.ndarray
    tf: np.ndarray
    pos: np.ndarray
    length: np.ndarray
    label: str = ""  # segment/field, for messages

    @cached_property
    def pos_ptr(self) -> np.ndarray:
        out = np.zeros(len(self.tf) + 1, dtype=np.int64)
        np.cumsum(self.tf, out=out[1:])
        if int(out[-1]) != len(self.pos) or not bool(np.all(self.tf >= 1)):
            raise CorruptIndex(f"index file damaged: term frequencies of {self.label} do not "
                               "match its positions")
        return out

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = int(self.ptr[tid]), int(self.ptr[tid + 1])
        return self.doc[lo:hi], self.tf[lo:hi]


class Segment:
    """Read-only view of one segment directory, memory-mapped; deletions applied on top.

    Every file is mapped once, when the segment is opened: the snapshot keeps reading (and
    `check` keeps verifying) the files of its own commit even after a writer unlinks them.
    Everything parsed from a file is checked for shape here or where it is first decoded,
    so a damaged file is a `CorruptIndex`, also with verify=False.
    """

    def __init__(self, directory: Path, entry: dict, verify: bool = True) -> None:
        self.dir = directory
        self.name = entry["name"]
        self.entry = entry
        self.n_articles = int(entry["articles"])
        self.n_paragraphs = int(entry["paragraphs"])
        self._maps: dict[str, mmap.mmap | bytes] = {}
        self._expected: dict[str, tuple[int, int]] = {}
        try:
            for fname, (size, crc) in entry["files"].items():
                self._maps[fname] = _open_checked(directory / fname, f"{self.name}/{fname}",
                                                  size, crc if verify else None)
                self._expected[fname] = (size, crc)
            self.deleted = None  # bool per article, or None
            if entry.get("deleted"):
                self.deleted = self._load_deleted(entry)
            self.fields = {f: self._field(f) for f in FIELDS}
            self.art_first = self._array("art.first")
            self.store_off = self._array("store.off")
            self._validate()
        except BaseException:
            self.close()
            raise

    def _load_deleted(self, entry: dict) -> np.ndarray:
        fname = entry["deleted"]
        size, crc = entry["deleted_file"]
        label = f"{self.name}/{fname}"
        data = _open_checked(self.dir / fname, label, size, crc)  # tiny: always verified
        self._maps[fname] = data
        self._expected[fname] = (size, crc)
        return _deleted_array(data, entry)

    def check(self) -> list[str]:
        """Problems with the files this segment opened (re-read now, not from the folder)."""
        problems = []
        for fname, (size, crc) in self._expected.items():
            data = self._maps.get(fname)
            if data is None or (isinstance(data, mmap.mmap) and data.closed):
                problems.append(f"{self.name}/{fname}: closed")
            else:
                problems += check_data(data, f"{self.name}/{fname}", size, crc)
        return problems

    def close(self) -> None:
        """Unmap what nothing uses any more (arrays still in use keep their mapping)."""
        for data in self._maps.values():
            if isinstance(data, mmap.mmap):
                with contextlib.suppress(BufferError):
                    data.close()

    def _validate(self) -> None:
        """Cheap structural checks, so a damaged file fails loudly instead of misleading."""
        sizes = {"text": self.n_paragraphs, "title": self.n_articles}
        ok = _bounds(self.art_first, self.n_articles + 1, self.n_paragraphs)
        ok = ok and _bounds(self.store_off, self.n_paragraphs + 1, len(self._maps["store.bin"]))
        n_terms = len(self.fields["text"].ptr)
        for f, fp in self.fields.items():
            ok = ok and len(fp.ptr) == n_terms and _bounds(fp.ptr, n_terms, len(fp.doc))
            ok = ok and len(fp.tf) == len(fp.doc) and len(fp.length) == sizes[f]
            if ok and len(fp.doc):  # (tf is checked against positions where they are used)
                ok = int(fp.doc.min()) >= 0 and int(fp.doc.max()) < sizes[f]
        if not ok:
            raise CorruptIndex(f"index files of segment {self.name} disagree with each other")

    def _array(self, name: str) -> np.ndarray:
        label = f"{self.name}/{name}.npy"
        arr = npy_array(self._maps[f"{name}.npy"], label)
        if arr.dtype != _DTYPES[name.split(".")[-1]] or arr.ndim != 1:
            raise CorruptIndex(f"index file damaged: {label} holds {arr.dtype} values")
        return arr

    def _field(self, field: str) -> FieldPostings:
        parts = ("ptr", "doc", "tf", "pos", "len")
        return FieldPostings(*(self._array(f"{field}.{k}") for k in parts),
                             label=f"{self.name}/{field}")

    def _text(self, name: str) -> list[str]:
        data = bytes(self._maps[name])
        try:
            return data.decode("utf-8").split("\n") if data else []
        except UnicodeDecodeError:
            raise CorruptIndex(f"index file damaged: {self.name}/{name} is not UTF-8") from None

    def _terms(self, name: str) -> list[str]:
        terms = self._text(name)
        expected = len(self.fields["text"].ptr) - 1
        if len(terms) != expected:
            raise CorruptIndex(f"index file damaged: {self.name}/{name} has {len(terms)} "
                               f"words, expected {expected}")
        return terms

    @cached_property
    def vocab(self) -> list[str]:
        return self._terms("vocab.txt")

    @cached_property
    def surface(self) -> list[str]:
        return self._terms("surface.txt")

    @cached_property
    def articles(self) -> ArticleTable:
        label = f"{self.name}/articles.json"
        try:
            text = bytes(self._maps["articles.json"]).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptIndex(f"index file damaged: {label} is not valid JSON") from None
        return ArticleTable(text, self.n_articles, label)

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
        return np.frombuffer(self._maps["store.bin"], dtype=np.uint8)

    def term_id(self, term: str) -> int:
        vocab = self.vocab
        i = bisect_left(vocab, term)
        return i if i < len(vocab) and vocab[i] == term else -1

    def paragraph_text(self, pid: int) -> str:
        lo, hi = int(self.store_off[pid]), int(self.store_off[pid + 1])
        try:
            return bytes(self._store[lo:hi]).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptIndex(f"index file damaged: {self.name}/store.bin is not UTF-8") from None


_DTYPES = {"ptr": np.dtype(np.int64), "off": np.dtype(np.int64), "doc": np.dtype(np.int32),
           "tf": np.dtype(np.int32), "pos": np.dtype(np.int32), "len": np.dtype(np.int32),
           "first": np.dtype(np.int32)}
_NPY_HEADER_MAX = 65536 + 16  # magic, length and the largest header format 1.0 allows


def _bounds(arr: np.ndarray, length: int, last: int) -> bool:
    """An offsets array: `length` entries rising from 0 to `last`."""
    return (len(arr) == length and length >= 1 and int(arr[0]) == 0 and int(arr[-1]) == last
            and bool(np.all(arr[1:] >= arr[:-1])))


def _open_checked(path: Path, label: str, size: int, crc: int | None) -> mmap.mmap | bytes:
    """Map a file of the commit, with its recorded size (and checksum, unless crc is None)."""
    try:
        data = map_file(path)
    except FileNotFoundError:
        raise CorruptIndex(f"index file missing: {label}") from None
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise SearchlibError("too many open files to open the index") from None
        raise CorruptIndex(f"index file unreadable: {label}: {exc.strerror or exc}") from None
    if len(data) != size:
        raise CorruptIndex(f"index file damaged: {label} has {len(data)} bytes, expected {size}")
    if crc is not None and zlib.crc32(data) != crc:
        raise CorruptIndex(f"index file damaged: {label} fails its checksum")
    return data


def check_data(data: mmap.mmap | bytes, label: str, size: int, crc: int) -> list[str]:
    """`check`'s verdict on opened file data: [] or one line saying what is wrong."""
    actual = data.size() if isinstance(data, mmap.mmap) else len(data)  # size() is fstat:
    if actual != size:  # a file truncated since it was mapped is reported, never touched
        return [f"{label}: {actual} bytes, expected {size}"]
    if zlib.crc32(data) != crc:
        return [f"{label}: checksum mismatch (file damaged)"]
    return []


def npy_array(data: mmap.mmap | bytes, label: str) -> np.ndarray:
    """A 1.0/2.0 .npy file's array, as a view of `data` (no copy), or CorruptIndex."""
    head = io.BytesIO(data[:_NPY_HEADER_MAX])
    try:
        version = npformat.read_magic(head)
        readers = {(1, 0): npformat.read_array_header_1_0,
                   (2, 0): npformat.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"unsupported .npy version {version}")
        shape, fortran, dtype = readers[version](head)
        if dtype.hasobject or fortran or not all(isinstance(n, int) for n in shape):
            raise ValueError("not a plain array")
        count = math.prod(shape)
        offset = head.tell()
        if offset + count * dtype.itemsize != len(data):
            raise ValueError("size does not match the header")
        if count == 0:
            return np.zeros(shape, dtype=dtype)
        return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
    except (ValueError, SyntaxError, TypeError, TokenError, OverflowError) as exc:
        raise CorruptIndex(f"index file damaged: {label} ({exc})") from None


def read_checked(path: Path, label: str, size: int, crc: int) -> bytes:
    """A file of the commit, read whole after checking its recorded size and checksum."""
    data = _open_checked(path, label, size, crc)
    try:
        return bytes(data)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def load_deleted(seg_dir: Path, entry: dict) -> np.ndarray | None:
    """A segment's deletion bitmap, verified against its checksum (None: nothing deleted)."""
    name = entry.get("deleted")
    if not name:
        return None
    label = f"{entry['name']}/{name}"
    return _deleted_array(read_checked(seg_dir / name, label, *entry["deleted_file"]), entry)


def _deleted_array(data: mmap.mmap | bytes, entry: dict) -> np.ndarray:
    deleted = npy_array(data, f"{entry['name']}/{entry['deleted']}")
    if deleted.dtype != np.bool_ or deleted.shape != (entry["articles"],):
        raise CorruptIndex(f"deletion file of segment {entry['name']} does not match it")
    return deleted
