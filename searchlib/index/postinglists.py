"""A field's postings in the compact format: encoded when a segment is written, decoded per term
(or whole, for a merge) when read.

The postings of a term (sorted documents, tf, and each posting's positions) are cut in blocks
of `POSTING_BLOCK` postings. Per block, three byte-aligned runs (`packing`): document gaps (the
first of a term from 0, so a term decodes with one cumulative sum), tf − 1 (mostly 0 bytes:
most words occur once in a paragraph) and position gaps within each posting; one width byte
per block names the three widths. Per term, `ptr` (postings), `blk` (blocks) and the byte
offsets of its three runs (`doc.off`, `tf.off`, `pos.off`) locate it.

Opening checks only shapes; what a term's slice says is checked when it is decoded (sizes
agree, documents rise and stay in range), so damage is a `CorruptIndex` on the query that
reads it, never a wrong hit or an IndexError.
"""

from __future__ import annotations

import weakref
from functools import cached_property

import numpy as np

from ..errors import CorruptIndex
from .decodedcache import CACHE
from .packing import (
    UNPACKED,
    WIDTH_BYTES,
    exclusive_cumsum,
    expand_ranges,
    gaps_of,
    pack,
    packed_size,
    runs_cumsum,
    unpack,
    unpack_blocks,
    width_codes,
)
from .schema import POSTING_BLOCK

_WIDTHS = WIDTH_BYTES.tolist()
# asked for at least 1/WHOLE_POSITIONS of a many-block term's postings, `positions` decodes
# (and caches) all its positions rather than finding each posting's bytes
WHOLE_POSITIONS = 4
_NONE = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64),
         np.zeros(0, dtype=np.uint8))
for _array in _NONE:
    _array.flags.writeable = False


def block_counts(df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blocks per term, and postings per block (all terms' blocks in order)."""
    df = np.asarray(df, dtype=np.int64)
    n_blocks = -(-df // POSTING_BLOCK)
    counts = np.full(int(n_blocks.sum()), POSTING_BLOCK, dtype=np.int64)
    has = n_blocks > 0
    last = np.cumsum(n_blocks)[has] - 1
    counts[last] = df[has] - POSTING_BLOCK * (n_blocks[has] - 1)
    return n_blocks, counts


def _term_bytes(block_sizes: np.ndarray, n_blocks: np.ndarray) -> np.ndarray:
    """Byte offsets per term (V+1) from each block's byte size."""
    per_term = np.zeros(len(n_blocks), dtype=np.int64)
    has = n_blocks > 0
    if has.any():
        per_term[has] = np.add.reduceat(block_sizes, exclusive_cumsum(n_blocks)[has])
    out = np.zeros(len(n_blocks) + 1, dtype=np.int64)
    np.cumsum(per_term, out=out[1:])
    return out


def encode_postings(ptr: np.ndarray, doc: np.ndarray, tf: np.ndarray, pos: np.ndarray,
                    gaps: bool = False) -> dict[str, np.ndarray]:
    """Decoded CSR postings (as `segment.build_postings` gives) → the field's stored columns.
    `gaps`: `pos` holds position gaps already (as `decode_range` gives them)."""
    df = np.diff(ptr)
    n_blocks, counts = block_counts(df)
    blk = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(n_blocks, out=blk[1:])
    doc_gaps = gaps_of(doc, df[df > 0])
    tf_rest = np.asarray(tf, dtype=np.int64) - 1
    pos_gaps = pos if gaps else gaps_of(pos, tf)
    pos_counts = (np.add.reduceat(np.asarray(tf, dtype=np.int64), exclusive_cumsum(counts))
                  if len(counts) else counts)
    out = {"ptr": ptr, "blk": blk}
    widths = np.zeros(len(counts), dtype=np.uint8)
    for shift, (name, values, per_block) in enumerate((("doc", doc_gaps, counts),
                                                       ("tf", tf_rest, counts),
                                                       ("pos", pos_gaps, pos_counts))):
        codes = width_codes(values, per_block)
        widths |= codes << np.uint8(2 * shift)
        out[name] = pack(values, per_block, codes)
        out[f"{name}.off"] = _term_bytes(per_block * WIDTH_BYTES[codes], n_blocks)
    out["width"] = widths
    return out


class FieldPostings:
    """One field's postings of a segment, decoded per term on demand (memory-mapped columns)."""

    def __init__(self, columns: dict[str, np.ndarray], n_docs: int, label: str = "") -> None:
        self.ptr = columns["ptr"]
        self.length = columns["len"]
        self._c = columns
        self.n_docs = n_docs
        self.label = label  # segment/field, for messages
        # its decoded lists live in the process's cache (`decodedcache`) under this token:
        # tid → (docs, tf, postings per block, block widths)
        self._owner = CACHE.owner()
        weakref.finalize(self, CACHE.drop, self._owner)

    def _damaged(self, what: str) -> CorruptIndex:
        return CorruptIndex(f"index file damaged: postings of {self.label} {what}")

    def _slice(self, name: str, tid: int) -> tuple[int, int]:
        off = self._c[name]
        lo, hi = off[tid:tid + 2].tolist()
        if not 0 <= lo <= hi <= self._ends[name]:
            raise self._damaged(f"have a bad offset ({name})")
        return lo, hi

    @cached_property
    def _ends(self) -> dict[str, int]:
        return {name: int(self._c[name][-1]) for name in ("ptr", "blk", "doc.off", "tf.off",
                                                           "pos.off")}

    def _run(self, name: str, tid: int, counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """A term's values of one run (doc gaps, tf - 1 or position gaps), uint32."""
        lo, hi = self._slice(f"{name}.off", tid)
        if hi - lo != packed_size(counts, codes):
            raise self._damaged(f"do not match their block widths ({name})")
        if not len(codes) or bool(np.all(codes == codes[0])):  # one width: one view
            return unpack(self._c[name][lo:hi], counts, codes)
        return unpack_blocks(self._c[name][lo:hi], POSTING_BLOCK, int(counts[-1]), codes)

    def _blocks(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """Postings per block of a term, and the blocks' width bytes."""
        lo, hi = self._slice("ptr", tid)
        b0, b1 = self._slice("blk", tid)
        df = hi - lo
        if b1 - b0 != -(-df // POSTING_BLOCK):
            raise self._damaged("disagree with their blocks")
        if b1 - b0 == 1:
            return np.array([df], dtype=np.int64), self._c["width"][b0:b1]
        counts = np.full(b1 - b0, POSTING_BLOCK, dtype=np.int64)
        if len(counts):
            counts[-1] = df - POSTING_BLOCK * (len(counts) - 1)
        return counts, np.asarray(self._c["width"][b0:b1])

    def df(self, tid: int) -> int:
        """How many postings a term has (documents, deleted ones included), not decoded."""
        lo, hi = self._slice("ptr", tid)
        return hi - lo

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(sorted documents, tf) of a term, decoded (int32, read-only)."""
        docs, tf, _, _ = self._decoded(tid)
        return docs, tf

    def _decoded(self, tid: int) -> tuple[np.ndarray, ...]:
        """(documents, tf, postings per block, block widths) of a term, from the cache or
        decoded now."""
        hit = CACHE.get(self._owner, tid)
        if hit is not None:
            return hit
        counts, widths = self._blocks(tid)
        if not len(counts):  # a term of the other field only
            return _NONE
        if len(counts) == 1:  # most terms: one block, each run one view (Python ints only)
            w = int(widths[0])
            gaps = self._one_run("doc", tid, int(counts[0]), w & 3)
            tf = self._one_run("tf", tid, int(counts[0]), (w >> 2) & 3).astype(np.int32)
        else:
            gaps = self._run("doc", tid, counts, widths & 3)
            tf = self._run("tf", tid, counts, (widths >> 2) & 3).astype(np.int32)
        tf += 1
        docs = gaps.cumsum(dtype=np.int64)
        n = len(docs)
        if n and (int(docs[-1]) >= self.n_docs or np.count_nonzero(gaps[1:]) != n - 1):
            raise self._damaged("point outside its documents")
        out = (docs.astype(np.int32), tf, counts, widths)
        for arr in out[:2]:
            arr.flags.writeable = False
        CACHE.put(self._owner, tid, out)
        return out

    def _one_run(self, name: str, tid: int, count: int, code: int) -> np.ndarray:
        """One block's run of a term as unsigned ints (a view of the bytes, no copy)."""
        lo, hi = self._slice(f"{name}.off", tid)
        if hi - lo != count * _WIDTHS[code]:
            raise self._damaged(f"do not match their block widths ({name})")
        if code == 0:
            return np.zeros(count, dtype=np.uint8)
        return self._c[name][lo:hi].view(UNPACKED[code])

    def positions(self, tid: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of some postings of a term (`rows`: sorted indices into its postings),
        concatenated (int64), and how many each has. Only those postings' position gaps are
        read: each posting's gaps restart from 0, so none needs its neighbours."""
        _, tf, counts, widths = self._decoded(tid)
        rows = np.asarray(rows, dtype=np.int64)
        lens = tf[rows].astype(np.int64)
        if not len(rows):
            return np.zeros(0, dtype=np.int64), lens
        codes = (widths >> 4) & 3
        if len(counts) == 1:  # one block: decode it whole
            return self._one_block_positions(tid, tf, int(codes[0]), rows, lens)
        first, block_bytes = self._position_index(tid, tf, counts, codes)
        every = CACHE.get(self._owner, (tid, "every pos"))
        if every is None and WHOLE_POSITIONS * len(rows) >= len(tf):
            every = self._every_position(tid, tf, counts, codes)
        if every is not None:
            return every[0][expand_ranges(first[rows], lens)].astype(np.int64), lens
        blocks = rows // POSTING_BLOCK
        row_codes = codes[blocks].astype(np.int64)
        # where each row's gaps start: its block's bytes, then the positions before it there
        row_widths = WIDTH_BYTES[row_codes]
        start = block_bytes[blocks] + (first[rows] - first[blocks * POSTING_BLOCK]) * row_widths
        out_at = exclusive_cumsum(lens)
        gaps = np.zeros(int(lens.sum()), dtype=np.int64)
        # rows grouped by width and by where their bytes start past a multiple of it (each
        # group reads one view); only the groups present are visited
        group = np.where(row_codes > 0, 4 * row_codes + start % np.maximum(row_widths, 1), 0)
        for g in np.flatnonzero(np.bincount(group, minlength=16)[4:]).tolist():
            code, shift = divmod(g + 4, 4)
            width = _WIDTHS[code]
            sel = np.flatnonzero(group == g + 4)
            gaps[expand_ranges(out_at[sel], lens[sel])] = self._pos_views[code][shift][
                expand_ranges((start[sel] - shift) // width, lens[sel])]
        return runs_cumsum(gaps, lens), lens

    def _position_index(self, tid: int, tf: np.ndarray, counts: np.ndarray,
                        codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each posting's first position, counted over the term's positions; each block's
        first byte in the field's position column) of a many-block term, kept in the cache."""
        hit = CACHE.get(self._owner, (tid, "pos"))
        if hit is not None:
            return hit[0], hit[1]
        tf64 = tf.astype(np.int64)
        pos_counts = np.add.reduceat(tf64, exclusive_cumsum(counts))
        sizes = pos_counts * WIDTH_BYTES[codes]
        lo, hi = self._slice("pos.off", tid)
        if hi - lo != int(sizes.sum()):
            raise self._damaged("do not match their block widths (pos)")
        out = (exclusive_cumsum(tf64), lo + exclusive_cumsum(sizes))
        CACHE.put(self._owner, (tid, "pos"), out)
        return out

    def _every_position(self, tid: int, tf: np.ndarray, counts: np.ndarray,
                        codes: np.ndarray) -> tuple[np.ndarray]:
        """Every position of a many-block term (int32, in posting order), decoded at once and
        kept in the cache: asked for many of its postings, a gather from them is cheaper
        than finding each posting's bytes, now and for the queries that follow."""
        tf64 = tf.astype(np.int64)
        pos_counts = np.add.reduceat(tf64, exclusive_cumsum(counts))
        lo, hi = self._slice("pos.off", tid)
        gaps = unpack(self._c["pos"][lo:hi], pos_counts, codes)  # sizes checked: _position_index
        values = runs_cumsum(gaps, tf64).astype(np.int32)
        values.flags.writeable = False
        CACHE.put(self._owner, (tid, "every pos"), (values,))
        return (values,)

    @cached_property
    def _pos_views(self) -> dict[int, list[np.ndarray]]:
        """The field's position bytes as values of each width (code 1, 2, 3), one view per
        byte offset modulo the width (no copy): a run of values starting at any byte is a
        slice of one of them."""
        data = np.asarray(self._c["pos"])
        views = {}
        for code, dtype in UNPACKED.items():
            width = _WIDTHS[code]
            views[code] = [data[s:s + (len(data) - s) // width * width].view(dtype)
                           for s in range(min(width, len(data)))]
        return views

    def _one_block_positions(self, tid: int, tf: np.ndarray, code: int, rows: np.ndarray,
                             lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tf64 = tf.astype(np.int64)
        gaps = self._one_run("pos", tid, int(tf64.sum()), code)
        values = runs_cumsum(gaps, tf64)
        if len(rows) == len(tf):
            return values, lens
        first = exclusive_cumsum(tf64)[rows]
        return values[expand_ranges(first, lens)], lens

    def decode_all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every posting of the field, in term order: (documents, tf, positions) — what a
        merge reads (its files were verified whole first)."""
        df = np.diff(np.asarray(self.ptr, dtype=np.int64))
        n_blocks, counts = block_counts(df)
        widths = np.asarray(self._c["width"])
        if (len(widths) != len(counts) or bool(np.any(df < 0))
                or not np.array_equal(self._c["blk"][1:], np.cumsum(n_blocks))):
            raise self._damaged("disagree with their blocks")
        docs = runs_cumsum(self._whole("doc", counts, widths & 3, n_blocks), df[df > 0])
        if len(docs) and (int(docs.max()) >= self.n_docs or int(docs.min()) < 0):
            raise self._damaged("point outside its documents")
        tf = self._whole("tf", counts, (widths >> 2) & 3, n_blocks).astype(np.int64) + 1
        pos_counts = np.add.reduceat(tf, exclusive_cumsum(counts)) if len(counts) else counts
        pos = runs_cumsum(self._whole("pos", pos_counts, (widths >> 4) & 3, n_blocks), tf)
        return docs.astype(np.int32), tf.astype(np.int32), pos.astype(np.int32)

    def _whole(self, name: str, counts: np.ndarray, codes: np.ndarray,
               n_blocks: np.ndarray) -> np.ndarray:
        if not np.array_equal(self._c[f"{name}.off"],
                              _term_bytes(counts * WIDTH_BYTES[codes], n_blocks)):
            raise self._damaged(f"do not match their block widths ({name})")
        return unpack(self._c[name], counts, codes)

    def decode_range(self, t0: int, t1: int) -> tuple[np.ndarray, ...]:
        """The postings of terms t0 … t1−1, in term order: (postings per term, documents,
        tf, position gaps: each posting's positions as stored, restarting from 0) — what a
        streamed merge reads, a range of terms at a time, and writes back as gaps (its files
        were verified whole first; sizes are checked against the block widths here)."""
        ptr = np.asarray(self.ptr[t0:t1 + 1], dtype=np.int64)
        df = np.diff(ptr)
        n_blocks, counts = block_counts(df)
        b0, b1 = (int(v) for v in self._c["blk"][[t0, t1]])
        widths = np.asarray(self._c["width"][b0:b1])
        if (len(widths) != len(counts) or bool(np.any(df < 0)) or not np.array_equal(
                np.asarray(self._c["blk"][t0 + 1:t1 + 1]) - b0, np.cumsum(n_blocks))):
            raise self._damaged("disagree with their blocks")

        def run(name: str, per_block: np.ndarray, codes: np.ndarray) -> np.ndarray:
            off = np.asarray(self._c[f"{name}.off"][t0:t1 + 1], dtype=np.int64)
            if not np.array_equal(off - off[0], _term_bytes(per_block * WIDTH_BYTES[codes],
                                                            n_blocks)):
                raise self._damaged(f"do not match their block widths ({name})")
            return unpack(self._c[name][int(off[0]):int(off[-1])], per_block, codes)

        docs = runs_cumsum(run("doc", counts, widths & 3), df[df > 0])
        if len(docs) and (int(docs.max()) >= self.n_docs or int(docs.min()) < 0):
            raise self._damaged("point outside its documents")
        tf = run("tf", counts, (widths >> 2) & 3).astype(np.int64) + 1
        pos_counts = np.add.reduceat(tf, exclusive_cumsum(counts)) if len(counts) else counts
        pos_gaps = run("pos", pos_counts, (widths >> 4) & 3)
        return df, docs.astype(np.int32), tf.astype(np.int32), pos_gaps
