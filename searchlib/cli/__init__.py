"""The `searchlib` command line: a thin layer over `searchlib.Index`.

Only this package imports click, prompt_toolkit and tabulate, so `import searchlib` stays
light. To add a command, write it in its own module and register it on the group:

    from .bench_cmd import bench
    cli.add_command(bench)

It then inherits `searchlib: error:` reporting (exit 2) of any `SearchlibError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from .. import __version__
from ..interrupt import exit_interrupted
from .bench_cmd import bench
from .common import SearchlibGroup
from .index_cmd import index
from .info_cmd import check, stats
from .search_cmd import search
from .shell import shell

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=SearchlibGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="searchlib",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """Full-text search for news articles, ranked by paragraph.

    The index lives in index/ unless --index DIR or $SEARCHLIB_INDEX says otherwise.

    \b
    Examples:
      searchlib search north korea artillery shells   # builds index/ from seeds/ if needed
      searchlib index ~/articles                      # add, update, drop changed files
      searchlib shell                                 # interactive search
      searchlib stats
      searchlib bench --dataset seeds --engine searchlib,whoosh
    """


for _command in (index, search, shell, stats, check, bench):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (also `python -m searchlib`)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="searchlib")
    except KeyboardInterrupt:  # outside a command (parsing options, exiting)
        exit_interrupted()


__all__ = ["cli", "main"]
