"""The `searchlib` command line: a thin layer over `searchlib.Index`.

Only this package imports click, prompt_toolkit and tabulate, so `import searchlib` stays
light. To add a command, write it in its own module and name it in `COMMANDS`: a command's
module is imported only when that command runs (or for --help), so a one-shot `search` does
not pay for the shell's prompt_toolkit or the benchmark's evaluation code. It then inherits
`searchlib: error:` reporting (exit 2) of any `SearchlibError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

import click

from .. import __version__
from ..interrupt import exit_interrupted
from .common import SearchlibGroup

# command name -> (module of this package, attribute)
COMMANDS = {
    "index": ("index_cmd", "index"),
    "search": ("search_cmd", "search"),
    "shell": ("shell", "shell"),
    "stats": ("info_cmd", "stats"),
    "check": ("info_cmd", "check"),
    "bench": ("bench_cmd", "bench"),
}


class LazyGroup(SearchlibGroup):
    """Imports a command's module when the command is asked for, not at start-up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            self.add_command(getattr(import_module(f".{module}", __name__), attr), cmd_name)
        return super().get_command(ctx, cmd_name)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
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


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (also `python -m searchlib`)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="searchlib")
    except KeyboardInterrupt:  # outside a command (parsing options, exiting)
        exit_interrupted()


__all__ = ["cli", "main"]
