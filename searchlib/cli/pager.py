"""Paging long shell answers: colours shown (not `ESC[31m`), the page left on the screen after
`q`, and optionally opened at a given line, so `:open N` starts at the hit.

click.echo_via_pager only sets LESS=-R when it decides about colour itself, never keeps the
page on screen and always starts at the top, so the shell runs the pager here.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import click

# less options: R passes colours through, X skips the alternate screen (the page stays on the
# terminal after q), F quits at once if the text fits on one screen after all.
LESS_DEFAULT = "FRX"
_LESS_NEEDED = ("R", "X")  # added to a user's own LESS when it lacks them
_LESS_TAKES_ARG = set("bhjkopPtTxyzD#")  # the rest of the word is the option's argument
_LESS_LONG = {"raw-control-chars": "r", "RAW-CONTROL-CHARS": "R", "no-init": "X",
              "quit-if-one-screen": "F"}
_START_AT_LINE = {"less", "more"}  # pagers that read +N as "start at line N"
_COLOUR = {"less", "more"}  # pagers known to show ANSI colours (less once given -R)


@dataclass(frozen=True)
class Pager:
    argv: list[str]
    env: dict[str, str]
    color: bool  # the pager shows ANSI colours; otherwise the text is sent plain


def less_flags(*words: str) -> set[str]:
    """The one-letter less options that `words` (LESS, or arguments) turn on: '-FRX', 'R -j5',
    '--no-init'; `-+R` turns R back off."""
    flags: set[str] = set()
    for word in " ".join(words).split():
        if word.startswith("--"):
            flag = _LESS_LONG.get(word[2:].split("=")[0])
            if flag:
                flags.add(flag)
            continue
        if word.startswith("+"):
            continue  # a +command, not options
        chars = iter(word.lstrip("-"))
        for ch in chars:
            if ch == "+":
                flags.discard(next(chars, ""))
            elif ch in _LESS_TAKES_ARG:
                break
            else:
                flags.add(ch)
    return flags


def choose_pager(environ: Mapping[str, str], start_line: int | None = None) -> Pager | None:
    """The pager to run, or None to print directly ($PAGER empty or `cat`, or none found).

    $PAGER wins; else less, else more. For less, LESS=FRX when LESS is unset; a user's own
    LESS is kept, with -R and -X added when it lacks them."""
    specs = [environ["PAGER"]] if "PAGER" in environ else ["less", "more"]
    for spec in specs:
        try:
            argv = shlex.split(spec)
        except ValueError:
            continue
        if not argv or os.path.basename(argv[0]) == "cat":
            return None
        path = shutil.which(argv[0], path=environ.get("PATH", os.defpath))
        if path:
            break
    else:
        return None
    name = os.path.basename(argv[0])
    env, args = dict(environ), argv[1:]
    if name == "less":
        if not environ.get("LESS"):
            env["LESS"] = LESS_DEFAULT
        else:
            have = less_flags(environ["LESS"], *args)
            args += [f"-{f}" for f in _LESS_NEEDED
                     if f not in have and not (f == "R" and "r" in have)]
    if start_line and start_line > 1 and name in _START_AT_LINE:
        args.append(f"+{start_line}")
    return Pager([path, *args], env, color=name in _COLOUR)


def page(text: str, *, color: bool, start_line: int | None = None,
         environ: Mapping[str, str] | None = None) -> bool:
    """Show `text` in the pager (opened at `start_line`, 1-based); False if there is none and
    the caller should print it instead."""
    pager = choose_pager(os.environ if environ is None else environ, start_line)
    if pager is None:
        return False
    if not (color and pager.color):
        text = click.unstyle(text)
    try:
        proc = subprocess.Popen(pager.argv, stdin=subprocess.PIPE, env=pager.env, text=True,
                                encoding=getattr(sys.stdout, "encoding", None) or "utf-8",
                                errors="replace")
    except OSError:
        return False
    assert proc.stdin is not None
    try:
        proc.stdin.write(text if text.endswith("\n") else text + "\n")
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the user quit the pager early, or pressed Ctrl-C: less shows what it has
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        while True:  # less ignores Ctrl-C (it stops a search); wait until the user quits
            try:
                proc.wait()
                break
            except KeyboardInterrupt:
                continue
    return True
