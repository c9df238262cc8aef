"""What every command shares: the --index option, stderr messages, errors, building, opening.

Errors are turned into one `searchlib: error:` line here (not in each command) so that
commands added later, such as `bench`, get the same grep-like exit codes for free.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click
from click.core import ParameterSource

from ..errors import CorruptIndex, QuerySyntaxError, SearchlibError
from ..search import Index
from .output import clean, plural

if TYPE_CHECKING:
    from ..index.writer import UpdateReport

INDEX_ENV = "SEARCHLIB_INDEX"
DEFAULT_INDEX = "index"
DEFAULT_SOURCES = "seeds"
EXIT_ERROR = 2

F = TypeVar("F", bound=Callable[..., Any])


def index_option(f: F) -> F:
    """--index DIR, shared so every command finds the same index the same way."""
    return click.option(
        "--index", "index_dir", type=click.Path(path_type=Path), default=DEFAULT_INDEX,
        envvar=INDEX_ENV, show_envvar=True, show_default=True, metavar="DIR",
        help="Index folder.",
    )(f)


def isatty(stream: TextIO | None) -> bool:
    """Streams swapped in by tests or wrappers may lack isatty or be closed."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def warn(message: str) -> None:
    click.echo(f"searchlib: warning: {clean(message)}", err=True)


def note(message: str) -> None:
    click.echo(f"searchlib: {message}", err=True)


def error_lines(exc: BaseException) -> list[str]:
    """One line per error; a strict-syntax error adds the query with a caret under the spot."""
    if isinstance(exc, QuerySyntaxError):
        lines = [f"searchlib: error: {exc}"]
        if exc.query:
            lines += ["  " + clean(line) for line in exc.caret().splitlines()]
        return lines
    if isinstance(exc, CorruptIndex):
        return [f"searchlib: error: {exc}; rebuild it with: searchlib index --rebuild PATH..."]
    if isinstance(exc, OSError):
        where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
        return [f"searchlib: error: {clean(where)}{exc.strerror or exc}"]
    return [f"searchlib: error: {clean(str(exc))}"]


class SearchlibGroup(click.Group):
    """A click group that reports user errors of any subcommand as one line and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SearchlibError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # click handles a closed pipe (`| head`) quietly
            for line in error_lines(exc):
                click.echo(line, err=True)
            raise click.exceptions.Exit(EXIT_ERROR) from None


class Progress:
    """A `\\r` status line on stderr: files done and the current file.

    The writer walks folders lazily, so the total is unknown and a bar or ETA would lie.
    Only shown on a terminal; warnings first clear the line so each stays one clean line.
    """

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = isatty(self.stream) if enabled is None else enabled
        self.shown = 0
        self.last = float("-inf")

    def __call__(self, done: int, rel: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.05:  # a redraw per file would cost more than the reading
            return
        self.last = now
        width = max(20, shutil.get_terminal_size().columns - 1)
        line = clean(f"indexing: {plural(done, 'file')} done, reading {rel}")[:width]
        self.stream.write("\r" + line.ljust(self.shown))
        self.stream.flush()
        self.shown = len(line)

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()
            self.shown = 0

    def warn(self, message: str) -> None:
        self.clear()
        warn(message)


def build(paths: Sequence[str | os.PathLike], root: Path, *, rebuild: bool = False,
          stemmer: str | None = None) -> tuple[Index, UpdateReport]:
    """Create or update the index at `root`, with progress and warnings on stderr."""
    progress = Progress()
    try:
        return Index.create_or_update(
            list(paths), root, rebuild=rebuild, stemmer=stemmer, warn=progress.warn,
            progress=progress,
        )
    finally:
        progress.clear()


def update_summary(report: UpdateReport, root: Path) -> str:
    """The one line `searchlib index` ends with."""
    files = (f"{report.files_added} added, {report.files_changed} changed, "
             f"{report.files_removed} removed, {report.files_unchanged} unchanged")
    if report.files_skipped:
        files += f", {report.files_skipped} skipped"
    return (f"{as_dir(root)}: {plural(report.articles, 'article')}, "
            f"{plural(report.paragraphs, 'paragraph')} (files: {files}) "
            f"in {report.seconds:.2f} s")


def as_dir(path: Path) -> str:
    """`index/` rather than `index`, so a message reads as a folder."""
    return os.path.join(str(path), "")


def _fresh(root: Path) -> bool:
    """No index yet (a missing folder, or one with no committed index in it)."""
    return not Index.exists(root)


def open_index(ctx: click.Context, root: Path, *, autobuild: bool = True) -> Index:
    """Open the index; on a fresh clone build the default one from seeds/ first.

    Only the default index (index/ or $SEARCHLIB_INDEX) is built on the fly: an explicit
    --index that does not exist is more likely a typo than a wish for a new index.
    """
    source = ctx.get_parameter_source("index_dir")
    default = source in (ParameterSource.DEFAULT, ParameterSource.ENVIRONMENT)
    if autobuild and default and _fresh(root) and Path(DEFAULT_SOURCES).is_dir():
        note(f"no index yet: building {as_dir(root)} from {DEFAULT_SOURCES}/ first")
        index, report = build([DEFAULT_SOURCES], root)
        note(update_summary(report, root))
        return index
    return Index.open(root)
