"""What every command shares: the --index option, stderr messages, errors, building, opening.

Errors are turned into one `searchlib: error:` line here (not in each command) so that
commands added later, such as `bench`, get the same grep-like exit codes for free.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from click.core import ParameterSource

from ..errors import CorruptIndex, QuerySyntaxError, SearchlibError
from ..search import Index, UpdateReport
from .output import clean, plural

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


BAR = ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}B/{total_fmt}B "
       "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")


class Progress:
    """A progress bar on stderr while indexing: bytes read of the total, rate and ETA.

    The writer lists the files before reading them, so the total is known, and a big .jsonl
    moves the bar record by record. Only on a terminal (a log or a pipe gets no bar); a
    warning clears the bar first, so each warning stays one clean line.
    """

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = isatty(self.stream) if enabled is None else enabled
        self.bar: Any = None
        self.current = ""

    def __call__(self, done: int, total: int, current: str) -> None:
        if not self.enabled or total <= 0:
            return
        if self.bar is None:
            from tqdm import tqdm  # only on a terminal: piped and one-shot runs skip the import

            sized = _columns(self.stream) > 0  # a terminal reporting 0 columns gets 80
            self.bar = tqdm(total=total, desc="indexing", unit="B", unit_scale=True,
                            unit_divisor=1024, file=self.stream, leave=False,
                            dynamic_ncols=sized, ncols=None if sized else 80,
                            nrows=None if sized else 24,
                            mininterval=0.1, bar_format=BAR)
        if current != self.current:
            self.current = current
            name = clean(current)
            self.bar.set_postfix_str(name if len(name) <= 40 else "…" + name[-39:],
                                     refresh=False)
        self.bar.update(done - self.bar.n)

    def clear(self) -> None:
        if self.bar is not None:
            self.bar.close()  # leave=False: the line is erased
            self.bar = None

    def warn(self, message: str) -> None:
        if self.bar is None:
            warn(message)
            return
        self.bar.clear()
        warn(message)
        self.bar.refresh()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


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
