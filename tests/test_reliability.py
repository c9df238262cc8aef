"""Tests that try to break the index: crashes mid-commit, a second writer, readers during a
commit, damaged files, a full disk, and paths that lead outside the index."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

import searchlib
from searchlib import CorruptIndex, IndexLocked, IndexWriteError, NotAnIndex
from searchlib.index import storage
from searchlib.index.storage import FORMAT_VERSION

from .conftest import REPO, SEEDS

OLD_FILES = 120


def make_corpus(folder) -> None:
    folder.mkdir()
    for i in range(OLD_FILES):
        (folder / f"f{i:03d}.txt").write_text(
            f"Dispatch {i} about harvest{i} and oldmarker.\nSecond paragraph {i} on shipping."
        )


def change_corpus(folder) -> None:
    """The update under test: one file changed, one deleted, forty added."""
    path = folder / "f001.txt"
    path.write_text("Dispatch 1 rewritten with newmarker.")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    (folder / "f002.txt").unlink()
    for i in range(OLD_FILES, OLD_FILES + 40):
        (folder / f"f{i:03d}.txt").write_text(f"Dispatch {i} with newmarker.")


def content(idx) -> tuple[frozenset, frozenset, int]:
    old = idx.search("oldmarker", k=1000, fuzzy=False)
    new = idx.search("newmarker", k=1000, fuzzy=False)
    return (frozenset(h.article_id for h in old.hits), frozenset(h.article_id for h in new.hits),
            idx.stats().paragraphs)


UPDATER = textwrap.dedent("""
    import sys
    from searchlib.index import writer
    writer.MAX_SEGMENTS = 1          # force a merge (and garbage to collect) in the update
    # a tiny budget: flushes, and a merge streamed in chunks of a few hundred postings
    writer.IndexWriter(sys.argv[1]).update([sys.argv[2]], memory_budget=0.01)
""")

CRASH_POINTS = ["budget-flush", "segment-written", "deletions-written", "merge-gathered",
                "merge-chunk", "merge-postings-written", "merge-written", "merged",
                "before-manifest",
                "manifest-temp-written", "committed", "gc-partial"]


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    """What the index answers before and after the update, computed once without crashes."""
    base = tmp_path_factory.mktemp("states")
    make_corpus(base / "docs")
    before = content(searchlib.Index.build([base / "docs"], base / "idx"))
    # two earlier updates leave several segments, so the crashing update also merges
    (base / "docs" / "extra.txt").write_text("Extra oldmarker note.")
    idx = searchlib.Index.open(base / "idx")
    idx.update([base / "docs"])
    (base / "docs" / "extra.txt").unlink()
    idx.update([base / "docs"])
    assert content(idx) == before
    change_corpus(base / "docs")
    idx.update([base / "docs"])
    return before, content(idx)


def run_updater(root, docs, failpoint: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SEARCHLIB_FAILPOINT=failpoint or "")
    return subprocess.run([sys.executable, "-c", UPDATER, str(root), str(docs)],
                          env=env, capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_during_commit_leaves_old_or_new_never_a_mix(tmp_path, states, point):
    before, after = states
    docs, root = tmp_path / "docs", tmp_path / "idx"
    make_corpus(docs)
    idx = searchlib.Index.build([docs], root)
    (docs / "extra.txt").write_text("Extra oldmarker note.")
    idx.update([docs])
    (docs / "extra.txt").unlink()
    idx.update([docs])
    change_corpus(docs)

    proc = run_updater(root, docs, point)
    assert proc.returncode == -9, proc.stderr  # it really died at that point

    crashed = searchlib.Index.open(root)
    assert crashed.check() == []
    expected = after if point in ("committed", "gc-partial") else before
    assert content(crashed) == expected

    proc = run_updater(root, docs, None)  # re-running completes the update
    assert proc.returncode == 0, proc.stderr
    done = searchlib.Index.open(root)
    assert content(done) == after and done.check() == []
    leftovers = {p.name for p in (root / "segments").iterdir()}
    assert leftovers == {e["name"] for e in done.snapshot.manifest["segments"]}


RECORDS = 300

FEED_UPDATER = textwrap.dedent("""
    import os, signal, sys
    from searchlib.index import analyze, merge, segment, writer
    writer.MAX_SEGMENTS = 1          # the update merges (streamed in chunks of 327 postings)
    merge.PARALLEL_POSTINGS = 0      # a helper process encodes half of the merge's chunks
    writer.INLINE_BYTES = 0          # parse and analyze in worker processes even for this
    analyze.CHUNK_CHARS = 3000
    tear = int(os.environ.get("TEAR_WRITE") or 0)
    calls = [0]
    real = segment.write_file

    def write_file(path, data):      # the tear-th segment file is cut short, then SIGKILL
        calls[0] += 1
        if calls[0] == tear:
            with open(path, "xb") as f:
                f.write(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, data)

    segment.write_file = write_file
    writer.IndexWriter(sys.argv[1]).update([sys.argv[2]], memory_budget=0.2, jobs=2)
""")


def feed(folder, marker: str, start: int = 0, stop: int = RECORDS) -> None:
    folder.mkdir(exist_ok=True)
    lines = [json.dumps({"id": f"r{i}", "title": f"Dispatch {i}",
                         "text": f"Harvest{i} {marker} report.\n\nShipping {i} resumed."})
             for i in range(start, stop)]
    path = folder / "feed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


def feed_state(idx) -> tuple[int, int, int]:
    return (idx.search("oldmarker", k=1).total, idx.search("newmarker", k=1).total,
            idx.stats().paragraphs)


@pytest.mark.parametrize("point,tear", [
    ("budget-flush", 0), ("flush-content", 0), ("segment-written", 0), ("merge-gathered", 0),
    ("merge-chunk", 0), ("merge-postings-written", 0), ("merge-written", 0), ("merged", 0),
    ("", 3), ("", 40), ("", 90)])
def test_sigkill_in_a_budget_flush_or_a_merge_keeps_the_previous_commit(tmp_path, point, tear):
    """A JSONL read by worker processes, flushed by the memory budget, merged: killed at each
    step (or while a segment file is half written), the previous commit answers as before,
    `searchlib check` is clean, and re-running completes the update."""
    docs, root = tmp_path / "docs", tmp_path / "idx"
    feed(docs, "oldmarker")
    env = dict(os.environ, SEARCHLIB_FAILPOINT="", TEAR_WRITE="")
    first = subprocess.run([sys.executable, "-c", FEED_UPDATER, str(root), str(docs)],
                           env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert first.returncode == 0, first.stderr
    before = feed_state(searchlib.Index.open(root))
    assert before == (RECORDS, 0, 2 * RECORDS)
    feed(docs, "newmarker", 100, 2 * RECORDS)  # 100 records gone, 200 changed, 300 new

    env.update(SEARCHLIB_FAILPOINT=point, TEAR_WRITE=str(tear or ""))
    killed = subprocess.run([sys.executable, "-c", FEED_UPDATER, str(root), str(docs)],
                            env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert killed.returncode == -9, killed.stderr  # it really died there
    assert feed_state(searchlib.Index.open(root)) == before
    check = subprocess.run([sys.executable, "-m", "searchlib", "check", "--index", str(root)],
                           capture_output=True, text=True, timeout=120, cwd=REPO)
    assert check.returncode == 0, check.stdout + check.stderr

    env.update(SEARCHLIB_FAILPOINT="", TEAR_WRITE="")
    again = subprocess.run([sys.executable, "-c", FEED_UPDATER, str(root), str(docs)],
                           env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert again.returncode == 0, again.stderr
    done = searchlib.Index.open(root)
    assert feed_state(done) == (0, 500, 1000) and done.check() == []
    assert ({p.name for p in (root / "segments").iterdir()}
            == {e["name"] for e in done.snapshot.manifest["segments"]})


def test_a_dead_merge_helper_is_a_clear_error_and_keeps_the_previous_commit(tmp_path,
                                                                           monkeypatch):
    """The process that encodes half of a merge's postings is killed: the update fails with
    one line saying so, and the previous commit answers as before."""
    from searchlib.index import merge, writer

    docs, root = tmp_path / "docs", tmp_path / "idx"
    feed(docs, "oldmarker")
    searchlib.Index.build([docs], root)
    before = feed_state(searchlib.Index.open(root))
    feed(docs, "newmarker", 100, 2 * RECORDS)
    monkeypatch.setattr(merge, "PARALLEL_POSTINGS", 0)
    monkeypatch.setattr(writer, "MAX_SEGMENTS", 1)
    encode, writer_pid = merge._encode_chunk, os.getpid()

    def slow_writer(*args):  # the helper surely takes a chunk before the writer is done
        if os.getpid() == writer_pid:
            time.sleep(0.05)
        return encode(*args)

    monkeypatch.setattr(merge, "_encode_chunk", slow_writer)
    monkeypatch.setenv("SEARCHLIB_FAILPOINT", "merge-helper")  # SIGKILLs the helper only
    with pytest.raises(IndexWriteError, match="merge helper process died") as err:
        writer.IndexWriter(root).update([docs], memory_budget=0.2, jobs=2)
    assert "\n" not in str(err.value)
    idx = searchlib.Index.open(root)
    assert feed_state(idx) == before and idx.check() == []
    monkeypatch.setenv("SEARCHLIB_FAILPOINT", "")  # the helper does its share this time
    writer.IndexWriter(root).update([docs], memory_budget=0.2, jobs=2)
    done = searchlib.Index.open(root)
    assert feed_state(done) == (0, 500, 1000) and done.check() == []


HELPER_PID = textwrap.dedent("""
    import sys
    from searchlib.index import merge, writer
    writer.MAX_SEGMENTS = 1
    merge.PARALLEL_POSTINGS = 0
    start = merge._Helper.__init__

    def spy(self, *args):
        start(self, *args)
        print(self._proc.pid, flush=True)

    merge._Helper.__init__ = spy
    writer.IndexWriter(sys.argv[1]).update([sys.argv[2]], memory_budget=0.2, jobs=2)
""")


def test_a_merge_helper_dies_with_a_killed_writer(tmp_path):
    """SIGKILL of the writer mid-merge (after its first chunk) takes its helper process with
    it: nothing is left holding the old segments' files or memory."""
    docs, root = tmp_path / "docs", tmp_path / "idx"
    feed(docs, "oldmarker")
    searchlib.Index.build([docs], root)
    feed(docs, "newmarker", 100, 2 * RECORDS)
    env = dict(os.environ, SEARCHLIB_FAILPOINT="merge-chunk")
    killed = subprocess.run([sys.executable, "-c", HELPER_PID, str(root), str(docs)],
                            env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert killed.returncode == -9, killed.stderr
    helper = int(killed.stdout.split()[0])
    status = f"/proc/{helper}/status"
    deadline = time.monotonic() + 10
    while os.path.exists(status) and "State:\tZ" not in _read(status) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(status) or "State:\tZ" in _read(status)
    assert feed_state(searchlib.Index.open(root)) == (RECORDS, 0, 2 * RECORDS)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from searchlib.index.storage import WriterLock
    lock = WriterLock(Path(sys.argv[1])); lock.acquire()
    print("locked", flush=True); time.sleep(60)
""")


def test_second_writer_is_refused_and_a_killed_writers_lock_is_recovered(tmp_path):
    root = tmp_path / "idx"
    idx = searchlib.Index.build([SEEDS], root)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLocked) as err:
            idx.update([SEEDS])
        assert f"pid {holder.pid}" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    assert (root / storage.LOCK).exists()  # the dead writer's lock file is still there...
    report = searchlib.Index.open(root).update([SEEDS])  # ...and is taken over
    assert report.files_unchanged == 1


def test_readers_keep_their_snapshot_while_a_writer_commits(tmp_path):
    docs = tmp_path / "docs"
    make_corpus(docs)
    root = tmp_path / "idx"
    reader = searchlib.Index.build([docs], root)
    old_hits = reader.search("oldmarker", k=5)
    change_corpus(docs)
    for p in docs.glob("*.txt"):  # replace everything: every old segment file gets deleted
        p.write_text(p.read_text().replace("oldmarker", "newmarker"))
    searchlib.Index.build([docs], root)
    assert not any((root / "segments" / e["name"]).exists()
                   for e in reader.snapshot.manifest["segments"])
    again = reader.search("oldmarker", k=5)  # old snapshot, files already unlinked
    assert [(h.article_id, h.text) for h in again.hits] == [
        (h.article_id, h.text) for h in old_hits.hits]
    assert reader.article(old_hits.hits[0].article_id)
    fresh = searchlib.Index.open(root)
    assert fresh.search("oldmarker", fuzzy=False).total == 0
    reader.refresh()
    assert reader.search("oldmarker", fuzzy=False).total == 0


def test_reader_opening_during_many_commits_never_fails(tmp_path):
    docs = tmp_path / "docs"
    make_corpus(docs)
    root = tmp_path / "idx"
    searchlib.Index.build([docs], root)
    code = textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        import searchlib
        docs = Path({str(docs)!r})
        for i in range(15):
            p = docs / f"f{{i:03d}}.txt"
            p.write_text(f"rewrite {{i}} oldmarker")
            st = p.stat(); os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
            searchlib.Index.open({str(root)!r}).update([docs])
    """)
    writer = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    opened = 0
    try:
        while writer.poll() is None:
            idx = searchlib.Index.open(root)
            res = idx.search("oldmarker", k=3)
            assert res.total == OLD_FILES
            opened += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0 and opened > 0


# -- damaged indexes ---------------------------------------------------------------------------


@pytest.fixture
def built(tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    return root


def seg_file(root, name: str):
    seg = json.loads((root / "manifest.json").read_text())["segments"][0]["name"]
    return root / "segments" / seg / name


@pytest.mark.parametrize("name", ["text.doc.npy", "text.pos.npy", "store.bin", "vocab.txt",
                                  "articles.json", "art.first.npy"])
def test_truncated_file_is_a_clear_error(built, name):
    path = seg_file(built, name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptIndex) as err:
        searchlib.Index.open(built)
    assert name in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["text.tf.npy", "store.bin", "title.len.npy", "surface.txt"])
def test_overwritten_file_is_detected_by_checksum(built, name):
    path = seg_file(built, name)
    data = bytearray(path.read_bytes())
    data[-4:] = b"\xff\xfe\xfd\xfc"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptIndex, match="checksum"):  # every byte checked: verify=True
        searchlib.Index.open(built, verify=True)
    idx = searchlib.Index.open(built)  # opening checks structure only: `check` finds it
    assert any(name in p for p in idx.check())


def test_missing_file_is_named(built):
    seg_file(built, "text.tf.npy").unlink()
    with pytest.raises(CorruptIndex, match="missing.*text.tf.npy"):
        searchlib.Index.open(built)


def test_garbage_manifest_is_a_clear_error(built):
    (built / "manifest.json").write_text("{not json")
    with pytest.raises(CorruptIndex, match="manifest"):
        searchlib.Index.open(built)


# -- write failures and paths ------------------------------------------------------------------


@pytest.mark.parametrize("code,message", [(errno.ENOSPC, "disk full"),
                                          (errno.EROFS, "not writable")])
def test_write_failure_keeps_the_previous_commit(built, tmp_path, monkeypatch, code, message):
    docs = tmp_path / "more"
    docs.mkdir()
    (docs / "new.txt").write_text("Brand new zeppelin article.")
    real = storage.write_file
    calls = {"n": 0}

    def failing(path, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(code, os.strerror(code))
        return real(path, data)

    from searchlib.index import segment, writer
    monkeypatch.setattr(segment, "write_file", failing)
    monkeypatch.setattr(writer, "write_file", failing)
    idx = searchlib.Index.open(built)
    with pytest.raises(IndexWriteError, match=message):
        idx.update([SEEDS, docs])
    monkeypatch.undo()
    again = searchlib.Index.open(built)
    assert again.check() == [] and again.stats().paragraphs == 13
    assert again.search("zeppelin", fuzzy=False).total == 0
    names = {p.name for p in (built / "segments").iterdir()}
    assert names == {e["name"] for e in again.snapshot.manifest["segments"]}  # no leftovers


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_location_is_a_clear_error(built):
    os.chmod(built, 0o555)
    try:
        with pytest.raises(IndexWriteError):
            searchlib.Index.build([SEEDS], built)
    finally:
        os.chmod(built, 0o755)
    assert searchlib.Index.open(built).stats().paragraphs == 13


def test_symlinked_segments_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "idx"
    searchlib.Index.build([SEEDS], root)
    shutil.rmtree(root / "segments")
    (root / "segments").symlink_to(outside)
    for attempt in (lambda: searchlib.Index.build([SEEDS], root),
                    lambda: searchlib.Index.create_or_update([SEEDS], root)):
        with pytest.raises(NotAnIndex, match="symbolic link"):
            attempt()
    assert list(outside.iterdir()) == []


def test_garbage_collection_never_follows_links_out(built, tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep me")
    (built / "segments" / "seg-999999-000").symlink_to(outside)
    searchlib.Index.build([SEEDS], built)  # a commit runs garbage collection
    assert (outside / "keep.txt").read_text() == "keep me"


def _damage(root, kind: str) -> None:
    if kind == "truncated":
        path = seg_file(root, "text.pos.npy")
        path.write_bytes(path.read_bytes()[:10])
    elif kind == "overwritten":
        path = seg_file(root, "store.bin")
        path.write_bytes(bytes(len(path.read_bytes())))
    elif kind == "missing":
        seg_file(root, "vocab.txt").unlink()
    elif kind == "future-version":
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["version"] = FORMAT_VERSION + 1
        (root / "manifest.json").write_text(json.dumps(manifest))
    elif kind == "not-an-index":
        for p in root.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        (root / "holiday.jpg").write_bytes(b"\xff\xd8")


@pytest.mark.parametrize("kind", ["truncated", "overwritten", "missing", "future-version",
                                  "not-an-index"])
def test_cli_reports_damage_in_one_line_with_exit_2(built, kind):
    _damage(built, kind)
    for args in (["search", "korea"], ["check"], ["stats"], ["index", str(SEEDS)]):
        proc = subprocess.run([sys.executable, "-m", "searchlib", *args, "--index", str(built)],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
        assert proc.returncode == 2, (kind, args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        errors = [line for line in proc.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and errors[0].startswith("searchlib: error:"), proc.stderr


@pytest.mark.parametrize("kind", ["truncated", "overwritten", "missing", "future-version"])
def test_rebuild_repairs_a_damaged_index(built, kind):
    _damage(built, kind)
    proc = subprocess.run([sys.executable, "-m", "searchlib", "index", str(SEEDS), "--rebuild",
                           "--index", str(built)], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    idx = searchlib.Index.open(built)
    assert idx.check() == [] and idx.search("artillery").total >= 1
