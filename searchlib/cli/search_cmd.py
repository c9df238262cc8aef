"""`searchlib search`: one query, ranked paragraphs, grep-like exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import (
    EXIT_ERROR,
    JSON_META,
    UsageLine,
    Whole,
    index_option,
    isatty,
    json_mode,
    open_index,
    ray_option,
    report,
    warn,
)
from .output import Style, color_wanted, json_lines, results_text, terminal_width

EXIT_NO_HITS = 1


class QueryCommand(click.Command):
    """Explains the usual trap: `-word` (exclude a word) is read as an option; with --json,
    a usage error is a JSON record like any other error."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = args[: args.index("--")] if "--" in args else args
        ctx.meta[JSON_META] = "--json" in options  # known before parsing can fail
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            if not exc.option_name.startswith("--"):
                exc.message += (" (to exclude a word, put the query after --: "
                                "searchlib search -- korea -russia)")
            self._json_error(ctx, exc)
            raise
        except click.UsageError as exc:
            self._json_error(ctx, exc)
            raise

    @staticmethod
    def _json_error(ctx: click.Context, exc: click.UsageError) -> None:
        if json_mode(ctx):
            report(exc, ctx)
            raise click.exceptions.Exit(EXIT_ERROR)


COLOR_HELP = (
    "Highlight matches: auto = only on a terminal and when NO_COLOR is unset or empty; "
    "always = even in pipes and despite NO_COLOR (an explicit request wins); never."
)


def metadata_options(f):
    """--since, --until, --sort, --facets (search and shell alike)."""
    f = click.option("--facets", metavar="FIELDS",
                     help="Count matching articles per value of these fields, e.g. "
                          "topics,source,date:month (top 10 each).")(f)
    f = click.option("--sort", type=click.Choice(["score", "date", "-date"]), default="score",
                     show_default=True,
                     help="Order: by score, or by date (-date: newest first; one hit per "
                          "article).")(f)
    f = click.option("--until", metavar="DATE",
                     help="Only articles dated up to DATE (inclusive: 1987-03 is up to the "
                          "end of March).")(f)
    return click.option("--since", metavar="DATE",
                        help="Only articles dated from DATE on (1987, 1987-03, 1987-03-01).")(f)


def color_option(f):
    return click.option("--color", type=click.Choice(["auto", "always", "never"]),
                        default="auto", show_default=True, help=COLOR_HELP)(f)


@click.command("search", cls=QueryCommand,
               short_help="Search the index (exit 0 hits, 1 none, 2 error).")
@click.argument("query", nargs=-1, metavar="QUERY...")
@index_option
@ray_option
@click.option("-k", "k", type=Whole(min=1), default=10, show_default=True,
              metavar="N", help="Show the best N hits.")
@click.option("--articles", is_flag=True,
              help="Best paragraph of each article; the total then counts articles.")
@click.option("--and", "all_words", is_flag=True,
              help="Require every word (AND between words instead of OR).")
@click.option("--strict", is_flag=True,
              help="Reject a malformed query or an unknown field (exit 2, caret at the "
                   "problem) instead of repairing it with a warning.")
@click.option("--no-fuzzy", is_flag=True, help="No typo-tolerant fallback for rare words.")
@click.option("--explain", is_flag=True, help="Show the BM25 score breakdown of each hit.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON Lines on stdout: one {\"type\": \"hit\"} object per hit, then "
                   "{\"type\": \"summary\"}. Spans are [start, end) character offsets "
                   "into \"text\". Errors and messages are JSON too: {\"type\": \"error\"}, "
                   "\"warning\" or \"note\".")
@metadata_options
@click.option("--recency", metavar="HALF_LIFE",
              help="Favour recent articles: scores halve every HALF_LIFE of age (30d, 12h, "
                   "2w), counted from the newest matching date (or --now). Off by default.")
@click.option("--now", metavar="DATE", help="The date --recency counts ages from.")
@click.option("--scope", type=click.Choice(["paragraph", "article"]), default="paragraph",
              show_default=True,
              help="article: AND, NOT and phrases apply to the whole article (any of its "
                   "paragraphs); one hit per article, its best paragraph.")
@click.option("--prf", is_flag=True,
              help="Pseudo-relevance feedback (RM3): add the 20 likeliest words of the top 3 "
                   "paragraphs to the query and search again.")
@click.option("--proximity", type=click.FloatRange(min=0, max=1e5), default=None,
              metavar="W", help="Weight of the bonus for query words close together in "
                                "the top 100 paragraphs (0: off; default: the library's).")
@color_option
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], index_dir: Path, k: int, articles: bool,
           all_words: bool, strict: bool, no_fuzzy: bool, explain: bool, as_json: bool,
           color: str, since: str | None, until: str | None, sort: str,
           facets: str | None, recency: str | None, now: str | None, scope: str, prf: bool,
           proximity: float | None) -> None:
    """Search the index for QUERY (the words are joined with spaces).

    Query syntax: words, "exact phrases", AND / OR / NOT, +must, -exclude, (groups),
    title:word, prefix*, fuzzy~, and metadata filters: source:reuters, topics:crude,
    author:"Jane Doe", date:1987-03, date:1987-03-01..1987-03-15, date:>=1987-03.
    Without an index yet and with a seeds/ folder here, the default index is built first.

    Exit status: 0 hits found, 1 no hits, 2 error.

    \b
    Examples:
      searchlib search north korea artillery shells
      searchlib search '"artillery shells" AND russia' -k 3 --explain
      searchlib search -- korea -russia        # after --, -word excludes a word
      searchlib search --json korea | jq -r 'select(.type=="hit").text'
      searchlib search opec --since 1987-03-01 --until 1987-03-31 --sort -date
      searchlib search 'topics:crude' --facets places,date:month
    """
    text = " ".join(query)
    if not text.strip() and not (since or until):
        raise UsageLine("empty query: give words to search for, e.g. searchlib search korea",
                        ctx)
    idx = open_index(ctx, index_dir)
    operator = "AND" if all_words else "OR"
    res = idx.search(text, k=k, strict=strict, default_operator=operator, fuzzy=not no_fuzzy,
                     articles=articles, since=since, until=until, sort=sort, facets=facets,
                     recency=recency, now=now, scope=scope, proximity=proximity, prf=prf)
    articles = articles or res.execution is not None and (
        res.execution.options.per_article or res.execution.options.sort != "score")
    explanations = None
    if explain:
        explanations = [res.explain(hit) for hit in res.hits]  # no second search
    if as_json:
        for line in json_lines(res, explanations):
            click.echo(line, color=False)
    else:
        for message in res.warnings:
            warn(message)
        style = Style(color_wanted(color, isatty(sys.stdout)))
        click.echo(results_text(res, style, terminal_width(), articles=articles,
                                explanations=explanations), color=style.color)
    if not res.hits:
        ctx.exit(EXIT_NO_HITS)
