"""Every README snippet is run: the library code blocks, and the shell examples that can run
on a fresh clone, checked against the exit code, hits and messages the README shows."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, SEEDS

README = REPO / "README.md"
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.M | re.S)
HIT = re.compile(r"^\s*(\d+)\. \d+\.\d+  .*  ¶(\d+)  \[(.+?)\]", re.M)
MESSAGE = re.compile(r"^(?:searchlib: (?:warning|error): .*|did you mean: .*)$", re.M)
# Not run here: installs, the test suite itself, the IR datasets, the speed benchmark, and
# paths outside the clone.
NOT_RUN = re.compile(r"\bpip\b|pytest|~|\$D\b|^D=|^python ")


def blocks() -> list[tuple[str, str]]:
    return FENCE.findall(README.read_text(encoding="utf-8"))


def examples() -> list[tuple[str, list[str] | None]]:
    """(command, documented output) from `$ ` blocks, and (command, None) from sh blocks."""
    found: list[tuple[str, list[str] | None]] = []
    for info, body in blocks():
        lines = body.splitlines()
        if lines and lines[0].startswith("$ "):
            i = 0
            while i < len(lines):
                command = lines[i][2:]
                while command.endswith("\\"):
                    i += 1
                    command = command[:-1].rstrip() + " " + lines[i].strip()
                output: list[str] = []
                i += 1
                while i < len(lines) and not lines[i].startswith("$ "):
                    output.append(lines[i])
                    i += 1
                found.append((command, output))
        elif info == "sh":
            found += [(line.split("#")[0].strip(), None) for line in lines
                      if line.split("#")[0].strip()]
    return found


def expected_exit(output: list[str] | None) -> int:
    text = "\n".join(output or [])
    if "searchlib: error:" in text or '{"type": "error"' in text:
        return 2
    return 1 if "no paragraph matches" in text else 0


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh clone's working directory: seeds/ and index/ holding only its README."""
    work = tmp_path / "clone"
    shutil.copytree(SEEDS, work / "seeds")
    (work / "index").mkdir(parents=True)
    shutil.copy(REPO / "index" / "README.md", work / "index" / "README.md")
    monkeypatch.chdir(work)
    return work


def test_readme_has_library_and_shell_examples() -> None:
    assert any(info == "python" for info, _ in blocks())
    runnable = [c for c, _ in examples() if not NOT_RUN.search(c)]
    assert len(runnable) >= 8 and any("searchlib search" in c for c in runnable)


def test_readme_python_snippets_run(clone: Path) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        for info, code in blocks():
            if info == "python":
                exec(compile(code, str(README), "exec"), namespace)  # noqa: S102
    res = namespace["res"]
    assert res.hits  # type: ignore[attr-defined]
    assert "idf=" in out.getvalue()


def test_readme_shell_examples_do_what_the_readme_shows(clone: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "searchlib"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m searchlib "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SEARCHLIB_INDEX")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(REPO))
    ran = 0
    for command, output in examples():
        if NOT_RUN.search(command) or ("| jq" in command and not shutil.which("jq")):
            continue
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                              text=True, cwd=clone, env=env, timeout=600)
        ran += 1
        assert proc.returncode == expected_exit(output), (command, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, command
        if output is None:
            continue
        shown = "\n".join(output)
        actual = proc.stdout + proc.stderr
        if HIT.search(shown):
            assert HIT.findall(actual) == HIT.findall(shown), command
        assert sorted(MESSAGE.findall(actual)) == sorted(MESSAGE.findall(shown)), command
        if shown.startswith('{"type": "error"'):
            assert proc.stdout.strip() == shown.strip(), command
    assert ran >= 8
