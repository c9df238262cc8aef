"""Sorted postings algebra: (sorted unique document ids, scores) lists merged, intersected and
filtered with numpy, and phrase matching on positions. No Python loop touches a posting."""

from __future__ import annotations

import numpy as np

from ..index.segment import Segment

_KEY_SHIFT = np.int64(1) << np.int64(32)
_POS_BIAS = np.int64(1) << np.int64(24)

Postings = tuple[np.ndarray, np.ndarray]  # (sorted unique paragraph ids, scores)
EMPTY: Postings = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def union(parts: list[Postings], reduce=np.add) -> Postings:
    """Merge sorted (docs, scores) lists, combining scores of equal docs with `reduce`.

    A stable sort of concatenated sorted runs is a linear merge (timsort), cheaper than
    scattering into a dense array the size of the segment."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p[0] for p in parts])
    order = docs.argsort(kind="stable")
    docs, scores = docs[order], np.concatenate([p[1] for p in parts])[order]
    first = np.empty(len(docs), dtype=bool)
    first[0] = True
    np.not_equal(docs[1:], docs[:-1], out=first[1:])
    starts = first.nonzero()[0]
    return docs[starts], reduce.reduceat(scores, starts)


def lookup(pool: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, found) of each key in sorted `pool`: the row holding it where `found`, a row to
    ignore elsewhere. One searchsorted, the shorter side as `keys` is the cheap way."""
    at = pool.searchsorted(keys)
    if not len(pool):
        return at, np.zeros(len(keys), dtype=bool)
    at[at == len(pool)] = len(pool) - 1
    return at, pool[at] == keys


def intersect(a: Postings, b: Postings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(common docs, their rows in a, their rows in b) of two sorted unique doc lists: the
    shorter looked up in the longer (no sort of both, as `np.intersect1d` does)."""
    if len(a[0]) > len(b[0]):
        common, j, i = intersect(b, a)
        return common, i, j
    docs, pool = a[0], b[0]
    if not len(docs) or not len(pool):
        return EMPTY[0], EMPTY[0], EMPTY[0]
    at, held = lookup(pool, docs)
    i = held.nonzero()[0]
    return docs[i], i, at[i]


def member(docs: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Bool per element of sorted `docs`: is it in sorted `pool`?"""
    return lookup(np.asarray(pool), docs)[1]


def blended_tf(seg: Segment, fld: str, terms: tuple[str, ...]) -> Postings:
    """Documents holding any of the terms, with the terms' frequencies summed."""
    fp = seg.fields[fld]
    parts = []
    for term in terms:
        tid = seg.term_id(term)
        if tid >= 0:
            docs, tf = fp.postings(tid)
            parts.append((docs.astype(np.int64), tf.astype(np.float64)))
    return union(parts)


def phrase_candidates(seg: Segment, fld: str, terms: tuple[str, ...],
                      within: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Documents holding every term (and in sorted `within`, if given), and each term's rows
    of them in its postings (no sort of the lists)."""
    fp = seg.fields[fld]
    tids = [seg.term_id(t) for t in terms]
    if min(tids) < 0:
        return EMPTY[0], []
    # the shortest list (of the terms', and `within`) looked up in the others
    lists: list[tuple[int | None, np.ndarray]] = [
        (i, np.asarray(fp.postings(tid)[0])) for i, tid in enumerate(tids)]
    if within is not None:
        lists.append((None, np.asarray(within, dtype=lists[0][1].dtype)))
    lists.sort(key=lambda item: len(item[1]))
    first, cands = lists[0]
    rows = {} if first is None else {first: np.arange(len(cands))}
    for i, pool in lists[1:]:
        if not len(cands) or not len(pool):
            return EMPTY[0], []
        at, held = lookup(pool, cands)
        cands = cands[held]
        rows = {j: r[held] for j, r in rows.items()}
        if i is not None:
            rows[i] = at[held]
    if not len(cands):
        return EMPTY[0], []
    return cands, [rows[i] for i in range(len(tids))]


def phrase_matches(seg: Segment, fld: str, terms: tuple[str, ...], offsets: tuple[int, ...],
                   slop: int, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Documents (in sorted `within`, if given) where the terms occur at their relative
    offsets (each within `slop` of where the first term puts it), and how often.
    Vectorized: positions become sortable keys doc·2³² + (position − offset), compared with
    searchsorted."""
    empty = np.zeros(0, dtype=np.int64)
    cands, rows = phrase_candidates(seg, fld, terms, within)
    if not len(cands):
        return empty, empty
    if slop == 0 and len(set(zip(terms, offsets))) == len(terms):
        return _exact_phrase(seg, fld, terms, offsets, cands, rows)
    return _windowed_phrase(seg, fld, terms, offsets, slop, cands, rows)


def _windowed_phrase(seg: Segment, fld: str, terms: tuple[str, ...], offsets: tuple[int, ...],
                     slop: int, cands: np.ndarray,
                     rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`phrase_matches` in general: every term's positions in every candidate, each looked up
    around the first term's."""
    fp = seg.fields[fld]
    keys = []
    for term, at, off in zip(terms, rows, offsets):
        pos, lens = fp.positions(seg.term_id(term), at)
        owner = np.repeat(np.arange(len(cands), dtype=np.int64), lens)
        keys.append(owner * _KEY_SHIFT + (pos - off + _POS_BIAS))
    anchors = keys[0]
    ok = np.ones(len(anchors), dtype=bool)
    for i in range(1, len(keys)):
        k = keys[i]
        # A repeated word needs an occurrence of its own: when windows of equal terms can
        # overlap (slop), the window must hold one more occurrence per earlier copy.
        need = 1 + sum(1 for m in range(i) if terms[m] == terms[i]
                       and abs(offsets[m] - offsets[i]) <= 2 * slop)
        lo = np.searchsorted(k, anchors - slop, side="left")
        if slop == 0 and need == 1:  # an exact place: is the key there (keys are unique)
            lo[lo == len(k)] = len(k) - 1
            ok &= k[lo] == anchors
            continue
        hi = np.searchsorted(k, anchors + slop, side="right")
        ok &= (hi - lo) >= need
    freq = np.bincount(anchors[ok] // _KEY_SHIFT, minlength=len(cands))
    found = freq > 0
    return cands[found].astype(np.int64), freq[found]


def _exact_phrase(seg: Segment, fld: str, terms: tuple[str, ...], offsets: tuple[int, ...],
                  cands: np.ndarray, rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`phrase_matches` at slop 0: a match is a phrase start every term has a key for, so
    the terms are checked rarest first, and each reads the positions of the candidates still
    holding a possible start only (a sparse phrase reads little past its rarest words)."""
    fp = seg.fields[fld]
    tids = [seg.term_id(t) for t in terms]
    order = sorted(range(len(terms)), key=lambda i: fp.df(tids[i]))
    alive = np.arange(len(cands), dtype=np.int64)  # candidates (indices) with a start left
    starts = np.zeros(0, dtype=np.int64)  # candidate index·2³² + (position − offset), sorted
    for n, i in enumerate(order):
        pos, lens = fp.positions(tids[i], rows[i] if n == 0 else rows[i][alive])
        keys = np.repeat(alive, lens) * _KEY_SHIFT + (pos - offsets[i] + _POS_BIAS)
        starts = keys if n == 0 else starts[lookup(keys, starts)[1]]
        if not len(starts):
            break
        if n + 1 < len(order):
            owner = starts // _KEY_SHIFT
            first = np.empty(len(owner), dtype=bool)
            first[0] = True
            np.not_equal(owner[1:], owner[:-1], out=first[1:])
            alive = owner[first]
    freq = np.bincount(starts // _KEY_SHIFT, minlength=len(cands))
    found = freq > 0
    return cands[found].astype(np.int64), freq[found]


def positions_in(seg: Segment, fld: str, term: str,
                 docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where `term` occurs in the sorted documents `docs`: (index into `docs` of each
    occurrence, its position), grouped by document. The one accessor of positions for a
    second stage (proximity), so a change of their encoding lands here."""
    empty = np.zeros(0, dtype=np.int64)
    tid = seg.term_id(term)
    if tid < 0 or not len(docs):
        return empty, empty
    fp = seg.fields[fld]
    tdocs, _tf = fp.postings(tid)
    at = np.searchsorted(tdocs, docs)
    at[at == len(tdocs)] = max(len(tdocs) - 1, 0)
    has = np.asarray(tdocs[at] == docs) if len(tdocs) else np.zeros(len(docs), dtype=bool)
    which = np.flatnonzero(has)
    pos, lens = fp.positions(tid, at[which])
    return np.repeat(which.astype(np.int64), lens), pos
