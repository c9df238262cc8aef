"""The writer and readers under stress: transient read errors, a damaged file list or
manifest, checks racing a committing writer, Ctrl-C at the worst moments, and damaged files
opened without verification."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import searchlib
from searchlib import CorruptIndex, SearchlibError
from searchlib.cli import cli
from searchlib.index import storage

from .conftest import REPO, SEEDS


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchlib", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("searchlib: error:"), proc.stderr
    return errors[0]


def bump(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


def ids(idx: searchlib.Index, query: str) -> set[str]:
    return {h.article_id for h in idx.search(query, k=100, fuzzy=False).hits}


@pytest.fixture
def docs(tmp_path) -> Path:
    """Ten articles in a subfolder, two at the top."""
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    for i in range(10):
        (folder / "sub" / f"s{i}.txt").write_text(f"Subfolder dispatch {i} about okapis.")
    (folder / "top.txt").write_text("Top dispatch about tapirs.")
    (folder / "other.txt").write_text("Other dispatch about tapirs.")
    return folder


def deny_listing(monkeypatch, name: str) -> None:
    """Make folders called `name` unlistable, as chmod 000 does (also when running as root)."""
    real = os.scandir

    def guarded(path="."):
        if not isinstance(path, int) and os.path.basename(os.fspath(path)) == name:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", guarded)


# -- item 3: transient read errors keep what was indexed ---------------------------------------


def test_an_unreadable_folder_keeps_its_articles_unless_pruned(docs, tmp_path, monkeypatch):
    idx = searchlib.Index.build([docs], tmp_path / "idx")
    assert len(ids(idx, "okapis")) == 10
    (docs / "other.txt").unlink()  # deleted inside a readable folder: still dropped
    deny_listing(monkeypatch, "sub")
    warnings: list[str] = []
    report = idx.update([docs], warn=warnings.append)
    assert len(ids(idx, "okapis")) == 10 and ids(idx, "tapirs") == {"top.txt"}
    assert report.kept_subtrees == [str(docs / "sub")] and report.articles_kept == 10
    assert report.files_removed == 1 and report.partial
    assert warnings == ["skipped folder sub: permission denied"]

    report = idx.update([docs], prune_missing=True)
    assert ids(idx, "okapis") == set() and report.files_removed == 10
    assert report.kept_subtrees == [] and not report.partial


def test_a_missing_root_keeps_its_articles_but_an_emptied_one_does_not(docs, tmp_path):
    root = tmp_path / "idx"
    idx = searchlib.Index.build([docs], root)
    away = tmp_path / "unmounted"
    docs.rename(away)  # the drive holding docs/ is not mounted
    report = idx.update(idx.roots)
    assert report.kept_subtrees == [str(docs)] and report.articles_kept == 12
    assert idx.stats().articles == 12
    away.rename(docs)
    shutil.rmtree(docs / "sub")  # really emptied
    for p in docs.iterdir():
        p.unlink()
    report = idx.update(idx.roots)
    assert idx.stats().articles == 0 and report.files_removed == 12 and not report.partial


def test_an_unreadable_file_keeps_its_articles_unless_pruned(docs, tmp_path, monkeypatch):
    from searchlib import corpus

    idx = searchlib.Index.build([docs], tmp_path / "idx")
    (docs / "top.txt").write_text("Top dispatch rewritten.")
    bump(docs / "top.txt")
    real_open = open

    def deny(path, *args, **kwargs):
        if os.fspath(path).endswith("top.txt"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(corpus, "open", deny, raising=False)
    report = idx.update([docs])
    assert ids(idx, "tapirs") == {"top.txt", "other.txt"}
    assert report.kept_subtrees == [str(docs / "top.txt")] and report.articles_kept == 1
    report = idx.update([docs], prune_missing=True)
    assert ids(idx, "tapirs") == {"other.txt"} and report.files_removed == 1


def test_cli_resync_with_a_missing_root_exits_2_and_keeps_the_index(docs, tmp_path):
    root = str(tmp_path / "idx")
    assert run_cli("index", str(docs), "--index", root).returncode == 0
    docs.rename(tmp_path / "unmounted")
    proc = run_cli("index", "--index", root, cwd=tmp_path)  # re-sync the recorded root
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "kept 12 indexed articles" in line and "--prune-missing" in line
    assert f"no such file or folder: {docs}" in proc.stderr
    assert "12 articles" in proc.stdout and searchlib.Index.open(root).stats().articles == 12

    proc = run_cli("index", "--prune-missing", "--index", root, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    idx = searchlib.Index.open(root)
    assert idx.stats().articles == 0 and idx.roots == []


def test_cli_unreadable_folder_exits_2_naming_it(docs, tmp_path, monkeypatch):
    root = str(tmp_path / "idx")
    runner = CliRunner()
    assert runner.invoke(cli, ["index", str(docs), "--index", root]).exit_code == 0
    deny_listing(monkeypatch, "sub")
    result = runner.invoke(cli, ["index", str(docs), "--index", root])
    assert result.exit_code == 2, result.output
    assert f"kept 10 indexed articles from 1 path that could not be read ({docs / 'sub'})" \
        in result.output
    assert searchlib.Index.open(root).stats().articles == 12


# -- item 4: the file list is verified before the writer trusts it -----------------------------


def test_a_bit_flip_in_the_file_list_is_refused_not_obeyed(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in "abcde":
        (src / f"{name}.txt").write_text(f"Article {name} about zebra{name}.")
    root = tmp_path / "idx"
    searchlib.Index.build([src], root)
    sources = next(root.glob("sources-*.json"))
    data = sources.read_text()
    entry = f'"{src / "c.txt"}": '
    at = data.index(entry)
    flipped = data[:at] + data[at:].replace(", 2, 1]", ", 3, 1]", 1)  # '2' ^ 1 == '3'
    assert flipped != data and json.loads(flipped)
    sources.write_text(flipped)
    (src / "c.txt").write_text("Article c rewritten about zebrac.")
    bump(src / "c.txt")

    with pytest.raises(CorruptIndex, match="sources-.*checksum"):
        searchlib.Index.open(root).update([src])
    proc = run_cli("index", str(src), "--index", str(root))
    assert proc.returncode == 2 and "--rebuild" in one_error_line(proc)
    idx = searchlib.Index.open(root)  # nothing was committed: d is still there, c is old
    assert ids(idx, "zebrad") == {"d.txt"} and ids(idx, "rewritten") == set()
    assert any("sources" in p for p in idx.check())
    assert run_cli("index", str(src), "--rebuild", "--index", str(root)).returncode == 0
    idx = searchlib.Index.open(root)
    assert idx.check() == [] and ids(idx, "rewritten") == {"c.txt"}


# -- item 5: check and stats describe the commit they opened -----------------------------------


WRITER_LOOP = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import searchlib
    docs, root = Path(sys.argv[1]), sys.argv[2]
    for i in range(40):
        p = docs / f"f{i % 5}.txt"
        p.write_text(f"rewrite {i} of the dispatch about okapis")
        st = p.stat(); os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
        searchlib.Index.open(root, verify=False).update([docs])
""")


def test_check_and_stats_are_consistent_while_a_writer_commits(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(5):
        (docs / f"f{i}.txt").write_text(f"dispatch {i} about okapis")
    root = tmp_path / "idx"
    searchlib.Index.build([docs], root)
    runner = CliRunner()
    writer = subprocess.Popen([sys.executable, "-c", WRITER_LOOP, str(docs), str(root)],
                              cwd=REPO)
    rounds = 0
    try:
        while writer.poll() is None:
            idx = searchlib.Index.open(root)
            assert idx.check() == []
            st = idx.stats()
            assert st.articles == 5 and st.bytes > 0
            result = runner.invoke(cli, ["check", "--index", str(root)])
            assert result.exit_code == 0, result.output
            rounds += 1
    finally:
        writer.wait(timeout=300)
    assert writer.returncode == 0 and rounds > 0


def test_an_open_index_checks_its_own_commit_after_newer_ones_removed_it(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("the okapi")
    root = tmp_path / "idx"
    reader = searchlib.Index.build([docs], root)
    size = reader.stats().bytes
    for text in ("the okapi again", "the okapi once more"):
        (docs / "a.txt").write_text(text)
        bump(docs / "a.txt")
        searchlib.Index.open(root).update([docs])
    old = reader.snapshot.manifest
    assert not (root / old["sources"]).exists()  # its files were collected
    assert reader.check() == [] and reader.stats().bytes == size


# -- item 6: a parseable but damaged manifest --------------------------------------------------


def _rename(d: dict, old: str, new: str) -> None:
    d[new] = d.pop(old)


MUTATIONS = {
    "paragraphX": lambda m: _rename(m["segments"][0], "paragraphs", "paragraphX"),
    "name": lambda m: _rename(m["segments"][0], "name", "nom"),
    "files": lambda m: _rename(m["segments"][0], "files", "filez"),
    "articles": lambda m: _rename(m["segments"][0], "articles", "article"),
    "stemmer": lambda m: m["analyzer"].update(stemmer="snowbalm"),
    "segments-number": lambda m: m.update(segments=5),
    "generation-text": lambda m: m.update(generation="3x"),
    "name-escapes": lambda m: m["segments"][0].update(name="../../elsewhere"),
    "sources-file": lambda m: m.pop("sources_file"),
}


@pytest.fixture(scope="module")
def small_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small") / "idx"
    searchlib.Index.build([SEEDS], root)
    return root


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_damaged_manifest_is_one_clear_error_and_rebuild_repairs_it(small_index, tmp_path,
                                                                     mutation):
    root = tmp_path / "idx"
    shutil.copytree(small_index, root)
    manifest = json.loads((root / "manifest.json").read_text())
    MUTATIONS[mutation](manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndex) as err:
        searchlib.Index.open(root)
    assert "manifest.json is damaged" in str(err.value) and "\n" not in str(err.value)
    for args in (["check"], ["search", "korea"], ["stats"], ["index", str(SEEDS)]):
        proc = run_cli(*args, "--index", str(root))
        assert proc.returncode == 2, (args, proc.stderr)
        assert "manifest.json is damaged" in one_error_line(proc)
    proc = run_cli("index", "--rebuild", "--index", str(root), cwd=tmp_path)  # recorded root
    assert proc.returncode == 0, proc.stderr
    idx = searchlib.Index.open(root)
    assert idx.check() == [] and idx.search("artillery").total >= 1


# -- item 7: Ctrl-C ----------------------------------------------------------------------------


def test_an_interrupt_right_after_the_manifest_rename_keeps_the_new_commit(tmp_path,
                                                                          monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("the okapi")
    root = tmp_path / "idx"
    idx = searchlib.Index.build([docs], root)
    (docs / "b.txt").write_text("the tapir")
    real = os.replace

    def rename_then_interrupt(src, dst):
        real(src, dst)
        raise KeyboardInterrupt  # Ctrl-C arriving as the rename returns

    monkeypatch.setattr(storage.os, "replace", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        idx.update([docs])
    monkeypatch.undo()
    after = searchlib.Index.open(root)
    assert after.check() == [] and ids(after, "tapir") == {"b.txt"}


INTERRUPTED_STARTUP = textwrap.dedent("""
    import runpy, sys
    loading = sys.argv[1]

    class CtrlC:  # the user presses Ctrl-C while the command line's modules load
        def find_spec(self, name, path=None, target=None):
            if name == loading:
                raise KeyboardInterrupt

    sys.meta_path.insert(0, CtrlC())
    sys.argv = ["searchlib", "stats"]
    runpy.run_module("searchlib", run_name="__main__")
""")


@pytest.mark.parametrize("loading", ["numpy", "click"])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path, loading):
    proc = subprocess.run([sys.executable, "-c", INTERRUPTED_STARTUP, loading],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 130 and proc.stderr == "searchlib: interrupted\n"


def test_ctrl_c_in_a_command_exits_130_without_aborted(small_index):
    shell = subprocess.Popen(
        [sys.executable, "-m", "searchlib", "shell", "--index", str(small_index)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=REPO)
    try:
        shell.stdin.write("artillery\n")
        shell.stdin.flush()
        while "paragraph" not in shell.stdout.readline():  # answered: now waiting for input
            pass
        shell.send_signal(signal.SIGINT)
        _, err = shell.communicate(timeout=60)
    finally:
        shell.kill()
    assert shell.returncode == 130 and err == "searchlib: interrupted\n"


# -- item 8: damaged files opened with verify=False --------------------------------------------


def _damage(data: bytes, kind: str) -> bytes:
    b = bytearray(data)
    if kind == "zeros":
        return bytes(len(b))
    if kind == "ones":
        return b"\xff" * len(b)
    if kind == "middle":
        for i in range(len(b) // 2, min(len(b), len(b) // 2 + 8)):
            b[i] ^= 0xA5
    elif kind == "header-quote":  # an .npy header that tokenizes badly
        i = b.find(b"'")
        b[i:i + 1] = b"(" if i >= 0 else b""
    elif kind == "header-dtype":
        return bytes(b.replace(b"'<i4'", b"'<f4'", 1).replace(b"'<i8'", b"'<f8'", 1))
    return bytes(b)


SEGMENT_FILES = ["text.ptr.npy", "text.doc.npy", "text.tf.npy", "text.pos.npy", "text.len.npy",
                 "title.ptr.npy", "title.doc.npy", "title.tf.npy", "title.pos.npy",
                 "title.len.npy", "art.first.npy", "store.off.npy", "vocab.txt", "surface.txt",
                 "store.bin", "articles.json", "store.crc.npy", "art.off.npy", "vocab.off.npy"]


@pytest.mark.parametrize("kind", ["zeros", "ones", "middle", "header-quote", "header-dtype"])
def test_damage_opened_without_verification_is_a_searchlib_error(small_index, tmp_path, kind):
    seg = json.loads((small_index / "manifest.json").read_text())["segments"][0]["name"]
    for name in SEGMENT_FILES:
        root = tmp_path / name
        shutil.copytree(small_index, root)
        path = root / "segments" / seg / name
        damaged = _damage(path.read_bytes(), kind)
        if damaged == path.read_bytes():
            continue
        path.write_bytes(damaged)
        try:
            idx = searchlib.Index.open(root, verify=False)
        except SearchlibError:
            continue  # a clear error; anything else would be a raw traceback for the user
        assert any(name in problem for problem in idx.check())
        try:
            idx.stats()
            for query in ("korea", '"artillery shells"', "sanction*", "acemolgu", "title:war"):
                for hit in idx.search(query).hits:
                    assert all(0 <= a < b <= len(hit.text) for a, b in hit.spans)  # lazy
                    idx.article_of(hit)
            idx.complete("ko")
            idx.rank("korea missiles", k=50)
        except SearchlibError:
            pass


def test_a_bug_is_not_disguised_as_a_damaged_index(small_index, monkeypatch):
    """Damage is caught where files are parsed; a programming error must surface as itself,
    not as "index damaged, rebuild it" (a rebuild would not help)."""
    from searchlib.ranking import searcher

    def broken(*args, **kwargs):
        raise IndexError("a bug in ranking")

    idx = searchlib.Index.open(small_index)
    monkeypatch.setattr(searcher, "run", broken)
    with pytest.raises(IndexError, match="a bug in ranking"):
        idx.search("korea")
