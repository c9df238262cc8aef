"""Reading postings fast (issue 11): the process's decoded-postings cache (bounded in bytes,
long lists included, right postings under eviction and threads, a closed segment's entries
released), blocks unpacked whole, and positions read for the rows asked only."""

from __future__ import annotations

import gc
import os
import threading

import numpy as np
import pytest

import searchlib
from searchlib.index import decodedcache, packing, postinglists
from searchlib.index.decodedcache import DecodedCache, nbytes
from searchlib.index.postinglists import FieldPostings, encode_postings

from .test_index_format import random_postings


def long_field(n_docs: int = 300_000):
    """A field whose term 0 has 100,600 postings in blocks of mixed widths (near documents,
    then far ones), then a few short terms."""
    rng = np.random.default_rng(7)
    docs0 = np.r_[np.arange(100_000), 100_000 + 300 * np.arange(600)].astype(np.int32)
    df = len(docs0)
    ptr, doc, tf, pos = random_postings(rng, 20, n_docs)
    tf0 = rng.choice([1, 1, 2, 5], size=df).astype(np.int32)
    pos0 = np.concatenate([np.arange(n, dtype=np.int32) for n in tf0])
    columns = encode_postings(np.concatenate([[0], ptr + df]), np.concatenate([docs0, doc]),
                              np.concatenate([tf0, tf]), np.concatenate([pos0, pos]))
    columns["len"] = np.ones(n_docs, dtype=np.int32)
    want = {0: (docs0, tf0)}
    for t in range(len(ptr) - 1):
        want[t + 1] = (doc[ptr[t]:ptr[t + 1]], tf[ptr[t]:ptr[t + 1]])
    return FieldPostings(columns, n_docs, "test/text"), want


@pytest.fixture
def cache(monkeypatch):
    fresh = DecodedCache(64 << 20)
    monkeypatch.setattr(postinglists, "CACHE", fresh)
    return fresh


def test_the_cache_never_holds_more_than_its_limit():
    cache = DecodedCache(10_000)
    rng = np.random.default_rng(3)
    for i in range(300):
        value = (np.zeros(int(rng.integers(0, 900)), dtype=np.int32),)
        cache.put(i % 7, i, value)
        assert cache.held <= cache.limit
        held = [cache.get(o, k) for o, k in list(cache._entries)]
        assert cache.held == sum(nbytes(v) for v in held)
    cache.put(0, "big", (np.zeros(5_000, dtype=np.int32),))  # over a quarter: not kept
    assert cache.get(0, "big") is None
    cache.set_limit(1_000)
    assert cache.held <= 1_000
    cache.set_limit(0)
    assert cache.held == 0 and not cache._entries


def test_a_long_list_is_decoded_once_then_served_from_the_cache(cache, monkeypatch):
    fp, want = long_field()
    calls = []
    real = postinglists.unpack_blocks
    monkeypatch.setattr(postinglists, "unpack_blocks",
                        lambda *a: calls.append(1) or real(*a))
    decoded = []
    for _ in range(3):
        docs, tf = fp.postings(0)
        assert docs.tolist() == want[0][0].tolist() and tf.tolist() == want[0][1].tolist()
        decoded.append(len(calls))
    assert decoded[0] >= 1 and decoded[1:] == decoded[:1] * 2  # decoded on the first read only
    assert cache.held >= 8 * len(want[0][0])


def test_postings_stay_right_when_a_small_cache_evicts_them(cache):
    fp, want = long_field()
    cache.set_limit(nbytes(fp._decoded(0)) * 4 + 1)  # room for the long list, little else
    rng = np.random.default_rng(5)
    for tid in rng.integers(0, len(want), size=200):
        docs, tf = fp.postings(int(tid))
        assert docs.tolist() == want[tid][0].tolist() and tf.tolist() == want[tid][1].tolist()
        assert cache.held <= cache.limit


def test_threads_reading_through_a_tiny_cache_get_right_postings(cache):
    fp, want = long_field()
    cache.set_limit(20_000)  # constant eviction
    errors = []

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for tid in rng.integers(1, len(want), size=150):
            docs, tf = fp.postings(int(tid))
            if docs.tolist() != want[tid][0].tolist() or tf.tolist() != want[tid][1].tolist():
                errors.append(int(tid))

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and cache.held <= cache.limit


def test_a_closed_segments_lists_leave_the_cache(cache):
    fp, _ = long_field()
    fp.postings(0)
    assert cache.held > 0
    del fp
    gc.collect()
    assert cache.held == 0


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEARCHLIB_POSTINGS_CACHE_MB", "3")
    assert decodedcache._env_limit() == (3 << 20, None)
    monkeypatch.setenv("SEARCHLIB_POSTINGS_CACHE_MB", "0")
    assert decodedcache._env_limit() == (0, None)


@pytest.mark.parametrize("bad", ["lots", "-5", "nan"])
def test_a_bad_cache_limit_in_the_environment_is_one_line_when_an_index_opens(
        bad, tmp_path, seed_copy):
    """Importing searchlib never fails on it; opening an index (or `searchlib search`) says
    what is wrong, in one line, exit 2."""
    import subprocess
    import sys

    root = tmp_path / "idx"
    searchlib.Index.build([seed_copy], root)
    env = {**os.environ, "SEARCHLIB_POSTINGS_CACHE_MB": bad}
    run = subprocess.run([sys.executable, "-m", "searchlib", "search", "korea", "--index",
                          str(root)], env=env, capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"searchlib: error: SEARCHLIB_POSTINGS_CACHE_MB must be a number of MB (0 or more), "
        f"not {bad!r}"]


def test_unpacked_blocks_of_every_width_read_back_exactly():
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 4, 300).astype(np.uint8)
    counts = np.full(len(codes), 128)
    counts[-1] = 41
    limits = [1, 1 << 8, 1 << 16, 1 << 32]
    values = np.concatenate([rng.integers(0, limits[c], n) for c, n in zip(codes, counts)])
    data = packing.pack(values, counts, codes)
    assert packing.unpack_blocks(data, 128, 41, codes).tolist() == values.tolist()


@pytest.mark.parametrize("whole", [0, postinglists.WHOLE_POSITIONS, 10**9])
@pytest.mark.parametrize("seed", [4, 5])
def test_positions_of_any_rows_of_many_block_terms_read_back_exactly(seed, whole, monkeypatch):
    """Each posting's bytes found (never whole), every position decoded and kept (always), or
    whichever the share of rows asked chooses: the same positions."""
    monkeypatch.setattr(postinglists, "WHOLE_POSITIONS", whole)
    rng = np.random.default_rng(seed)
    n_docs = 5_000
    ptr, doc, tf, pos = random_postings(rng, 30, n_docs)
    columns = encode_postings(ptr, doc, tf, pos)
    assert set(np.unique((columns["width"] >> 4) & 3)) >= {1, 2, 3}
    columns["len"] = np.zeros(n_docs, dtype=np.int32)
    fp = FieldPostings(columns, n_docs, "test/text")
    pos_ptr = np.concatenate([[0], np.cumsum(tf, dtype=np.int64)])
    for t in range(len(ptr) - 1):
        lo, hi = int(ptr[t]), int(ptr[t + 1])
        for size in {1, min(7, hi - lo), (hi - lo + 1) // 2, hi - lo} if hi > lo else ():
            rows = np.sort(rng.choice(hi - lo, size=size, replace=False))
            got, lens = fp.positions(t, rows)
            want = [p for r in rows for p in pos[pos_ptr[lo + r]:pos_ptr[lo + r + 1]]]
            assert got.tolist() == want and lens.tolist() == tf[lo + rows].tolist()
