"""The metadata arguments of a search (since, until, where, sort, facets), checked.

Each becomes the same `query.Filter` a query's `field:value` does, so the library, the CLI
and the query syntax filter alike; a bad value is one `InvalidArgument` line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from .datespec import period
from .errors import InvalidArgument
from .metadata import DateError, date_seconds
from .query import Filter

SORTS = ("score", "date", "-date")
DATE_FACETS = ("date", "date:year", "date:month", "date:day")
TEXT_FIELDS = frozenset({"title", "text", "id"})

DateArg = str | int | dt.date | None


def _bound(value: DateArg, name: str, end: bool) -> int | None:
    """Seconds UTC: the start (since) or the end (until, inclusive) of a date's period."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidArgument(f"{name} must be a date, not {value!r}")
    if isinstance(value, int):
        return value + (1 if end else 0)
    if isinstance(value, dt.date):
        start = date_seconds(value)
        return start + (86400 if end and not isinstance(value, dt.datetime) else int(end))
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a date like 1987-03-01, not {value!r}")
    try:
        lo, hi = period(value)
    except DateError as exc:
        raise InvalidArgument(f"{name}: date {value!r} {exc}") from None
    return hi if end else lo


def filters(since: DateArg = None, until: DateArg = None,
            where: Mapping[str, object] | None = None) -> tuple[Filter, ...]:
    """The filters these arguments ask for (every one must hold)."""
    out = []
    lo, hi = _bound(since, "since", False), _bound(until, "until", True)
    if lo is not None or hi is not None:
        if lo is not None and hi is not None and lo >= hi:
            raise InvalidArgument(f"since ({since}) is after until ({until})")
        out.append(Filter("date", f"{since or ''}..{until or ''}", lo, hi))
    if where is not None and not isinstance(where, Mapping):
        raise InvalidArgument(f"where must be a mapping of field to values, not {where!r}")
    for name, values in (where or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"where: field {name!r} is not a field name")
        if name.lower() in TEXT_FIELDS:
            raise InvalidArgument(f"where: '{name}' is the article's text, not a metadata "
                                  "field (search it in the query)")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, (list, tuple, set, frozenset)) or not all(
                isinstance(v, str) for v in values):
            raise InvalidArgument(f"where: values of {name!r} must be strings, not {values!r}")
        if name.lower() == "date":
            out.extend(_date_filter(v) for v in values)
            continue
        out.append(_any_of(name.lower(), sorted(values)))
    return tuple(out)


def _date_filter(value: str) -> Filter:
    from .datespec import date_range

    try:
        lo, hi = date_range(value)
    except DateError as exc:
        raise InvalidArgument(f"where: date {value!r} {exc}") from None
    return Filter("date", value, lo, hi)


def _any_of(name: str, values: list[str]) -> Filter:
    """One value: a plain filter; several: encoded as one filter whose value lists them
    (`FilterWeight.of` splits it), since a `Filter` holds a single value."""
    return Filter(name, "\x00".join(values), valid=bool(values))


def sort_key(sort: str) -> str:
    if sort not in SORTS:
        raise InvalidArgument(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    return sort


def facet_names(facets: object) -> tuple[str, ...]:
    if facets is None:
        return ()
    if isinstance(facets, str):
        facets = [f for f in facets.split(",") if f.strip()]
    if not isinstance(facets, (list, tuple)) or not all(isinstance(f, str) for f in facets):
        raise InvalidArgument(f"facets must be a list of field names, not {facets!r}")
    out = []
    for name in (f.strip().lower() for f in facets):
        if name.startswith("date") and name not in DATE_FACETS:
            raise InvalidArgument(f"facet {name!r}: dates are counted by "
                                  f"{', '.join(DATE_FACETS)}")
        if name in TEXT_FIELDS or not name:
            raise InvalidArgument(f"facet {name!r} is not a metadata field")
        out.append(name)
    return tuple(dict.fromkeys(out))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def recency(half_life: str | float | None, now: DateArg = None):
    """`half_life` ('30d', '12h', '2w', or seconds) and `now` → a `Recency` (None: off)."""
    from .ranking.recency import Recency

    if half_life is None:
        if now is not None:
            raise InvalidArgument("now only applies with a recency half-life")
        return None
    seconds: float | None = None
    if isinstance(half_life, (int, float)) and not isinstance(half_life, bool):
        seconds = float(half_life)
    elif isinstance(half_life, str):
        text = half_life.strip().lower()
        unit = _UNITS.get(text[-1:]) if text else None
        try:
            seconds = float(text[:-1]) * unit if unit else float(text)
        except ValueError:
            seconds = None
    if seconds is None or not seconds > 0 or seconds == float("inf"):
        raise InvalidArgument(f"recency half-life must be a positive duration like 30d, 12h "
                              f"or 2w, not {half_life!r}")
    return Recency(seconds, _bound(now, "now", False))


def scope(value: str) -> str:
    if value not in ("paragraph", "article"):
        raise InvalidArgument(f"scope must be 'paragraph' or 'article', not {value!r}")
    return value
