"""Metadata filters as weights that score nothing: each gives a bool per article, computed
with numpy over the segment's metadata columns (never per paragraph in Python).

A filter ANDed with scored clauses is applied as a mask on their matches (cheap: one gather
per match); only a filter that must produce matches itself (alone, or ORed with words) lists
the paragraphs of its articles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..index.metacolumns import STANDARD_FIELDS
from ..index.segment import Segment
from ..query import Filter


@dataclass(frozen=True)
class FilterWeight:
    """A leaf (`field` with `values`, or a date range) or a group of filters
    (all of `must`, one of `should` if any, none of `must_not`)."""

    field: str = ""
    values: tuple[str, ...] = ()
    lo: int | None = None
    hi: int | None = None
    valid: bool = True
    must: tuple[FilterWeight, ...] = ()
    should: tuple[FilterWeight, ...] = ()
    must_not: tuple[FilterWeight, ...] = ()
    scale: float = 1.0
    label: str = ""
    cost: int = 0

    @classmethod
    def of(cls, node: Filter) -> FilterWeight:
        label = f"{node.field}:{node.value}"
        if node.field == "date":
            return cls("date", (), node.lo, node.hi, node.valid, label=label)
        values = tuple(node.value.split("\x00"))  # where={f: [a, b]}: any of them
        return cls(node.field, values, valid=node.valid, label=label)

    @property
    def group(self) -> bool:
        return not self.field

    def articles(self, seg: Segment) -> np.ndarray:
        """Bool per article of `seg`: it passes this filter."""
        if self.group:
            mask = np.ones(seg.n_articles, dtype=bool)
            for child in self.must:
                mask &= child.articles(seg)
            if self.should:
                mask &= np.logical_or.reduce([c.articles(seg) for c in self.should])
            for child in self.must_not:
                mask &= ~child.articles(seg)
            return mask
        if not self.valid:
            return np.zeros(seg.n_articles, dtype=bool)
        if self.field == "date":
            return seg.meta.in_range(self.lo, self.hi)
        return seg.meta.has_any(self.field, self.values)

    def paragraphs(self, seg: Segment) -> np.ndarray:
        """The paragraphs of the articles passing (sorted ids)."""
        return np.flatnonzero(self.articles(seg)[seg.para_article])


def all_of(filters: Iterable[FilterWeight]) -> FilterWeight | None:
    """One filter requiring each of `filters` (None: there are none)."""
    filters = tuple(filters)
    if len(filters) <= 1:
        return filters[0] if filters else None
    return FilterWeight(must=filters, label=" AND ".join(f.label for f in filters))


def index_fields(segments: Iterable[Segment]) -> frozenset[str]:
    """The metadata fields a query may filter on: the standard ones and the index's own."""
    out = set(STANDARD_FIELDS)
    for seg in segments:
        out |= seg.meta.fields
    return frozenset(out)


def present_fields(segments: Iterable[Segment]) -> frozenset[str]:
    """The fields some article of these segments has (`date` if one is dated)."""
    out: set[str] = set()
    for seg in segments:
        out |= seg.meta.fields
        if seg.meta.dated:
            out.add("date")
    return frozenset(out)
