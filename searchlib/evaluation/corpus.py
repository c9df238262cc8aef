"""Read a corpus into articles split into paragraphs, for engines that index it themselves.

Paragraph numbers are 1-based and must agree with paragraph qrels (``<article_id>#<n>``), so
the splitting rules live here, in one place:

* ``.jsonl`` records (``id`` or ``_id``, ``title``, ``text``): ``text`` split on blank lines
  (``\\n\\n``), each piece stripped, empty pieces dropped;
* ``.txt`` files (article id = file name): split on blank lines if the file has any, otherwise
  one paragraph per non-empty line (the layout of ``seeds/``: paragraph n = line n); no title.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from searchlib.evaluation.errors import DatasetError


@dataclass(frozen=True)
class Article:
    """One document; ``paragraphs[i]`` is paragraph number ``i + 1``."""

    id: str
    title: str
    paragraphs: tuple[str, ...]


def split_blocks(text: str) -> tuple[str, ...]:
    """Paragraphs separated by blank lines (``\\n\\n``), stripped, empty ones dropped."""
    return tuple(p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip())


def split_txt(text: str) -> tuple[str, ...]:
    """Blank-line blocks when present, else one paragraph per non-empty line."""
    text = text.replace("\r\n", "\n")
    if "\n\n" in text.strip():
        return split_blocks(text)
    return tuple(line.strip() for line in text.split("\n") if line.strip())


def corpus_files(corpus_path: str | Path) -> list[Path]:
    """The ``.jsonl``/``.txt`` files making up a corpus (a file, or a folder's files, sorted)."""
    path = Path(corpus_path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in {".jsonl", ".txt"} and p.is_file())
    raise DatasetError(f"corpus not found: {path}")


def iter_articles(corpus_path: str | Path) -> Iterator[Article]:
    """Every article of the corpus, in file order."""
    for path in corpus_files(corpus_path):
        if path.suffix == ".jsonl":
            yield from _jsonl_articles(path)
        else:
            yield Article(path.name, "", split_txt(_read_text(path)))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None


def _jsonl_articles(path: Path) -> Iterator[Article]:
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise DatasetError(f"{path}:{number}: not valid JSON") from None
        doc_id = record.get("id", record.get("_id")) if isinstance(record, dict) else None
        if doc_id is None:
            raise DatasetError(f"{path}:{number}: record needs 'id' or '_id'")
        title = record.get("title") or ""
        yield Article(str(doc_id), str(title), split_blocks(str(record.get("text") or "")))
