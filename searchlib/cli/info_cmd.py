"""`searchlib stats` and `searchlib check`: look at an index without searching it."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CorruptIndex
from ..search import Index
from .common import EXIT_ERROR, Whole, as_dir, index_option, ray_address, ray_option
from .output import clean, plural, stats_text


@click.command("stats", short_help="Index size, vocabulary, settings and top terms.")
@index_option
@ray_option
@click.option("--top", type=Whole(min=0), default=10, show_default=True, metavar="N",
              help="How many of the most frequent terms to list.")
@click.pass_context
def stats(ctx: click.Context, index_dir: Path, top: int) -> None:
    """Size, vocabulary, analyzer settings and most frequent terms of the index (after
    checking every file against its checksum).

    \b
    Example:
      searchlib stats --index index/ --top 20
    """
    # an index's summary vouches for its health: every byte is checked, as `check` does
    idx = Index.open(index_dir, verify=True, address=ray_address(ctx))
    click.echo(stats_text(idx.stats(top=top)))


@click.command("check", short_help="Verify the index files against their checksums.")
@index_option
@ray_option
@click.pass_context
def check(ctx: click.Context, index_dir: Path) -> None:
    """Verify every index file against the size and checksum its commit recorded.

    Prints `OK: ...` and exits 0, or one line per problem and exits 2.

    \b
    Example:
      searchlib check --index index/ || searchlib index --rebuild seeds/
    """
    # Open without the full verification: check() then reports every damaged file, once;
    # an index too damaged to open has its files verified one by one instead.
    try:
        idx = Index.open(index_dir, verify=False, address=ray_address(ctx))
    except CorruptIndex as exc:
        problems = Index.check_files(index_dir) or [str(exc)]
        for problem in problems:
            click.echo(f"searchlib: error: {index_dir}: {clean(problem)}", err=True)
        ctx.exit(EXIT_ERROR)
    problems = idx.check()
    for problem in problems:
        click.echo(f"searchlib: error: {index_dir}: {clean(problem)}", err=True)
    if problems:
        ctx.exit(EXIT_ERROR)
    st = idx.stats(top=0)
    click.echo(f"OK: {as_dir(index_dir)} {plural(st.articles, 'article')}, "
               f"{plural(st.paragraphs, 'paragraph')} in {plural(st.segments, 'segment')}; "
               "every file matches its checksum")
