"""Shared shapes: runs/qrels as plain nested dicts (the pytrec_eval shapes) and paragraph ids."""

from __future__ import annotations

import re
from typing import TypeAlias

Run: TypeAlias = dict[str, dict[str, float]]
"""qid -> docid -> score (higher is better)."""

Qrels: TypeAlias = dict[str, dict[str, int]]
"""qid -> docid -> graded relevance (>= 1 counts as relevant)."""

_PARAGRAPH_ID = re.compile(r"^(?P<article>.+)#(?P<n>[1-9][0-9]*)$")


def paragraph_id(article_id: str, paragraph: int) -> str:
    """The docid of a paragraph: ``<article_id>#<n>`` with n 1-based, as in paragraph qrels."""
    return f"{article_id}#{paragraph}"


def split_paragraph_id(docid: str) -> tuple[str, int] | None:
    """``(article_id, n)`` for a paragraph docid, or None when ``docid`` names a whole article."""
    match = _PARAGRAPH_ID.match(docid)
    if match is None:
        return None
    return match["article"], int(match["n"])
