"""Date filter values → half-open ranges of UTC epoch seconds.

`1987` is the whole year, `1987-03` the month, `1987-03-01` the day; `a..b` runs from the
start of a to the end of b (either side may be empty); `>=a`, `>a`, `<a`, `<=a` are open
ranges (`>1987-03` starts after March). A range is [lo, hi): None is unbounded.
"""

from __future__ import annotations

import datetime as dt
import re

from .metadata import DateError, date_seconds, parse_date

_PARTIAL = re.compile(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?\Z")
_COMPARE = re.compile(r"(>=|<=|>|<)(.*)\Z", re.S)


def period(text: str) -> tuple[int, int]:
    """[start, end) of a year, month, day or exact time, or DateError."""
    text = text.strip()
    m = _PARTIAL.match(text)
    if m is None:
        start = parse_date(text)
        return start, start + 1
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        first = dt.date(year, month, day)
    except ValueError:
        raise DateError("is not a date") from None
    if m[3]:
        last = first + dt.timedelta(days=1)
    elif m[2]:
        last = dt.date(year + month // 12, month % 12 + 1, 1)
    else:
        last = dt.date(year + 1, 1, 1)
    return date_seconds(first), date_seconds(last)


def date_range(spec: str) -> tuple[int | None, int | None]:
    """The [lo, hi) a filter value means, or DateError (its message completes 'date ...')."""
    spec = spec.strip()
    m = _COMPARE.match(spec)
    if m:
        start, end = period(m[2])
        return {">=": (start, None), ">": (end, None), "<": (None, start),
                "<=": (None, end)}[m[1]]
    if ".." in spec:
        left, _, right = spec.partition("..")
        lo = period(left)[0] if left.strip() else None
        hi = period(right)[1] if right.strip() else None
        if lo is None and hi is None:
            raise DateError("is not a date range")
        if lo is not None and hi is not None and lo >= hi:
            raise DateError(f"runs backwards ({left.strip()} is after {right.strip()})")
        return lo, hi
    if not spec:
        raise DateError("is empty")
    return period(spec)
