"""What every command shares: the --index option, stderr messages, errors, building, opening.

Errors are turned into one `searchlib: error:` line here (not in each command) so that
commands added later, such as `bench`, get the same grep-like exit codes for free.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click
from click.core import ParameterSource

from ..errors import (
    CorruptIndex,
    IncompatibleIndex,
    IndexNotFound,
    QuerySyntaxError,
    SearchlibError,
)
from ..interrupt import exit_interrupted
from ..search import Index
from .output import clean, plural

if TYPE_CHECKING:
    from ..index.writer import UpdateReport

INDEX_ENV = "SEARCHLIB_INDEX"
DEFAULT_INDEX = "index"
DEFAULT_SOURCES = "seeds"
EXIT_ERROR = 2
INDEX_META = "searchlib.index"  # (--index value, given on the command line?) for error hints
JSON_META = "searchlib.json"  # the command prints JSON Lines, so its messages are JSON too

F = TypeVar("F", bound=Callable[..., Any])


def _remember_index(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    explicit = ctx.get_parameter_source(param.name or "") == ParameterSource.COMMANDLINE
    ctx.meta[INDEX_META] = (value, explicit)
    return value


def index_option(f: F) -> F:
    """--index DIR, shared so every command finds the same index the same way."""
    return click.option(
        "--index", "index_dir", type=click.Path(path_type=Path), default=DEFAULT_INDEX,
        envvar=INDEX_ENV, show_envvar=True, show_default=True, metavar="DIR",
        help="Index folder.", callback=_remember_index,
    )(f)


class Whole(click.IntRange):
    """An IntRange whose error says 'not a valid whole number' (click: 'integer range')."""

    name = "whole number"


RAY_META = "searchlib.ray"


def _remember_ray(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta[RAY_META] = value


def ray_option(f: F) -> F:
    """--ray ADDRESS: the Ray cluster serving a sharded index (a single index ignores it)."""
    return click.option(
        "--ray", "ray_address", metavar="ADDRESS", envvar="RAY_ADDRESS", default=None,
        expose_value=False, callback=_remember_ray,
        help="Ray cluster serving a sharded index [default: $RAY_ADDRESS, else a local Ray "
             "is started]; a single index ignores it.",
    )(f)


def ray_address(ctx: click.Context | None = None) -> str | None:
    return _meta(ctx).get(RAY_META)


def isatty(stream: TextIO | None) -> bool:
    """Streams swapped in by tests or wrappers may lack isatty or be closed."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def _meta(ctx: click.Context | None = None) -> dict[str, Any]:
    ctx = ctx or click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def json_mode(ctx: click.Context | None = None) -> bool:
    """Whether the running command writes JSON Lines (then every message is a JSON object)."""
    return bool(_meta(ctx).get(JSON_META))


def emit_json(record: dict[str, Any]) -> None:
    """One JSON object on stdout, where a script reading the hits will see it."""
    click.echo(json.dumps(record), color=False)


def warn(message: str) -> None:
    if json_mode():
        emit_json({"type": "warning", "message": clean(message)})
    else:
        click.echo(f"searchlib: warning: {clean(message)}", err=True)


def note(message: str) -> None:
    if json_mode():
        emit_json({"type": "note", "message": clean(message)})
    else:
        click.echo(f"searchlib: {message}", err=True)


def hint(exc: BaseException, ctx: click.Context | None = None) -> str:
    """The CLI's next step for an index error (library messages name no command). It is the
    command that works here: `searchlib index` alone only where seeds/ exists."""
    root, explicit = _meta(ctx).get(INDEX_META, (None, False))
    where = f" --index {shlex.quote(str(root))}" if explicit and root is not None else ""
    if isinstance(exc, IndexNotFound):
        if Path(DEFAULT_SOURCES).is_dir():
            return f"build it from {DEFAULT_SOURCES}/ with: searchlib index{where}"
        return f"build one with: searchlib index PATH...{where}"
    if isinstance(exc, (CorruptIndex, IncompatibleIndex)):
        return f"rebuild it with: searchlib index --rebuild{where} PATH..."
    return ""


def error_message(exc: BaseException, ctx: click.Context | None = None) -> str:
    """The one-line message of a user error (without the `searchlib: error:` prefix)."""
    if isinstance(exc, OSError) and not isinstance(exc, SearchlibError):
        where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
        return clean(f"{where}{exc.strerror or exc}")
    if isinstance(exc, click.ClickException):
        return " ".join(exc.format_message().split())
    message = clean(str(exc))
    extra = hint(exc, ctx)
    return f"{message}; {extra}" if extra else message


def error_lines(exc: BaseException, ctx: click.Context | None = None) -> list[str]:
    """One line per error; a strict-syntax error adds the query with a caret under the spot."""
    lines = [f"searchlib: error: {error_message(exc, ctx)}"]
    if isinstance(exc, QuerySyntaxError) and exc.query:
        lines += ["  " + clean(line) for line in exc.caret().splitlines()]
    return lines


def error_record(exc: BaseException, ctx: click.Context | None = None) -> dict[str, Any]:
    """The error as a JSON Lines record: a syntax error keeps its position apart."""
    if isinstance(exc, QuerySyntaxError):
        return {"type": "error", "error": "QuerySyntaxError", "message": exc.message,
                "position": exc.position}
    kind = "usage" if isinstance(exc, click.ClickException) else type(exc).__name__
    return {"type": "error", "error": kind, "message": error_message(exc, ctx)}


def report(exc: BaseException, ctx: click.Context | None = None) -> None:
    """Print a user error the way the command prints: lines on stderr, or one JSON record."""
    if json_mode(ctx):
        emit_json(error_record(exc, ctx))
    else:
        for line in error_lines(exc, ctx):
            click.echo(line, err=True)


class UsageLine(click.UsageError):
    """A usage error as one `searchlib: error:` line and exit 2, without click's usage banner:
    the message already says what to fix."""

    def show(self, file: Any = None) -> None:
        if file is None and json_mode(self.ctx):
            emit_json(error_record(self, self.ctx))
            return
        click.echo(f"searchlib: error: {error_message(self)}", err=file is None, file=file)


def one_line(exc: click.UsageError) -> UsageLine:
    """click's own usage error (a bad option value, a missing path, an unknown command) as
    one line naming the help to read, instead of its four-line usage banner."""
    if isinstance(exc, UsageLine):
        return exc
    where = exc.ctx.command_path if exc.ctx is not None else "searchlib"
    message = exc.format_message().rstrip(".")
    return UsageLine(f"{message} (see {where} --help)", exc.ctx)


class SearchlibGroup(click.Group):
    """A click group that reports user errors of any subcommand as one line and exit 2,
    and Ctrl-C as one line and exit 130 (click's own answer is `Aborted!` and exit 1,
    which is the "nothing found" code here)."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise one_line(exc) from None
        except KeyboardInterrupt:
            exit_interrupted()
        except (SearchlibError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # click handles a closed pipe (`| head`) quietly
            report(exc, ctx)
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
                                     refresh=done == self.bar.n)  # else update redraws it
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
          stemmer: str | None = None, prune_missing: bool = False, jobs: int | None = None,
          memory_budget: float | None = None,
          optimize: bool = False) -> tuple[Index, UpdateReport]:
    """Create or update the index at `root`, with progress and warnings on stderr; then
    check every byte of the commit it leaves (damage an update did not touch is reported)."""
    progress = Progress()
    try:
        return Index.create_or_update(
            list(paths), root, rebuild=rebuild, stemmer=stemmer, warn=progress.warn,
            progress=progress, prune_missing=prune_missing, verify=True, jobs=jobs,
            memory_budget=memory_budget, optimize=optimize,
        )
    finally:
        progress.clear()


def update_summary(report: UpdateReport, root: Path) -> str:
    """The one line `searchlib index` ends with."""
    files = (f"{report.files_added} added, {report.files_changed} changed, "
             f"{report.files_removed} removed, {report.files_unchanged} unchanged")
    if report.files_skipped:
        files += f", {report.files_skipped} skipped"
    if report.merged:
        files += f"; {report.merged} segments merged into one"
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
    return Index.open(root, address=ray_address(ctx))
