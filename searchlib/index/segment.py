"""The segment format, in one place: writing a segment (for a flush and a merge alike),
opening it, and its deletion files.

Layout of a segment directory (arrays are .npy, opened memory-mapped; `schema.COLUMNS`
declares each one with its dtype and what a row stands for, and writing and opening both
iterate that declaration):
  vocab.txt / surface.txt   sorted terms, newline-joined; one readable word form per term
  text.ptr  (V+1) int64     postings of term t are ptr[t]:ptr[t+1] (df = the difference)
  text.blk  (V+1) int64     its blocks of POSTING_BLOCK postings are blk[t]:blk[t+1]
  text.width uint8          per block: byte widths of its doc / tf / position runs
  text.doc, .tf, .pos uint8 packed document gaps, tf - 1, position gaps (see postinglists);
  text.{doc,tf,pos}.off     term t's bytes of each are off[t]:off[t+1]
  text.len  int32           indexed terms per paragraph (BM25 length)
  title.*                   the same for the title field; its "documents" are articles
  art.first (A+1) int32     paragraphs of article a are art.first[a]:art.first[a+1]
  store.bin                 a zstd frame per block of STORE_BLOCK paragraphs (see textstore)
  store.off, store.crc      where each frame starts; CRC-32 of each frame
  store.first               (a merge's only) each frame's first paragraph: copied frames may
                            hold fewer than STORE_BLOCK
  articles.json             [[article id, title, source path], ...]
  art.off, vocab.off int64  where each record of articles.json and vocab.txt starts
  meta.date (A) int64       article date, seconds UTC (schema.NO_DATE: none)
  meta.ptr/meta.code        article a's keyword values: codes meta.code[ptr[a]:ptr[a+1]]
  meta.json                 the codes' [field, value] dictionary, sorted (metacolumns)
  deleted-<gen>.npy         bool per article, deleted by a later commit (named by the manifest)

A segment is written from `SegmentContent`: (term, document, position) triples per field plus
the article table and stored paragraphs. A flush builds it from analyzed text, a merge from
the live postings of older segments; postings are then built by one vectorized routine.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import mmap
import operator
import os
import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from tokenize import TokenError

import numpy as np
from numpy.lib import format as npformat

from ..errors import CorruptIndex
from .blocks import block_columns
from .metacolumns import SegmentMeta
from .packing import expand_ranges
from .postinglists import FieldPostings, encode_postings
from .schema import BLOBS, COLUMNS, FIELD_COLUMNS, FIELDS, STORE_BLOCK, Column
from .storage import Mapped, fsync_dir, read_verified, verify, write_file
from .textstore import TextStore, compress_store

__all__ = ["FIELDS", "FieldPostings", "FieldTriples", "Segment", "SegmentContent",
           "build_postings", "expand_ranges", "merge_vocabularies", "read_deletions",
           "stored_paragraphs", "write_deletions", "write_segment"]


# -- writing -----------------------------------------------------------------------------------


@dataclass
class FieldTriples:
    """One field's tokens as (term id, document, position), in (document, position) order."""

    terms: np.ndarray
    docs: np.ndarray
    positions: np.ndarray
    lengths: np.ndarray  # indexed terms per document (BM25 length)


@dataclass
class SegmentContent:
    """Everything a segment holds, before postings are built: what a flush and a merge give."""

    terms: list[str]  # sorted: the term ids of `fields` index it
    surface: list[str]  # a readable word per term
    fields: dict[str, FieldTriples]
    paragraph_counts: np.ndarray  # per article
    store: bytes  # the paragraphs' UTF-8 texts, concatenated
    paragraph_bytes: np.ndarray  # per paragraph
    articles: list  # (article id, title, source path) per article
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # other declared columns
    meta_dictionary: list = field(default_factory=list)  # [field, value] rows (metacolumns)

    @property
    def n_articles(self) -> int:
        return len(self.articles)

    @property
    def n_paragraphs(self) -> int:
        return len(self.paragraph_bytes)


def stored_paragraphs(title: str, paragraphs: list[str]) -> list[str]:
    """The paragraphs an article is indexed as. A headline-only article (news briefs,
    title-only records) is findable and shown through its title, as its single paragraph;
    the evaluation's peer engines index the same list, so paragraph numbers agree."""
    if not paragraphs and title.strip():
        return [title.strip()]
    return paragraphs


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


def write_segment(directory: Path, content: SegmentContent) -> dict:
    """Write `content` as a new segment directory (fsynced); returns its manifest entry."""
    arrays = dict(content.columns)
    for name, triples in content.fields.items():
        built = build_postings(triples.terms, triples.docs, triples.positions,
                               len(content.terms))
        encoded = encode_postings(built["ptr"], built["doc"], built["tf"], built["pos"])
        encoded["len"] = triples.lengths
        encoded.update(block_columns(built["ptr"], built["doc"], built["tf"], triples.lengths))
        arrays.update({f"{name}.{part}": values for part, values in encoded.items()})
    arrays["art.first"] = _offsets(content.paragraph_counts)
    store, arrays["store.off"], arrays["store.crc"] = compress_store(content.store,
                                                                     content.paragraph_bytes)
    records = [json_bytes(a) for a in content.articles]
    terms = [t.encode("utf-8") for t in content.terms]
    arrays["art.off"] = _offsets(np.array([len(r) + 2 for r in records], dtype=np.int64))
    arrays["vocab.off"] = _offsets(np.array([len(t) + 1 for t in terms], dtype=np.int64))
    blobs = {
        "vocab.txt": b"\n".join(terms),
        "surface.txt": "\n".join(content.surface).encode("utf-8"),
        "store.bin": store,
        "articles.json": b"[" + b", ".join(records) + b"]",
        "meta.json": json_bytes(content.meta_dictionary),
    }
    directory.mkdir()
    files = {}
    for name, column in COLUMNS.items():
        if column.optional and name not in arrays:
            continue
        data = npy_bytes(np.asarray(arrays[name]).astype(column.dtype, copy=False))
        files[f"{name}.npy"] = list(write_file(directory / f"{name}.npy", data))
    for name in BLOBS:
        files[name] = list(write_file(directory / name, blobs[name]))
    fsync_dir(directory)
    return {"name": directory.name, "articles": content.n_articles,
            "paragraphs": content.n_paragraphs, "files": files}


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def json_bytes(value: object) -> bytes:
    """UTF-8 JSON in which a surrogate-escaped string (a file name that is not UTF-8, as
    os.fsdecode gives it) is written as a \\udcff escape: it reads back as the same string,
    so ids and source paths survive the round trip instead of failing to encode."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")


def npy_bytes(arr: np.ndarray) -> bytes:
    bio = io.BytesIO()
    np.save(bio, np.ascontiguousarray(arr), allow_pickle=False)
    return bio.getvalue()


def merge_vocabularies(segments) -> dict[str, str]:
    """term → readable word over several segments (the shortest word seen for the term)."""
    merged: dict[str, str] = {}
    for seg in segments:
        for term, word in zip(seg.vocab, seg.surface):
            if term not in merged or len(word) < len(merged[term]):
                merged[term] = word
    return merged


# -- reading -----------------------------------------------------------------------------------


class ArticleTable(Sequence):
    """[id, title, source] per article, as in articles.json, each decoded when asked for.

    A search shows ten articles; decoding (or even splitting) all of them costs a one-shot
    search more than the search itself. `art.off` says where each record starts, so a hit
    decodes its record only; iterating decodes the file whole. A record that does not decode
    to three strings is damage (`CorruptIndex`)."""

    def __init__(self, data: Mapped, offsets: np.ndarray, label: str = "articles.json") -> None:
        self._data = data
        self._off = offsets
        self._label = label
        self._n = len(offsets) - 1
        self._all: list | None = None

    def _decode_all(self) -> list:
        if self._all is None:
            articles = self._loads(bytes(self._data))
            if not (isinstance(articles, list) and len(articles) == self._n
                    and all(map(_is_record, articles))):
                raise CorruptIndex(f"index file damaged: {self._label} does not list the articles")
            self._all = articles
        return self._all

    def _loads(self, data: bytes):
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise CorruptIndex(f"index file damaged: {self._label} is not valid JSON") from None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if self._all is not None:
            return self._all[i]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = operator.index(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("article index out of range")
        record = self._loads(bytes(self._data[int(self._off[i]) + 1:int(self._off[i + 1]) - 1]))
        if not _is_record(record):
            raise CorruptIndex(f"index file damaged: {self._label} does not list the articles")
        return record

    def __iter__(self) -> Iterator[list[str]]:
        return iter(self._decode_all())


def _is_record(a: object) -> bool:
    return isinstance(a, list) and len(a) == 3 and all(isinstance(x, str) for x in a)


class Segment:
    """Read-only view of one segment directory, memory-mapped; deletions applied on top.

    Every file is mapped once, when the segment is opened: the snapshot keeps reading (and
    `check` keeps verifying) the files of its own commit even after a writer unlinks them.
    Opening checks structure, not every byte, and reads no whole array (so it costs the same
    at any size): each file's size, .npy headers, dtypes, shapes, and the ends of offsets;
    `verify=True` also checks every file's CRC-32 (as a merge does). What a slice says is
    checked where it is read: a term's postings when decoded (`FieldPostings`), stored text
    per block (`TextStore`), offsets of records and words where bisected. So a damaged file
    is a `CorruptIndex`, not a wrong answer.
    """

    def __init__(self, directory: Path, entry: dict, verify: bool = False) -> None:
        self.dir = directory
        self._dir = str(directory)
        self.name = entry["name"]
        self.entry = entry
        self.n_articles = int(entry["articles"])
        self.n_paragraphs = int(entry["paragraphs"])
        self._maps: dict[str, Mapped] = {}
        self._term_ids: dict[str, int] = {}
        self._expected: dict[str, tuple[int, int]] = {}
        try:
            for fname, (size, crc) in entry["files"].items():
                self._open(fname, size, crc, checksum=verify)
            self.deleted = None  # bool per article, or None
            if entry.get("deleted"):  # tiny: always verified
                data = self._open(entry["deleted"], *entry["deleted_file"], checksum=True)
                self.deleted = _deleted_array(data, entry)
            self.columns = {name: self._array(name, column) for name, column in COLUMNS.items()
                            if not column.optional or f"{name}.npy" in self._maps}
            self.fields = {f: FieldPostings(
                {c.name: self.columns[f"{f}.{c.name}"] for c in FIELD_COLUMNS},
                self.n_paragraphs if f == "text" else self.n_articles, label=f"{self.name}/{f}")
                for f in FIELDS}
            self.art_first = self.columns["art.first"]
            self.text = TextStore(self._maps["store.bin"], self.columns["store.off"],
                                  self.columns["store.crc"], self.n_paragraphs,
                                  f"{self.name}/store.bin", self.columns.get("store.first"))
            self._validate()
        except BaseException:
            self.close()
            raise

    def _open(self, fname: str, size: int, crc: int, checksum: bool) -> Mapped:
        data = verify(os.path.join(self._dir, fname), size, crc if checksum else None,
                      f"{self.name}/{fname}")
        self._maps[fname] = data
        self._expected[fname] = (size, crc)
        return data

    def check(self) -> list[str]:
        """Problems with the files this segment opened (re-read now, not from the folder)."""
        problems = []
        for fname, (size, crc) in self._expected.items():
            data = self._maps.get(fname)
            if data is None or (isinstance(data, mmap.mmap) and data.closed):
                problems.append(f"{self.name}/{fname}: closed")
                continue
            try:
                verify(data, size, crc, f"{self.name}/{fname}")
            except CorruptIndex as exc:
                problems.append(str(exc))
        return problems

    def close(self) -> None:
        """Unmap what nothing uses any more (arrays still in use keep their mapping)."""
        for data in self._maps.values():
            if isinstance(data, mmap.mmap):
                with contextlib.suppress(BufferError):
                    data.close()

    def _units(self, field_name: str | None) -> dict[str, int | None]:
        """How many rows of each unit this segment has (what `Column.per` refers to; None:
        no other file says, checked where read)."""
        n_terms = len(self.columns["text.ptr"]) - 1
        units: dict[str, int | None] = {
            "article": self.n_articles, "paragraph": self.n_paragraphs,
            "byte": len(self._maps["store.bin"]), "term": n_terms,
            "store block": (len(self.columns["store.first"]) - 1 if "store.first" in self.columns
                            else -(-self.n_paragraphs // STORE_BLOCK)),
            "articles byte": len(self._maps["articles.json"]) if self.n_articles else 0,
            "vocab byte": len(self._maps["vocab.txt"]) + 1 if n_terms else 0,
            "keyword": len(self.columns["meta.code"])}
        if field_name is not None:
            units["doc"] = self.n_paragraphs if field_name == "text" else self.n_articles
            units["posting"] = None  # ptr[-1]: each term's slice is checked against its blocks
            units["posting block"] = len(self.columns[f"{field_name}.width"])
            for run in ("doc", "tf", "pos"):
                units[f"{run} byte"] = len(self.columns[f"{field_name}.{run}"])
        return units

    def _validate(self) -> None:
        """Structural checks in constant time (lengths and the ends of offsets, no scan), so
        a truncated, resized or mismatched file fails loudly at open."""
        units = {prefix: self._units(prefix) for prefix in (None, *FIELDS)}
        for name, arr in self.columns.items():
            prefix = name.partition(".")[0]
            if not _column_fits(arr, COLUMNS[name], units.get(prefix, units[None])):
                raise CorruptIndex(f"index files of segment {self.name} disagree with each other")

    def _array(self, name: str, column: Column) -> np.ndarray:
        label = f"{self.name}/{name}.npy"
        arr = npy_array(self._maps[f"{name}.npy"], label)
        if arr.dtype != np.dtype(column.dtype) or arr.ndim != 1:
            raise CorruptIndex(f"index file damaged: {label} holds {arr.dtype} values")
        return arr

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
        return ArticleTable(self._maps["articles.json"], self.columns["art.off"],
                            f"{self.name}/articles.json")

    @cached_property
    def meta(self) -> SegmentMeta:
        """The articles' dates and keyword fields (decoded on first use)."""
        self._rising("meta.ptr")
        return SegmentMeta(self.columns["meta.date"], self.columns["meta.ptr"],
                           self.columns["meta.code"], self._maps["meta.json"],
                           f"{self.name}/meta.json")

    def _rising(self, name: str) -> np.ndarray:
        """An offsets column read whole, checked to rise (not at open: that scan would grow
        with the index); its differences."""
        counts = np.diff(self.columns[name].astype(np.int64))
        if bool(np.any(counts < 0)):
            raise CorruptIndex(f"index file damaged: {self.name}/{name}.npy does not rise")
        return counts

    @cached_property
    def art_first64(self) -> np.ndarray:
        self._rising("art.first")
        return self.art_first.astype(np.int64)

    @cached_property
    def para_article(self) -> np.ndarray:
        counts = self._rising("art.first")
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

    @property
    def store(self) -> np.ndarray:
        """store.bin as bytes (uint8), mapped (compressed blocks: read through `text`)."""
        return self.text.view

    def term_id(self, term: str) -> int:
        """The term's row, or -1 (remembered: a query looks a term up once per field and
        clause, and a served index sees the same words again and again)."""
        cache = self._term_ids
        tid = cache.get(term)
        if tid is None:
            if len(cache) >= 65_536:
                cache.clear()
            tid = cache[term] = self._find_term(term)
        return tid

    def _find_term(self, term: str) -> int:
        """A binary search of vocab.txt's bytes (UTF-8 sorts as the code points do), so a
        query's few terms never split the whole vocabulary."""
        if "vocab" in self.__dict__:  # already split
            vocab = self.vocab
            i = bisect_left(vocab, term)
            return i if i < len(vocab) and vocab[i] == term else -1
        key = term.encode("utf-8", "surrogatepass")
        data, off = self._maps["vocab.txt"], self.columns["vocab.off"]
        lo, hi = 0, len(off) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if not 0 <= int(off[mid]) < int(off[mid + 1]) <= len(data) + 1:
                raise CorruptIndex(f"index file damaged: {self.name}/vocab.off.npy does not "
                                   "match vocab.txt")
            if data[int(off[mid]):int(off[mid + 1]) - 1] < key:
                lo = mid + 1
            else:
                hi = mid
        found = lo < len(off) - 1 and data[int(off[lo]):int(off[lo + 1]) - 1] == key
        return lo if found else -1

    def paragraph_text(self, pid: int) -> str:
        """A paragraph's stored text (its block checked and decompressed, a few kept)."""
        return self.text.paragraph(pid)


_NPY_HEADER_MAX = 65536 + 16  # magic, length and the largest header format 1.0 allows


def _column_fits(arr: np.ndarray, column: Column, units: dict[str, int | None]) -> bool:
    """Whether a column has the rows it declares (offsets: one more, from 0 to the number of
    units they point into); O(1): what lies between is checked where a slice is read."""
    rows = units.get(column.per)
    if column.offsets is not None:
        last = units.get(column.offsets)
        return (rows is not None and len(arr) == rows + 1 and int(arr[0]) == 0
                and (last is None or int(arr[-1]) == last))
    return rows is None or len(arr) == rows


def _npy_header_size(data: Mapped) -> int:
    """Bytes of a .npy file's magic, length and header, as its length field says (copying a
    fixed 64 KB per file instead cost a 7-segment index 10 ms per open)."""
    major = data[6] if len(data) > 6 else 0
    end = 12 if major >= 2 else 10
    length = int.from_bytes(data[8:end], "little") if len(data) >= end else 0
    return min(end + length, _NPY_HEADER_MAX)


# the header numpy writes for a 1-D array (format 1.0): read without numpy's literal_eval,
# which was half of opening an index; any other header takes numpy's own reader
_PLAIN_HEADER = re.compile(rb"\x93NUMPY\x01\x00..\{'descr': '([<|][a-z]\d{1,2})', "
                           rb"'fortran_order': False, 'shape': \((\d{1,18}),\), \} *\n",
                           re.DOTALL)
_DTYPES: dict[bytes, np.dtype] = {}


def npy_array(data: Mapped, label: str) -> np.ndarray:
    """A 1.0/2.0 .npy file's array, as a view of `data` (no copy), or CorruptIndex."""
    header = data[:128]  # what numpy writes for a 1-D array; else the length field says
    if header[8:10] != b"v\x00":
        header = data[:_npy_header_size(data)]
    plain = _PLAIN_HEADER.fullmatch(header)
    if plain is not None and len(header) % 16 == 0:
        descr, count = plain.group(1), int(plain.group(2))
        dtype = _DTYPES.get(descr)
        if dtype is None:
            try:
                dtype = _DTYPES[descr] = np.dtype(descr.decode("ascii"))
            except TypeError:
                raise CorruptIndex(f"index file damaged: {label} (unknown dtype)") from None
        if len(header) + count * dtype.itemsize != len(data) or dtype.hasobject:
            raise CorruptIndex(f"index file damaged: {label} (size does not match the header)")
        if count == 0:
            return np.zeros(0, dtype=dtype)
        return np.frombuffer(data, dtype=dtype, count=count, offset=len(header))
    head = io.BytesIO(header)
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


# -- deletion files ------------------------------------------------------------------------------


def read_deletions(seg_dir: Path, entry: dict) -> np.ndarray | None:
    """A segment's deletion bitmap, verified against its checksum (None: nothing deleted)."""
    name = entry.get("deleted")
    if not name:
        return None
    data = read_verified(seg_dir / name, *entry["deleted_file"], f"{entry['name']}/{name}")
    return _deleted_array(data, entry)


def write_deletions(seg_dir: Path, entry: dict, deleted: np.ndarray, generation: int,
                    written: list[Path]) -> dict:
    """Write a segment's deletion file for a new commit (noted in `written` before it exists,
    for clean-up); returns the segment's manifest entry naming it, with the deleted counts."""
    name = f"deleted-{generation:06d}.npy"
    label = f"{entry['name']}/art.first.npy"
    data = read_verified(seg_dir / "art.first.npy", *entry["files"]["art.first.npy"], label)
    first = npy_array(data, label)
    if first.shape != (entry["articles"] + 1,):
        raise CorruptIndex(f"index file damaged: {label} does not match its segment")
    written.append(seg_dir / name)
    size_crc = write_file(seg_dir / name, npy_bytes(deleted))
    fsync_dir(seg_dir)
    counts = np.diff(first.astype(np.int64))
    return {**entry, "deleted": name, "deleted_file": list(size_crc),
            "deleted_count": int(deleted.sum()),
            "deleted_paragraphs": int(counts[deleted].sum())}


def _deleted_array(data: Mapped, entry: dict) -> np.ndarray:
    deleted = npy_array(data, f"{entry['name']}/{entry['deleted']}")
    if deleted.dtype != np.bool_ or deleted.shape != (entry["articles"],):
        raise CorruptIndex(f"deletion file of segment {entry['name']} does not match it")
    return deleted
