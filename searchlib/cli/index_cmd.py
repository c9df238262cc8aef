"""`searchlib index`: build or incrementally update an index from files and folders."""

from __future__ import annotations

from pathlib import Path

import click

from ..analysis import STEMMERS
from ..cluster.layout import is_cluster
from ..errors import SearchlibError
from ..index.storage import read_manifest, recorded_roots
from ..search import UpdateReport
from .common import (
    DEFAULT_SOURCES,
    EXIT_ERROR,
    UsageLine,
    Whole,
    as_dir,
    build,
    index_option,
    update_summary,
)
from .output import clean, plural


@click.command("index", short_help="Build or update the index from files and folders.")
@click.argument("paths", nargs=-1, metavar="[PATH]...",
                type=click.Path(exists=True, path_type=Path))
@index_option
@click.option("--rebuild", is_flag=True,
              help="Start from scratch instead of updating (needed to change --stemmer).")
@click.option("--stemmer", type=click.Choice(STEMMERS), default=None,
              help="Word stemming for a new index [default: snowball; an existing index "
                   "keeps its own].")
@click.option("--prune-missing", is_flag=True,
              help="Drop the articles of folders and files that cannot be read now (a "
                   "missing path, an unreadable folder) instead of keeping them.")
@click.option("--jobs", type=Whole(min=1), default=None, metavar="N",
              help="Processes analyzing text [default: every core].")
@click.option("--memory-budget", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="MB", help="Memory the indexer aims to stay within, in MB "
                                 "[default: 1024].")
@click.option("--optimize", is_flag=True,
              help="Then merge the index into one segment (the fastest to search; rewrites "
                   "it whole). Without it, an update's new segment absorbs the older ones no "
                   "bigger than itself, so a bulk build leaves one.")
@click.option("--shards", type=Whole(1, 1024), default=None,
              help="Build a sharded index of N shards served by Ray (needs searchlib[ray]).")
@click.option("--ray", "ray_address", metavar="ADDRESS", envvar="RAY_ADDRESS", default=None,
              help="Ray cluster to join for a sharded index [default: $RAY_ADDRESS, else a "
                   "local Ray is started].")
@click.pass_context
def index(ctx: click.Context, paths: tuple[Path, ...], index_dir: Path, rebuild: bool,
          stemmer: str | None, prune_missing: bool, jobs: int | None,
          memory_budget: float | None, optimize: bool, shards: int | None,
          ray_address: str | None) -> None:
    """Index the articles in PATHs (files or folders).

    Without PATH: the paths this index was built from (so `searchlib index` re-syncs an
    index, and `--rebuild` rebuilds it from the same sources), or seeds/ for a new index.

    Updates are incremental: only new and changed files are read, and files that
    disappeared from the given folders are dropped. Files that cannot be read (binary,
    empty...) are skipped with one warning each; the rest is indexed. On a terminal a
    progress bar shows the bytes read.

    A folder or file that cannot be read now (permissions, a path that is gone, such as an
    unmounted drive) keeps the articles indexed from it: the rest is committed, and the
    command exits 2 saying so. --prune-missing drops those articles instead.

    \b
    Examples:
      searchlib index                        # re-sync index/ (new: from seeds/)
      searchlib index ~/news --index ~/news-index
      searchlib index --rebuild --stemmer porter
      searchlib index --optimize             # re-sync, then merge into one segment
      searchlib index ~/news --index ~/news-sharded --shards 4
    """
    if shards is not None or is_cluster(index_dir):
        if optimize:
            raise UsageLine("--optimize is for a single index, not a sharded one", ctx)
        _sharded(ctx, paths, index_dir, rebuild, stemmer, prune_missing, shards, ray_address)
        return
    if stemmer is not None and not rebuild:
        current = recorded_setting(index_dir, "stemmer")
        if current not in (None, stemmer):
            raise UsageLine(f"{as_dir(index_dir)} uses --stemmer {current}; add --rebuild to "
                            f"change it", ctx)
    if not paths:
        paths = tuple(Path(p) for p in recorded_roots(index_dir))
    if not paths:
        if not Path(DEFAULT_SOURCES).is_dir():
            raise UsageLine(f"no PATH given and no {DEFAULT_SOURCES}/ folder here; name the "
                            "files or folders to index: searchlib index PATH...", ctx)
        paths = (Path(DEFAULT_SOURCES),)
    _, report = build(paths, index_dir, rebuild=rebuild, stemmer=stemmer,
                      prune_missing=prune_missing, jobs=jobs, memory_budget=memory_budget,
                      optimize=optimize)
    click.echo(update_summary(report, index_dir))
    if report.partial:
        click.echo(f"searchlib: error: {kept_message(report)}", err=True)
        ctx.exit(EXIT_ERROR)


def _sharded(ctx: click.Context, paths: tuple[Path, ...], index_dir: Path, rebuild: bool,
             stemmer: str | None, prune_missing: bool, shards: int | None,
             ray_address: str | None) -> None:
    """Build or re-sync a sharded index: one Ray task per shard, one cluster commit."""
    from ..cluster.layout import read_cluster
    from ..cluster.writer import update_cluster
    from .common import warn

    if not paths and is_cluster(index_dir):
        paths = tuple(Path(p) for p in read_cluster(index_dir).get("roots") or [])
    if not paths:
        raise UsageLine("name the files or folders to index: searchlib index PATH... "
                        "--shards N", ctx)
    try:
        report = update_cluster(list(paths), index_dir, shards=shards, rebuild=rebuild,
                                stemmer=stemmer, prune_missing=prune_missing, warn=warn,
                                address=ray_address)
    except ImportError as exc:
        raise UsageLine(f"--shards needs Ray ({exc}): pip install 'searchlib[ray]'", ctx) from None
    click.echo(update_summary(report, index_dir))
    if report.partial:
        click.echo(f"searchlib: error: {kept_message(report)}", err=True)
        ctx.exit(EXIT_ERROR)


def recorded_setting(index_dir: Path, key: str) -> str | None:
    """An analyzer setting of an existing index (None for a new or unreadable index)."""
    try:
        return read_manifest(index_dir)["analyzer"].get(key)
    except (SearchlibError, AttributeError, TypeError):
        return None


def kept_message(report: UpdateReport) -> str:
    """One line on what an update could not re-read and therefore kept as it was."""
    where = report.kept_subtrees
    shown = clean(where[0]) + (f" and {len(where) - 1} more" if len(where) > 1 else "")
    return (f"kept {plural(report.articles_kept, 'indexed article')} from "
            f"{plural(len(where), 'path')} that could not be read ({shown}); fix that and run "
            "again, or drop them with --prune-missing")
