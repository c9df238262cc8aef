"""After `sudo searchlib index`, the index folder belongs to root: a user's update must say
which path it cannot write, not just "location is not writable"."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import searchlib
from searchlib.cli import cli


def index_cmd(docs: Path, root: Path) -> tuple[int, list[str]]:
    res = CliRunner().invoke(cli, ["index", str(docs), "--index", str(root)])
    return res.exit_code, res.stderr.splitlines()


def test_update_names_the_lock_file_it_cannot_open(seed_copy, tmp_path, monkeypatch):
    root = tmp_path / "idx"
    searchlib.Index.build([seed_copy], root)
    real_open = os.open

    def deny(path, *args, **kwargs):  # what a root-owned write.lock (0644) does to a user
        if os.fspath(path).endswith("write.lock"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    code, stderr = index_cmd(seed_copy, root)
    assert code == 2
    assert stderr == [f"searchlib: error: cannot lock the index at {root}: "
                      f"{root / 'write.lock'} is not writable"]


def test_update_names_the_folder_it_cannot_create_files_in(seed_copy, tmp_path, monkeypatch):
    root = tmp_path / "idx"
    searchlib.Index.build([seed_copy], root)
    (seed_copy / "new.txt").write_text("Fresh news about walruses.")
    real_mkdir = Path.mkdir

    def deny(self, *args, **kwargs):  # a root-owned segments/ folder
        if self.name.startswith("seg-"):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", deny)
    code, stderr = index_cmd(seed_copy, root)
    assert code == 2
    assert stderr == [f"searchlib: error: could not write the index at {root}: "
                      f"{root / 'segments'} is not writable; the previous commit is intact"]
    monkeypatch.undo()
    assert searchlib.Index.open(root).search("walruses", fuzzy=False).total == 0


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anything")
def test_read_only_index_folder_is_named_for_real(seed_copy, tmp_path):
    root = tmp_path / "idx"
    searchlib.Index.build([seed_copy], root)
    (seed_copy / "new.txt").write_text("Fresh news about walruses.")
    (root / "write.lock").chmod(0o444)
    try:
        code, stderr = index_cmd(seed_copy, root)
    finally:
        (root / "write.lock").chmod(0o644)
    assert code == 2 and len(stderr) == 1 and f"{root / 'write.lock'} is not writable" in stderr[0]
