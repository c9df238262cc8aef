"""A streamed merge of segments' live documents into one (`mergepolicy` says which).

Every segment's vocabulary is sorted, so a range of merged terms is a contiguous range of
term ids in every input. The merge walks the merged vocabulary a chunk of terms at a time
(`CHUNK_POSTINGS` postings over all inputs): it decodes each input's postings of the range
(`FieldPostings.decode_range`), drops deleted documents, renumbers the rest, puts each term's
postings in segment order, encodes them as a flush does (`encode_postings`, `block_columns`)
and appends the columns to files whose `.npy` header is written last (`streamwrite`). Stored
text is copied frame by frame where no paragraph of a frame was deleted, and re-blocked as a
stream where one was (`textstore.StoreWriter`); the article table and metadata carry over.
Memory is a chunk of postings per process (a helper process encodes half of them) plus a
few bytes per document (lengths, renumbering), not the inputs' postings: any segments can
be merged, so `mergepolicy` chooses for the number of segments, not for memory.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexWriteError
from . import metacolumns
from .analyze import _die_with_parent
from .blocks import block_columns
from .packing import exclusive_cumsum, expand_ranges
from .postinglists import encode_postings
from .schema import BLOBS, COLUMNS, FIELD_COLUMNS, FIELDS, POSTING_BLOCK
from .segment import Segment, json_bytes, merge_vocabularies
from .storage import failpoint, fsync_dir, release_pages
from .streamwrite import Blob, NpyColumn, OffsetsColumn
from .textstore import StoreWriter

MERGE_BYTES_PER_POSTING = 1024  # of the merge share: 262k postings (~40 MB decoded) at 1024 MB
DEFAULT_CHUNK_POSTINGS = 1 << 20
AHEAD = 2  # chunks the writer encodes ahead while the helper's next one is not in
PARALLEL_POSTINGS = 1 << 20  # below this, a merge's postings stay in one process (a helper
# process costs ~0.1 s to start and feed: ~1/10 of encoding a million postings)


def chunk_postings(merge_bytes: float) -> int:
    """Postings per chunk of terms that a merge may hold within `merge_bytes`."""
    if merge_bytes == float("inf"):
        return DEFAULT_CHUNK_POSTINGS
    return max(256, int(merge_bytes // MERGE_BYTES_PER_POSTING))


@dataclass
class _Input:
    """One segment being merged: what survives of it and where it goes."""

    seg: Segment
    art_live: np.ndarray  # bool per article
    par_live: np.ndarray  # bool per paragraph
    new_doc: dict[str, np.ndarray]  # per field: old document → new number (-1: deleted)
    term_of: np.ndarray  # local term id → merged term id (rising)


def _new_numbers(live: np.ndarray, base: int) -> np.ndarray:
    return np.where(live, np.cumsum(live) - 1 + base, -1).astype(np.int64)


def merge_segments(seg_root: Path, entries: list[dict], name: str, written: list[Path],
                   chunk: int = DEFAULT_CHUNK_POSTINGS, jobs: int = 1):
    """Rewrite the live documents of several segments into one, streamed `chunk` postings of
    terms at a time; returns (its manifest entry, or None if nothing is live, and each old
    segment's article number → new number). The stored text is written in a thread beside
    the postings; with `jobs` > 1, a helper process also encodes about half of the postings'
    chunks (the writer holds at most `AHEAD` + 1 chunks, the helper one)."""
    segs: list[Segment] = []
    helper = None
    try:
        for e in entries:  # we rewrite them: every byte verified first
            segs.append(Segment(seg_root / e["name"], e, verify=True))
            _release(segs[-1])
        inputs, terms, surface, remaps = _plan(segs)
        if not any(int(i.art_live.sum()) for i in inputs):
            return None, remaps
        failpoint("merge-gathered")
        directory = seg_root / name
        written.append(directory)
        directory.mkdir()
        files = _SegmentFiles(directory)
        try:
            if jobs > 1 and _Helper.usable() and sum(
                    int(i.seg.fields[f].ptr[-1]) for i in inputs for f in FIELDS) \
                    >= PARALLEL_POSTINGS:  # forked before the thread below starts
                helper = _Helper(inputs, len(terms), chunk)
            # the text store (zstd, which releases the GIL) in a thread beside the postings:
            # a merge runs after the analysis workers are done, so both cores are free
            with ThreadPoolExecutor(1, thread_name_prefix="searchlib-merge") as pool:
                documents = pool.submit(_write_documents, files, inputs)
                try:
                    _write_postings(files, inputs, terms, surface, chunk, helper)
                    failpoint("merge-postings-written")
                finally:
                    wait([documents])
                documents.result()
            entry_files = files.close()
        except BaseException:
            files.abandon()
            raise
        finally:
            if helper is not None:
                helper.close()
        fsync_dir(directory)
        failpoint("merge-written")
        n_articles = sum(int(i.art_live.sum()) for i in inputs)
        n_paragraphs = sum(int(i.par_live.sum()) for i in inputs)
        return ({"name": name, "articles": n_articles, "paragraphs": n_paragraphs,
                 "files": entry_files}, remaps)
    finally:
        for seg in segs:
            seg.close()


def _plan(segs: list[Segment]):
    """The inputs' live documents, renumbered in segment order, and the merged vocabulary
    (every term of an input, before dropping those only deleted documents had)."""
    merged = merge_vocabularies(_Words(seg) for seg in segs)  # one segment's lists at a time
    terms = sorted(merged)
    gid = {t: i for i, t in enumerate(terms)}
    inputs, remaps = [], {}
    base = {"text": 0, "title": 0}
    for seg in segs:
        art_live = ~seg.deleted if seg.deleted is not None else np.ones(seg.n_articles, bool)
        par_live = art_live[seg.para_article]
        remaps[seg.name] = np.cumsum(art_live) - 1 + base["title"]
        new_doc = {"text": _new_numbers(par_live, base["text"]),
                   "title": _new_numbers(art_live, base["title"])}
        base["text"] += int(par_live.sum())
        base["title"] += int(art_live.sum())
        vocab = _Words(seg, surface=False).vocab
        term_of = np.fromiter((gid[t] for t in vocab), dtype=np.int64, count=len(vocab))
        inputs.append(_Input(seg, art_live, par_live, new_doc, term_of))
        _release(seg)
    return inputs, terms, [merged[t] for t in terms], remaps


def _release(seg: Segment) -> None:
    """Drop the pages of a segment's files read so far from the process's resident memory
    (opening maps a few per file, and a large page cache folio maps 2 MB at a time)."""
    for data in seg._maps.values():
        release_pages(data)


class _Words:
    """A segment's terms and readable words, read for the merge and not kept by the Segment
    (a Python string per term and segment: planning holds one segment's at a time)."""

    def __init__(self, seg: Segment, surface: bool = True) -> None:
        self.vocab = seg._terms("vocab.txt")
        self.surface = seg._terms("surface.txt") if surface else []


class _SegmentFiles:
    """The files of the segment being written, each open for appending."""

    def __init__(self, directory: Path) -> None:
        self.columns: dict[str, NpyColumn] = {}
        self.blobs: dict[str, Blob] = {}
        try:
            for col_name, column in COLUMNS.items():
                kind = OffsetsColumn if column.offsets is not None else NpyColumn
                self.columns[col_name] = kind(directory / f"{col_name}.npy", column.dtype)
            for blob in BLOBS:
                self.blobs[blob] = Blob(directory / blob)
        except BaseException:
            self.abandon()
            raise

    def close(self) -> dict[str, list[int]]:
        files = {f"{n}.npy": list(c.close()) for n, c in self.columns.items()}
        files.update({n: list(b.close()) for n, b in self.blobs.items()})
        return files

    def abandon(self) -> None:
        for f in [*self.columns.values(), *self.blobs.values()]:
            with contextlib.suppress(OSError, ValueError):
                f.abandon()


def _write_postings(files: _SegmentFiles, inputs: list[_Input], terms: list[str],
                    surface: list[str], chunk: int, helper: _Helper | None = None) -> None:
    """Both fields' postings, the vocabulary and its readable words, a chunk of terms at a
    time (encoded here or by `helper`'s process, written here in term order); a term left
    with no live posting in either field is dropped (no ghost word)."""
    lengths, plan = (helper.work if helper is not None
                     else _postings_work(inputs, len(terms), chunk))
    for f in FIELDS:
        files.columns[f"{f}.len"].append(lengths[f])
    written_terms, first = 0, True
    for k, encoded in _encoded_chunks(inputs, plan, lengths, helper):
        g0, g1, giant = plan[k]
        if giant:
            used = np.arange(int(_write_giant(files, inputs, g0, lengths, chunk)))
        else:
            used, fields = encoded
            for f, enc in fields.items():
                _write_field(files, f, enc)
        if len(used):
            kept = [terms[g0 + j] for j in used.tolist()]
            words = [surface[g0 + j] for j in used.tolist()]
            encoded_terms = [t.encode("utf-8") for t in kept]
            sep = b"" if written_terms == 0 else b"\n"
            files.blobs["vocab.txt"].write(sep + b"\n".join(encoded_terms))
            files.blobs["surface.txt"].write(sep + "\n".join(words).encode("utf-8"))
            files.columns["vocab.off"].add_counts(np.fromiter(
                (len(t) + 1 for t in encoded_terms), dtype=np.int64, count=len(encoded_terms)))
            written_terms += len(used)
        _release_postings(inputs)
        if first:
            first = False
            failpoint("merge-chunk")


def _postings_work(inputs: list[_Input], n_terms: int, chunk: int):
    """(each field's merged document lengths, the chunks of merged terms as (g0, g1, giant):
    about `chunk` postings each, a term with more postings than that alone, as a giant)."""
    lengths = {f: np.concatenate([np.asarray(i.seg.fields[f].length)[
        i.par_live if f == "text" else i.art_live] for i in inputs]) for f in FIELDS}
    load = np.zeros(n_terms, dtype=np.int64)  # postings per merged term, all inputs
    for i in inputs:
        for f in FIELDS:
            load += np.bincount(i.term_of, weights=np.diff(np.asarray(i.seg.fields[f].ptr)),
                                minlength=n_terms).astype(np.int64)
    cum = np.cumsum(load)
    giants = np.flatnonzero(load > chunk)
    plan, g0 = [], 0
    while g0 < n_terms:
        if load[g0] > chunk:
            plan.append((g0, g0 + 1, True))
            g0 += 1
            continue
        before = int(cum[g0 - 1]) if g0 else 0
        g1 = max(g0 + 1, int(np.searchsorted(cum, before + chunk, side="right")))
        after = giants[np.searchsorted(giants, g0):]
        g1 = min(g1, n_terms, int(after[0]) if len(after) else n_terms)
        plan.append((g0, g1, False))
        g0 = g1
    return lengths, plan


def _release_postings(inputs: list[_Input]) -> None:
    for i in inputs:  # the chunk's input pages: read, not to be held
        for name in _POSTING_FILES:
            release_pages(i.seg._maps[name])


def _encode_chunk(inputs: list[_Input], g0: int, g1: int, lengths: dict[str, np.ndarray]):
    """(the chunk's terms that keep a live posting, numbered from g0; each field's encoded
    columns): all a writer appends for merged terms g0 … g1−1."""
    fields = {f: _chunk(inputs, f, g0, g1) for f in FIELDS}
    used = np.flatnonzero(sum(counts for counts, *_ in fields.values()))
    encoded = {}
    if len(used):
        for f, (counts, d, tf, pos) in fields.items():
            encoded[f] = _encode_field(counts[used], d, tf, pos, lengths[f])
    return used, encoded


def _encoded_chunks(inputs: list[_Input], plan: list[tuple[int, int, bool]],
                    lengths: dict[str, np.ndarray], helper: _Helper | None):
    """(k, encoded chunk k) for every chunk of the plan in order (a giant: None, written by
    the caller piece by piece). With a helper, this process and the helper's each take the
    next chunk nobody has taken, and the helper's arrive here in the order it took them."""
    if helper is None:
        for k, (g0, g1, giant) in enumerate(plan):
            yield k, None if giant else _encode_chunk(inputs, g0, g1, lengths)
        return
    done, taken, mine = 0, 0, {}  # next to yield; chunks taken so far; ours, encoded
    while done < len(plan):
        if done in mine:
            yield done, mine.pop(done)
            done += 1
        elif done < taken and (len(mine) >= AHEAD or taken == len(plan) or helper.ready()):
            yield done, helper.receive(done)  # the helper took it
            done += 1
        else:  # take the next chunk rather than wait (a busy machine slows the helper)
            k = helper.claim()
            taken = min(k + 1, len(plan))
            if k < len(plan):
                g0, g1, giant = plan[k]
                mine[k] = None if giant else _encode_chunk(inputs, g0, g1, lengths)


class _Helper:
    """A forked process encoding chunks of the merge's postings beside this one (numpy's
    work on chunks this size holds the GIL: a thread would not run alongside). Each process
    takes the next chunk nobody has taken from a shared counter; the helper sends its chunks
    encoded, in the order it took them, and waits until each is received, so it holds one
    chunk at a time; the writer takes more (up to `AHEAD`) rather than wait for one. It dies
    with this process (PR_SET_PDEATHSIG), and its death or error is this merge's error."""

    @staticmethod
    def usable() -> bool:
        return ("fork" in multiprocessing.get_all_start_methods()
                and not multiprocessing.current_process().daemon)

    def __init__(self, inputs: list[_Input], n_terms: int, chunk: int) -> None:
        self.work = _postings_work(inputs, n_terms, chunk)
        ctx = multiprocessing.get_context("fork")
        self._next = ctx.Value("q", 0)  # the next chunk nobody has taken
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_help, args=(self, child, inputs, os.getpid()),
                                 name="searchlib-merge", daemon=True)
        self._proc.start()
        child.close()

    def claim(self) -> int:
        with self._next.get_lock():
            k = self._next.value
            self._next.value = k + 1
        return k

    def ready(self) -> bool:
        """Whether the helper's next chunk (or its end) has arrived."""
        return self._conn.poll()

    def receive(self, k: int):
        """Chunk k, which the helper took (its chunks come in the order it took them)."""
        try:
            got, error, encoded = self._conn.recv()
        except (EOFError, OSError):
            raise IndexWriteError("a merge helper process died (killed, or out of memory?); "
                                  "the previous commit is intact") from None
        if error is not None:
            raise error
        if got != k:
            raise RuntimeError(f"merge helper sent chunk {got}, expected {k}")
        return encoded

    def close(self) -> None:
        """Stop it (after the last chunk it is leaving anyway) and reap it."""
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()
        self._conn.close()


def _help(helper: _Helper, conn, inputs: list[_Input], parent: int) -> None:
    """The helper process: encode the chunks it takes until none is left."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    helper._conn.close()  # the parent's end
    lengths, plan = helper.work
    while (k := helper.claim()) < len(plan):
        failpoint("merge-helper")  # killed holding a chunk the writer waits for
        g0, g1, giant = plan[k]
        try:
            message = (k, None, None if giant else _encode_chunk(inputs, g0, g1, lengths))
        except Exception as exc:  # noqa: BLE001 - raised in the parent, which reports it
            message = (k, exc, None)
        try:
            conn.send(message)
        except OSError:  # the parent is gone or gave up
            return
        if message[1] is not None:
            return
        _release_postings(inputs)


_POSTING_FILES = [f"{f}.{c.name}.npy" for f in FIELDS for c in FIELD_COLUMNS]
_DOCUMENT_FILES = ["store.bin", "articles.json", "art.off.npy", "art.first.npy"]


def _chunk(inputs: list[_Input], f: str, g0: int, g1: int) -> tuple[np.ndarray, ...]:
    """Live postings of merged terms g0 … g1−1 in one field, over all inputs, in (term,
    new document) order: (postings per merged term, documents, tf, position gaps)."""
    parts = []
    counts = np.zeros(g1 - g0, dtype=np.int64)
    for i in inputs:
        t0, t1 = np.searchsorted(i.term_of, [g0, g1]).tolist()
        if t1 == t0:
            continue
        df, docs, tf, pos = i.seg.fields[f].decode_range(t0, t1)
        new = i.new_doc[f][docs]
        live = new >= 0
        if not live.all():
            pos = pos[np.repeat(live, tf)]
            df = _counts_at(np.cumsum(live), np.cumsum(df))
            new, tf = new[live], tf[live]
        terms = i.term_of[t0:t1] - g0
        counts[terms] += df
        parts.append((terms, df, new, tf, pos))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return counts, empty, empty, empty
    terms, df, docs, tf, pos = (np.concatenate(p) for p in zip(*parts))
    if len(parts) > 1:
        # each input's postings of a term are a run, in (term, document) order, and inputs'
        # documents follow each other: the merged order is the runs sorted by term, stably
        order = np.argsort(terms, kind="stable")
        pos_df = _counts_at(np.cumsum(tf, dtype=np.int64), np.cumsum(df))
        post_at = expand_ranges(exclusive_cumsum(df)[order], df[order])
        docs, tf = docs[post_at], tf[post_at]
        pos = pos[expand_ranges(exclusive_cumsum(pos_df)[order], pos_df[order])]
    return counts, docs, tf, pos


def _counts_at(sums: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per run ending (exclusive) at each of `ends`, the sum of its values, from their running
    sums `sums` (runs may be empty)."""
    total = np.concatenate([[0], sums])[ends]
    return np.diff(np.concatenate([[0], total])).astype(np.int64)


def _encode_field(df: np.ndarray, docs: np.ndarray, tf: np.ndarray, pos: np.ndarray,
                  lengths: np.ndarray, base: int = 0) -> dict[str, np.ndarray]:
    """A chunk of one field's postings (`df` per term, `pos`: position gaps) encoded as a
    flush encodes a segment's (a piece of one term: its documents' gaps go on from `base`)."""
    ptr = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(df, out=ptr[1:])
    encoded = encode_postings(ptr, (docs - base).astype(np.int32), tf.astype(np.int32), pos,
                              gaps=True)
    encoded.update(block_columns(ptr, docs, tf, lengths))
    return encoded


def _write_field(files: _SegmentFiles, f: str, encoded: dict[str, np.ndarray],
                 rows: bool = True) -> None:
    """Append an encoded chunk to the field's columns (`rows=False`: a piece of one term,
    whose offsets rows are added when it ends)."""
    for column in FIELD_COLUMNS:
        if column.name == "len" or (column.offsets is not None and not rows):
            continue
        writer = files.columns[f"{f}.{column.name}"]
        if column.offsets is not None:
            writer.add_offsets(encoded[column.name])
        else:
            writer.append(encoded[column.name])


def _write_giant(files: _SegmentFiles, inputs: list[_Input], g: int,
                 lengths: dict[str, np.ndarray], chunk: int) -> bool:
    """A term with more postings than a chunk, in pieces: each input's postings of it in
    turn, encoded whenever a chunk's worth is in; its offsets rows last. Whether it has a
    live posting (else nothing was written: it is dropped)."""
    pieces = {f: _TermPieces(files, f, lengths[f]) for f in FIELDS}
    for f, piece in pieces.items():
        for i in inputs:
            piece.add(_chunk([i], f, g, g + 1), chunk)
        piece.emit(final=True)
    if not any(p.count["postings"] for p in pieces.values()):
        return False
    for f, piece in pieces.items():
        for column, key in (("ptr", "postings"), ("blk", "blocks"), ("doc.off", "doc"),
                            ("tf.off", "tf"), ("pos.off", "pos")):
            files.columns[f"{f}.{column}"].add_counts(np.array([piece.count[key]]))
    return True


class _TermPieces:
    """One field's postings of one term, encoded piece by piece. Pieces are cut at a
    multiple of POSTING_BLOCK and each one's document gaps go on from the piece before, so
    the bytes and blocks are those of the whole term encoded at once."""

    def __init__(self, files: _SegmentFiles, f: str, lengths: np.ndarray) -> None:
        self.files, self.f, self.lengths = files, f, lengths
        self.held: list[tuple[np.ndarray, ...]] = []
        self.count = {"postings": 0, "blocks": 0, "doc": 0, "tf": 0, "pos": 0}
        self.last = 0  # the piece before's last document

    def add(self, part: tuple[np.ndarray, ...], chunk: int) -> None:
        if len(part[1]):
            self.held.append(part[1:])
            if sum(len(p[0]) for p in self.held) >= chunk:
                self.emit(final=False)

    def emit(self, final: bool) -> None:
        if not self.held:
            return
        docs, tf, pos = (np.concatenate(p) for p in zip(*self.held))
        n = len(docs) if final else len(docs) - len(docs) % POSTING_BLOCK
        cut = int(tf[:n].sum())
        if n:
            enc = _encode_field(np.array([n]), docs[:n], tf[:n], pos[:cut], self.lengths,
                                base=self.last)
            _write_field(self.files, self.f, enc, rows=False)
            self.count["postings"] += n
            self.count["blocks"] += len(enc["width"])
            for run in ("doc", "tf", "pos"):
                self.count[run] += len(enc[run])
            self.last = int(docs[n - 1])
        self.held = [(docs[n:], tf[n:], pos[cut:])] if n < len(docs) else []


def _write_documents(files: _SegmentFiles, inputs: list[_Input]) -> None:
    """Stored text: each input block whose paragraphs all live is copied as it is (frame,
    CRC-32), the others' live paragraphs re-blocked; the article table, the articles'
    records (copied as stored), metadata and any other declared per-article or
    per-paragraph column."""
    store = StoreWriter(files.blobs["store.bin"], files.columns["store.off"],
                        files.columns["store.crc"], files.columns["store.first"])
    plain = [n for n, c in COLUMNS.items() if c.per in ("article", "paragraph")
             and c.offsets is None and not n.startswith("meta.")]
    records = _Records(files.blobs["articles.json"])
    for i in inputs:
        seg = i.seg
        _write_text(store, seg, i.par_live)
        files.columns["art.first"].add_counts(np.diff(seg.art_first64)[i.art_live])
        off = np.asarray(seg.columns["art.off"], dtype=np.int64)
        sizes = np.diff(off)[i.art_live]
        files.columns["art.off"].add_counts(sizes)
        slots = np.frombuffer(seg._maps["articles.json"] or b"", dtype=np.uint8)
        records.add(slots[expand_ranges(off[:-1][i.art_live], sizes)], sizes)
        for n in plain:
            files.columns[n].append(seg.columns[n][
                i.art_live if COLUMNS[n].per == "article" else i.par_live])
        for name in _DOCUMENT_FILES:
            release_pages(seg._maps[name])
    store.finish()
    records.finish()
    dictionary, code_of = metacolumns.merged_dictionary(
        [(i.seg.meta, i.art_live) for i in inputs])
    for i, remap in zip(inputs, code_of):
        meta = i.seg.meta
        files.columns["meta.date"].append(meta.date[i.art_live])
        files.columns["meta.ptr"].add_counts(np.diff(meta.ptr)[i.art_live])
        if len(meta.code):
            files.columns["meta.code"].append(remap[meta.code[i.art_live[meta.entry_article]]])
    files.blobs["meta.json"].write(json_bytes(dictionary))


def _write_text(store: StoreWriter, seg: Segment, live: np.ndarray) -> None:
    """One input's stored text: runs of whole blocks copied as they are (their frames follow
    each other in store.bin), a block that lost a paragraph decompressed and its live ones
    added again."""
    text = seg.text
    if not text.n_blocks:
        return
    firsts = text.starts()
    counts = np.diff(firsts)
    alive = np.add.reduceat(live.astype(np.int64), firsts[:-1])
    broken = np.flatnonzero(alive != counts)  # blocks not copied whole
    off = np.asarray(seg.columns["store.off"], dtype=np.int64)
    crc = np.asarray(seg.columns["store.crc"])
    b = 0
    while b < text.n_blocks:
        at = int(np.searchsorted(broken, b))
        e = int(broken[at]) if at < len(broken) else text.n_blocks
        if e > b:  # blocks b … e−1 are whole: one copy
            store.copy(text.view[off[b]:off[e]], np.diff(off[b:e + 1]), crc[b:e], counts[b:e])
            release_pages(seg._maps["store.bin"])
            b = e
            continue
        if alive[b]:
            starts, data = text.block(b)
            keep_par = live[firsts[b]:firsts[b + 1]]
            lens = np.diff(starts)
            keep = expand_ranges(starts[:-1][keep_par], lens[keep_par])
            store.add(lens[keep_par], np.frombuffer(data, dtype=np.uint8)[keep].tobytes())
        if b % 256 == 255:
            release_pages(seg._maps["store.bin"])
        b += 1


class _Records:
    """articles.json written from the inputs' record slots: a record with the two bytes
    around it (`art.off` spans them), re-punctuated as "[" r0 ", " r1 ... "]"."""

    def __init__(self, blob: Blob) -> None:
        self._blob = blob
        self._any = False

    def add(self, slots: np.ndarray, sizes: np.ndarray) -> None:
        if not len(sizes):
            return
        slots = slots.copy()
        ends = np.cumsum(sizes)
        slots[ends - sizes] = ord(" ")
        slots[ends - 1] = ord(",")
        if self._any:
            self._blob.write(b",")
        else:
            slots[0] = ord("[")
        self._any = True
        self._blob.write(slots[:-1])  # the last comma waits: the next record's, or "]"

    def finish(self) -> None:
        self._blob.write(b"]" if self._any else b"[]")
