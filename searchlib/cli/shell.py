"""`searchlib shell`: search interactively (prompt_toolkit) or line by line from a pipe.

The command logic lives in `Shell`, independent of where lines come from, so the piped
mode (scripts, tests) and the interactive prompt behave the same.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from .. import filterargs
from ..errors import SearchlibError
from ..search import Hit, Index, SearchResults, proximity_option
from .common import error_lines, index_option, isatty, open_index, ray_option, warn
from .output import Style, article_text, color_wanted, plural, results_text, terminal_width
from .pager import page
from .search_cmd import color_option

COMMANDS = [
    (":help", "this list"),
    (":k N", "show N hits per query"),
    (":articles", "toggle one hit per article (best paragraph)"),
    (":since DATE", "only articles dated from DATE on (no DATE: any)"),
    (":until DATE", "only articles dated up to DATE, inclusive (no DATE: any)"),
    (":sort ORDER", "score, date or -date (newest first)"),
    (":facets F,G", "count matching articles per value of F, G (none: off)"),
    (":prf", "toggle pseudo-relevance feedback (expand the query from the top paragraphs)"),
    (":proximity W", "weight of the bonus for query words close together (0: off)"),
    (":explain N", "why hit N of the last results scored what it did"),
    (":open N", "the whole article of hit N, that paragraph marked >>"),
    (":quit", "leave (or Ctrl-D); Ctrl-C cancels the line being typed"),
]
ALIASES = {"h": "help", "?": "help", "q": "quit", "exit": "quit"}
PROMPT = "search> "


def history_path() -> Path:
    """$XDG_DATA_HOME/searchlib/history (XDG says to ignore a relative value)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "searchlib" / "history"


class Shell:
    """One search session: settings, the last results, and the `:` commands."""

    def __init__(self, index: Index, style: Style, *, pager: bool = False) -> None:
        self.index = index
        self.style = style
        self.pager = pager
        self.k = 10
        self.articles = False
        self.filters: dict[str, Any] = {"since": None, "until": None, "sort": "score",
                                        "facets": None}
        self.ranking: dict[str, Any] = {"prf": False, "proximity": None}
        self.last: SearchResults | None = None
        self.separate = False  # without a prompt between them, answers need a blank line

    # -- output --------------------------------------------------------------------------------

    def emit(self, text: str, start_line: int | None = None) -> None:
        """Page only what would scroll off the screen; short answers stay inline. The pager
        opens at `start_line` (1-based) when given."""
        if self.separate:
            click.echo()
        self.separate = not self.pager
        if self.pager:
            size = shutil.get_terminal_size()
            rows = sum(1 + len(click.unstyle(line)) // max(1, size.columns)
                       for line in text.splitlines())
            if rows >= size.lines - 1 and page(text, color=self.style.color,
                                               start_line=start_line):
                return
        click.echo(text, color=self.style.color)

    @staticmethod
    def hint(text: str) -> None:
        click.echo(text, err=True)

    # -- lines ---------------------------------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Run one line; False means the user asked to leave."""
        line = line.strip()
        if not line:
            return True
        try:
            if line.startswith(":"):
                return self.command(line[1:])
            self.search(line)
        except (SearchlibError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise
            for msg in error_lines(exc):
                self.hint(msg)
        return True

    def search(self, query: str) -> None:
        res = self.index.search(query, k=self.k, articles=self.articles, **self.filters,
                                **self.ranking)
        for message in res.warnings:
            warn(message)
        self.last = res
        self.emit(results_text(res, self.style, terminal_width(), articles=self.articles))

    def command(self, text: str) -> bool:
        name, _, arg = text.strip().partition(" ")
        name = ALIASES.get(name.lower(), name.lower())
        arg = arg.strip()
        if name == "quit":
            return False
        if name in ("help", ""):
            width = max(len(c) for c, _ in COMMANDS)
            self.emit("type a query to search, or a command:\n" + "\n".join(
                f"  {cmd:<{width}}  {what}" for cmd, what in COMMANDS))
        elif name == "k":
            self._set_k(arg)
        elif name in ("since", "until", "sort", "facets"):
            self._set_filter(name, arg)
        elif name == "articles":
            self.articles = not self.articles
            self.hint("one hit per article" if self.articles else "one hit per paragraph")
        elif name == "prf":
            self.ranking["prf"] = not self.ranking["prf"]
            self.hint("feedback: " + ("on" if self.ranking["prf"] else "off"))
        elif name == "proximity":
            self._set_proximity(arg)
        elif name == "explain":
            hit = self._hit(arg, "explain")
            if hit is not None and self.last is not None:
                self.emit(str(self.last.explain(hit)))
        elif name == "open":
            hit = self._hit(arg, "open")
            if hit is not None:
                title, paragraphs = self.index.article_of(hit)
                text = article_text(hit.article_id, title, paragraphs, hit.paragraph,
                                    hit.spans, self.style, terminal_width())
                self.emit(text, start_line=marked_line(text))
        else:
            self.hint(f"unknown command :{name} (type :help for the list)")
        return True

    def _set_filter(self, name: str, arg: str) -> None:
        """Set one metadata option for the following queries (checked now, not at search)."""
        value: str | None = arg or ("score" if name == "sort" else None)
        trial = {**self.filters, name: value}
        try:
            filterargs.filters(trial["since"], trial["until"])
            filterargs.sort_key(trial["sort"])
            filterargs.facet_names(trial["facets"])
        except SearchlibError as exc:
            self.hint(str(exc))
            return
        self.filters = trial
        self.hint(f"{name}: {value if value is not None else 'off'}")

    def _set_proximity(self, arg: str) -> None:
        try:
            weight = float(arg)
            proximity_option(weight)
        except (ValueError, SearchlibError):
            self.hint("usage: :proximity W  (W a weight ≥ 0; 0 turns it off)")
            return
        self.ranking["proximity"] = weight
        self.hint(f"proximity: {weight:g}" if weight else "proximity: off")

    def _set_k(self, arg: str) -> None:
        if not arg:
            self.hint(f"showing {plural(self.k, 'hit')} per query (change with :k N)")
        elif _number(arg):
            self.k = _number(arg)
            self.hint(f"showing {plural(self.k, 'hit')} per query")
        else:
            self.hint("usage: :k N  (N a whole number, at least 1)")

    def _hit(self, arg: str, verb: str) -> Hit | None:
        if self.last is None:
            self.hint(f"nothing to {verb} yet: search first")
            return None
        n, number = len(self.last.hits), _number(arg)
        if not number:
            self.hint(f"usage: :{verb} N  (N a hit number of the last results)")
        elif not n:
            self.hint(f"no hit {number}: the last search found nothing")
        elif number > n:
            self.hint(f"no hit {number}: the last results have {plural(n, 'hit')} "
                      f"(:{verb} 1 to {n})")
        else:
            return self.last.hits[number - 1]
        return None


def marked_line(text: str) -> int | None:
    """The 1-based line above the `>>` paragraph (a line of context), where a pager opens."""
    for number, line in enumerate(click.unstyle(text).splitlines(), 1):
        if line.startswith(">>"):
            return max(1, number - 1)
    return None


def _number(arg: str) -> int:
    """A plain ASCII whole number, else 0 (str.isdigit also accepts '²', which int rejects)."""
    return int(arg) if arg.isascii() and arg.isdigit() else 0


def run_lines(shell: Shell, lines: Iterable[str]) -> None:
    """Piped mode: no prompt, no editing; stop at EOF or :quit."""
    for line in lines:
        if not shell.handle(line):
            break


def completer(index: Index):
    from prompt_toolkit.completion import Completer, Completion

    word_at_end = re.compile(r"\w+$")
    names = [":" + cmd.split()[0][1:] for cmd, _ in COMMANDS]

    class VocabularyCompleter(Completer):
        """Index words for the word being typed; `:` command names at the line start."""

        def get_completions(self, document, complete_event):
            before = document.text_before_cursor
            if before.lstrip().startswith(":"):
                typed = before.lstrip()
                if " " not in typed:
                    for name in names:
                        if name.startswith(typed):
                            yield Completion(name, start_position=-len(typed))
                return
            m = word_at_end.search(before)
            if m:
                for word in index.complete(m.group()):
                    yield Completion(word, start_position=-len(m.group()))

    return VocabularyCompleter()


def _history():
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as exc:
        warn(f"history not kept ({path}: {exc.strerror or exc})")
        return InMemoryHistory()
    return FileHistory(str(path))


def run_interactive(shell: Shell, **session_args: Any) -> None:
    """The prompt_toolkit loop; `session_args` (input=, output=) let tests drive it."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory

    session: PromptSession[str] = PromptSession(
        history=_history(), completer=completer(shell.index), complete_while_typing=False,
        auto_suggest=AutoSuggestFromHistory(), **session_args,
    )
    click.echo("searchlib shell: type a query, :help for commands, Ctrl-D to leave", err=True)
    while True:
        try:
            line = session.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            if not shell.handle(line):
                break
        except KeyboardInterrupt:  # a long answer or pager cut short: back to the prompt
            click.echo("interrupted", err=True)


@click.command("shell", short_help="Search interactively (history, completion).")
@index_option
@ray_option
@color_option
@click.pass_context
def shell(ctx: click.Context, index_dir: Path, color: str) -> None:
    """Search interactively: line editing, history, Tab completes index words.

    History is kept in $XDG_DATA_HOME/searchlib/history (~/.local/share/searchlib/history).
    Commands: :help, :k N, :articles, :since/:until DATE, :sort ORDER, :facets F,G,
    :explain N, :open N, :quit. When stdin is not a
    terminal, queries and commands are read one per line until EOF.

    \b
    Examples:
      searchlib shell
      printf 'artillery\\n:open 1\\n' | searchlib shell
    """
    idx = open_index(ctx, index_dir)
    interactive = isatty(sys.stdin) and isatty(sys.stdout)
    sh = Shell(idx, Style(color_wanted(color, isatty(sys.stdout))), pager=interactive)
    if interactive:
        run_interactive(sh)
    else:
        run_lines(sh, sys.stdin)
