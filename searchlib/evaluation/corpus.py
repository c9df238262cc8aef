"""The corpus as every engine under evaluation sees it: read by searchlib's own reader.

Paragraph qrels name ``<article_id>#<n>``, so all engines must index the very paragraphs, with
the same 1-based numbers, titles and article ids, that ``searchlib.Index`` does. Nothing is
split here: files are found and read by ``searchlib.corpus`` (same files accepted, same
paragraph rules), and a headline-only article becomes its title as paragraph 1, by the same
function the index writer uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from searchlib.corpus import Article, Warn, find_sources, read_source
from searchlib.evaluation.errors import DatasetError
from searchlib.index.segment import stored_paragraphs

__all__ = ["Article", "iter_articles", "paragraphs"]


def _ignore(_: str) -> None:
    """Unreadable files are skipped silently, as ``Index.build`` does for the benchmark."""


def iter_articles(corpus_path: str | os.PathLike, warn: Warn = _ignore) -> Iterator[Article]:
    """Every article of the corpus (a file or a folder, read recursively), in index order."""
    if not os.path.exists(corpus_path):
        raise DatasetError(f"corpus not found: {os.fsdecode(corpus_path)}")
    for source in find_sources([corpus_path], warn):
        yield from read_source(source, warn)


def paragraphs(corpus_path: str | os.PathLike,
               warn: Warn = _ignore) -> Iterator[tuple[str, int, str, str]]:
    """``(article_id, number, title, text)`` for every paragraph ``searchlib.Index`` holds; the
    title is repeated in each paragraph, for engines without a per-article field."""
    for article in iter_articles(corpus_path, warn):
        texts = stored_paragraphs(article.title, list(article.paragraphs))
        for number, text in enumerate(texts, start=1):
            yield article.id, number, article.title, text
