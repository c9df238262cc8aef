"""Rendering for people (wrapped, highlighted text) and for programs (JSON Lines).

`search` and `shell` share these functions so a hit looks the same everywhere. Highlights
come from `Hit.spans` (the analyzer's own token offsets), never from re-matching strings.
"""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import click

from .. import highlight
from ..search import Explanation, Hit, IndexStats, SearchResults

MAX_WIDTH = 100
INDENT = "    "
Span = tuple[int, int]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def clean(text: str) -> str:
    """Control characters become spaces: indexed text must not move the cursor or recolour
    the terminal, and same-length replacement keeps span offsets valid. Surrogates (a file
    name that is not UTF-8) become U+FFFD, which stdout can encode."""
    if text.isprintable():
        return text
    swap = {"Cc": " ", "Cs": "\ufffd"}
    return "".join(swap.get(unicodedata.category(ch), ch) for ch in text)


def color_wanted(mode: str, tty: bool) -> bool:
    """`always`/`never` are explicit and win; `auto` needs a terminal, no NO_COLOR (any
    non-empty value) and a TERM other than `dumb`."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


@dataclass(frozen=True)
class Style:
    """ANSI styling that is the identity when colour is off, so plain output stays plain."""

    color: bool = False

    def _s(self, text: str, **kw) -> str:
        return click.style(text, **kw) if self.color and text else text

    def match(self, text: str) -> str:
        return self._s(text, fg="red", bold=True)

    def title(self, text: str) -> str:
        return self._s(text, bold=True)

    def dim(self, text: str) -> str:
        return self._s(text, dim=True)

    def fuzzy(self, text: str) -> str:
        return self._s(text, fg="magenta")

    def marker(self, text: str) -> str:
        return self._s(text, fg="green", bold=True)


def _line_ranges(text: str, width: int) -> list[Span]:
    """Break at spaces only: a span is one token, so it is never split across lines."""
    out: list[Span] = []
    start, n = 0, len(text)
    while start < n:
        if n - start <= width:
            out.append((start, n))
            break
        cut = text.rfind(" ", start, start + width + 1)
        if cut <= start:  # a word longer than the line: let it overflow
            cut = text.find(" ", start + width)
            if cut < 0:
                out.append((start, n))
                break
        out.append((start, cut))
        start = cut
        while start < n and text[start] == " ":
            start += 1
    return out


def _paint(text: str, spans: Sequence[Span], lo: int, hi: int, style: Style) -> str:
    parts, pos = [], lo
    for s, e in sorted(spans):
        s, e = max(s, pos), min(e, hi)
        if s >= e:
            continue
        parts += [text[pos:s], style.match(text[s:e])]
        pos = e
    parts.append(text[pos:hi])
    return "".join(parts)


def wrap_marked(text: str, spans: Sequence[Span], width: int, style: Style,
                indent: str = INDENT) -> list[str]:
    """`text` wrapped to `width` with every span highlighted."""
    text = clean(text)
    return [indent + _paint(text, spans, lo, hi, style)
            for lo, hi in _line_ranges(text, max(20, width - len(indent)))]


def hit_lines(rank: int, hit: Hit, style: Style, width: int) -> list[str]:
    head = f"{rank:>2}. {hit.score:.3f}  {style.title(clean(hit.title) or hit.article_id)}"
    head += f"  ¶{hit.paragraph}  {style.dim('[' + clean(hit.article_id) + ']')}"
    if hit.fuzzy:
        head += "  " + style.fuzzy("~fuzzy")
    about = [hit.date.strftime("%Y-%m-%d %H:%M")] if hit.date is not None else []
    about += hit.meta.get("source", [])[:1]
    if about:
        head += "  " + style.dim(clean(" · ".join(about)))
    window = min(300, 3 * (width - len(INDENT)))
    text, spans = highlight.snippet(hit.text, hit.spans, window)
    return [head, *wrap_marked(text, spans, width, style)]


def results_text(res: SearchResults, style: Style, width: int, *, articles: bool = False,
                 explanations: Sequence[Explanation] | None = None) -> str:
    """Hits, then a footer like `3 of 11 paragraphs (0.8 ms)` and any did-you-mean."""
    lines: list[str] = []
    for rank, hit in enumerate(res.hits, 1):
        lines += hit_lines(rank, hit, style, width)
        if explanations:
            lines += [INDENT + line for line in str(explanations[rank - 1]).splitlines()]
        lines.append("")
    unit = "article" if articles else "paragraph"
    if res.hits:
        footer = f"{len(res.hits)} of {plural(res.total, unit)} ({res.took_ms:.1f} ms)"
    else:
        footer = f"no {unit} matches ({res.took_ms:.1f} ms)"
    if any(h.fuzzy for h in res.hits):
        footer += "; " + style.fuzzy("~fuzzy") + " hits matched similar words"
    lines.append(footer)
    if res.did_you_mean:
        lines.append(f"did you mean: {style.title(clean(res.did_you_mean))}")
    lines += facet_lines(res.facets, style)
    return "\n".join(lines)


def facet_lines(facets: dict[str, list[tuple[str, int]]], style: Style) -> list[str]:
    """Each facet: its name, then `count  value` lines (the most frequent first)."""
    lines: list[str] = []
    for name, counts in facets.items():
        lines += ["", style.title(f"{name} (articles)")]
        lines += [f"{INDENT}{n:>6}  {clean(value)}" for value, n in counts] or [
            f"{INDENT}(none)"]
    return lines


def hit_record(rank: int, hit: Hit, explanation: Explanation | None = None) -> dict:
    rec = {
        "type": "hit", "rank": rank, "score": round(hit.score, 6), "article": hit.article_id,
        "title": hit.title, "paragraph": hit.paragraph, "text": hit.text,
        "spans": [[s, e] for s, e in hit.spans], "fuzzy": hit.fuzzy,
        "date": None if hit.date is None else hit.date.isoformat(), "meta": hit.meta,
    }
    if explanation is not None:
        rec["explanation"] = {"score": explanation.score, "k1": explanation.k1,
                              "b": explanation.b, "parts": [asdict(p) for p in explanation.parts]}
    return rec


def json_lines(res: SearchResults,
               explanations: Sequence[Explanation] | None = None) -> Iterator[str]:
    """One JSON object per hit, then a summary; spans are code-point offsets into `text`."""
    for rank, hit in enumerate(res.hits, 1):
        yield json.dumps(hit_record(rank, hit, explanations[rank - 1] if explanations else None))
    yield json.dumps({
        "type": "summary", "query": res.query, "total": res.total,
        "took_ms": round(res.took_ms, 3), "did_you_mean": res.did_you_mean,
        "warnings": list(res.warnings),
        "facets": {name: [[value, n] for value, n in counts]
                   for name, counts in res.facets.items()},
    })


def article_text(article_id: str, title: str, paragraphs: Sequence[str], mark: int,
                 spans: Sequence[Span], style: Style, width: int) -> str:
    """A whole article; paragraph `mark` (1-based) gets a `>>` in the margin and its
    highlights, so the hit is easy to find in context."""
    head = style.title(clean(title) or article_id)
    head += f"  {style.dim('[' + clean(article_id) + ']')}  {plural(len(paragraphs), 'paragraph')}"
    lines = [head, ""]
    for number, para in enumerate(paragraphs, 1):
        hit = number == mark
        body = wrap_marked(para, spans if hit else (), width, style, indent=" " * 9) or [""]
        margin = style.marker(">>") if hit else "  "
        lines.append(f"{margin} {'¶' + str(number):<5} {body[0][9:]}")
        lines += [*body[1:], ""]
    return "\n".join(lines).rstrip("\n")


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def stats_text(st: IndexStats) -> str:
    from tabulate import tabulate  # 30 ms to import: only `stats` needs it

    analyzer = st.analyzer
    rows = [
        ("index", st.path), ("articles", st.articles), ("paragraphs", st.paragraphs),
        ("vocabulary", plural(st.vocabulary, "word")), ("segments", st.segments),
        ("size", human_bytes(st.bytes)), ("generation", st.generation),
        ("stemmer", analyzer.get("stemmer", "?")),
        ("stopwords", "removed" if analyzer.get("stopwords", True) else "kept"),
        ("dates", " to ".join(d.strftime("%Y-%m-%d %H:%M") for d in st.dates)
         if st.dates else "none"),
        ("fields", ", ".join(st.fields) or "none"),
    ]
    out = tabulate(rows, tablefmt="plain", disable_numparse=True)
    if st.top_terms:
        table = [(i, clean(term), df) for i, (term, df) in enumerate(st.top_terms, 1)]
        out += "\n\nmost frequent terms\n"
        out += tabulate(table, headers=["#", "term", "paragraphs"], tablefmt="simple")
    return out


def terminal_width() -> int:
    return min(MAX_WIDTH, shutil.get_terminal_size().columns)
