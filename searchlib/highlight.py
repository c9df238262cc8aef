"""Where the matched words are in a paragraph, and a short window of text around them.

Spans come from the analyzer's own offsets (the same tokens the index saw), never from
re-matching strings, so "Korea’s" is marked for the query `korea` and "jong" inside
"Jong-un" is marked exactly.
"""

from __future__ import annotations

from .analysis import Analyzer


def spans(analyzer: Analyzer, text: str, terms: set[str]) -> list[tuple[int, int]]:
    """(start, end) character offsets of every token whose term is in `terms`."""
    return analyzer.marks(text, terms)


def snippet(text: str, marks: list[tuple[int, int]], width: int = 300) -> tuple[str, list]:
    """A window of about `width` characters holding as many marks as possible.

    Returns the window text (with … where it was cut) and the marks shifted into it.
    """
    if len(text) <= width:
        return text, list(marks)
    best_start, best_count, j = 0, -1, 0
    for i, (s, _e) in enumerate(marks):  # two pointers: marks are in text order
        j = max(j, i)
        while j < len(marks) and marks[j][1] <= s + width:
            j += 1
        if j - i > best_count:
            best_start, best_count = s, j - i
    start = max(0, best_start - width // 5)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < best_start else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    shown = [(s + shift, e + shift) for s, e in marks if s >= start and e <= end]
    return prefix + text[start:end] + suffix, shown
