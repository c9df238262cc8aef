"""An article's metadata (date, source, authors, url, language, keyword fields), checked.

JSON records, Markdown front matter and HTML <meta> tags name these fields in their own
ways; the corpus reader maps each onto a plain mapping and `read_fields` turns that into one
`Metadata` shape, returning what it had to drop as short problem strings, so the reader can
warn once per file. A bad value costs only itself: the article and its other fields stay.

Dates are whole seconds since 1970-01-01 UTC (an int: cheap to store as a column and to
compare); a value without a time zone is taken as UTC, one without a time as midnight, one
without a day as the first of its month (or year). Years outside 1900-2199 are dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

MIN_YEAR, MAX_YEAR = 1900, 2199
MAX_VALUE_CHARS = 1024  # longer values are not names, tags or dates: dropped, with a warning
MAX_VALUES = 1000  # values of one field of one article
MAX_FIELDS = 100  # keyword fields of one article
RESERVED = frozenset({"id", "_id", "title", "text", "paragraphs"})  # the article itself
_SCALARS = frozenset({"source", "url", "language"})
_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,63}\Z")  # usable later as `name:value` in a query

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_NAIVE_EPOCH = dt.datetime(1970, 1, 1)
_SECOND = dt.timedelta(seconds=1)
# RFC 2822's zone names and a few common ones; any other name is an error, not silently UTC.
_ZONES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
          "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "BST": 1, "JST": 9}


@dataclass(frozen=True)
class Metadata:
    """What an article says about itself. `source` is the publication ("Reuters"), not the
    file (that is `Article.source`). Values keep their case for display; matching is meant to
    be case-insensitive, so consumers compare `fold(value)`. `date_text` is the date as
    written, set exactly when `date` is."""

    date: int | None = None
    date_text: str | None = None
    source: str | None = None
    authors: tuple[str, ...] = ()
    url: str | None = None
    language: str | None = None
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def __bool__(self) -> bool:
        return (self.date_text is not None or self.source is not None or bool(self.authors)
                or self.url is not None or self.language is not None or bool(self.keywords))

    @property
    def datetime(self) -> dt.datetime | None:
        """The date as an aware UTC datetime, for display."""
        return None if self.date is None else _EPOCH + self.date * _SECOND

    def texts(self) -> Iterator[str]:
        """Every string value (to check them all for characters UTF-8 cannot store)."""
        for value in (self.date_text, self.source, self.url, self.language):
            if value is not None:
                yield value
        yield from self.authors
        for values in self.keywords.values():
            yield from values

    def map_text(self, fix: Callable[[str], str]) -> Metadata:
        """A copy with `fix` applied to every string value."""
        def opt(value: str | None) -> str | None:
            return None if value is None else fix(value)

        return replace(self, date_text=opt(self.date_text), source=opt(self.source),
                       url=opt(self.url), language=opt(self.language),
                       authors=tuple(map(fix, self.authors)),
                       keywords={k: tuple(map(fix, v)) for k, v in self.keywords.items()})


NO_METADATA = Metadata()


def fold(value: str) -> str:
    """The form two values are compared in: 'Reuters' and 'REUTERS' are one source."""
    return unicodedata.normalize("NFKC", value).casefold()


class DateError(ValueError):
    """A date value that cannot be used; the message completes 'date <value> ...'."""


def parse_date(text: str) -> int:
    """Seconds since the epoch (UTC) of an ISO 8601, RFC 2822 or other common date form.

    ISO 8601 (the usual case) is parsed by the standard library; dateutil, which costs
    ~50 ms to import, is loaded only for the other forms."""
    text = text.strip()
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text  # 3.10 lacks Z
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        when = _parse_other(text)
    return _seconds(when)


def date_seconds(value: dt.date) -> int:
    """A date or datetime object (naive: UTC) in seconds since the epoch, UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return _seconds(value)


def _seconds(when: dt.datetime) -> int:
    if when.tzinfo is not None:  # naive is UTC already
        try:
            when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise DateError("is out of range") from None
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise DateError(f"is out of range (years {MIN_YEAR} to {MAX_YEAR})")
    return (when - _NAIVE_EPOCH) // _SECOND


def _parse_other(text: str) -> dt.datetime:
    """RFC 2822 first (stdlib), then dateutil for 'March 3, 1987' & co.
    dateutil fills missing parts from a default date, so the text is parsed with two
    different defaults: a year that differs was not written, and the value is no date."""
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        pass
    else:
        if when.tzinfo is not None:  # naive: no zone, or one it does not know ('CET')
            return when
    from dateutil import parser  # lazily: ~50 ms to import, and ISO dates never need it

    first, second = dt.datetime(2000, 1, 1), dt.datetime(2004, 2, 2)
    try:
        a = parser.parse(text, default=first, tzinfos=_zone)
        b = parser.parse(text, default=second, tzinfos=_zone)
    except DateError:
        raise
    except (ValueError, OverflowError, TypeError):
        raise DateError("is not a date") from None
    if a.year != b.year or (a.month != b.month and a.day == b.day):
        raise DateError("is not a date")  # no year ('12:30', 'March 3'), or a day alone
    return a


def _zone(name: str | None, offset: int | None) -> int | None:
    """dateutil's hook for a zone: known names and numeric offsets; anything else fails."""
    if name is None or offset is not None:
        return offset
    hours = _ZONES.get(name.upper())
    if hours is None:
        raise DateError(f"has an unknown time zone {name!r}")
    return hours * 3600


def read_fields(fields: Mapping[Any, Any]) -> tuple[Metadata, list[str]]:
    """The metadata in a record's fields, and what was unusable ('topics holds a number').

    `date`, `source`, `author`/`authors`, `url` and `language` are known; any other field
    holding a string or a list of strings is a keyword field. The article's own fields
    (`RESERVED`), numbers, true/false and empty values are not metadata. Names are
    case-insensitive (stored in lower case). Every record of a feed passes here, so the
    common case (strings and lists of strings) takes the shortest path."""
    problems: list[str] = []
    scalars: dict[str, str] = {}
    authors: list[str] = []
    keywords: dict[str, list[str]] = {}
    date: int | None = None
    date_text: str | None = None
    for key, value in fields.items():
        if not value:
            continue  # null, '', [], 0, false: no value
        name, kind = _FIELDS.get(key) or _field(key)
        if kind is _KEYWORD:
            if isinstance(value, (bool, int, float)):
                continue  # counts and flags ('wordcount', 'draft') are not keyword fields
            if name in keywords:
                keywords[name] += _strings(name, value, problems)
            elif len(keywords) < MAX_FIELDS:
                keywords[name] = _strings(name, value, problems)
            else:
                problems.append(f"{name} is over {MAX_FIELDS} fields")
        elif kind is _SKIP:
            continue
        elif kind is _DATE:
            date, date_text = _date(value, problems)
        elif kind is _SCALAR:
            text = _scalar(name, value, problems)
            if text is not None:
                scalars[name] = text
        elif kind is _AUTHORS:
            authors += _strings(name, value, problems)
        else:
            problems.append(f"field {_quote(name)} has an unusable name")
    meta = Metadata(date, date_text, scalars.get("source"),
                    _unique("authors", authors, problems) if authors else (),
                    scalars.get("url"), scalars.get("language"),
                    {k: _unique(k, v, problems) for k, v in keywords.items() if v})
    return meta, problems


_SKIP, _BAD, _DATE, _SCALAR, _AUTHORS, _KEYWORD = "skip", "bad", "date", "scalar", "a", "kw"
_FIELDS: dict[Any, tuple[str, str]] = {}  # field name -> (name, kind), as every record repeats


def _field(key: Any) -> tuple[str, str]:
    """(name, kind) of a field name: lower case; reserved, known, keyword or unusable."""
    name = key.strip().lower() if isinstance(key, str) else ""
    if name in RESERVED:
        found = name, _SKIP
    elif name == "date":
        found = name, _DATE
    elif name in _SCALARS:
        found = name, _SCALAR
    elif name in ("author", "authors"):
        found = name, _AUTHORS
    else:
        found = (name, _KEYWORD) if _NAME.match(name) else (str(key), _BAD)
    if len(_FIELDS) < 4096:
        _FIELDS[key] = found
    return found


def _date(value: Any, problems: list[str]) -> tuple[int | None, str | None]:
    if isinstance(value, dt.date):  # YAML reads an unquoted date itself
        text = value.isoformat()
        try:
            return date_seconds(value), text
        except DateError as exc:
            problems.append(f"date {_quote(text)} {exc}")
            return None, None
    if not isinstance(value, str):
        problems.append(f"date is {_kind(value)}")
        return None, None
    text = _clean(value)
    if text is None:
        return None, None
    if len(text) > MAX_VALUE_CHARS:
        problems.append(f"date is over {MAX_VALUE_CHARS:,} characters")
        return None, None
    try:
        return parse_date(text), text
    except DateError as exc:
        problems.append(f"date {_quote(text)} {exc}")
        return None, None


def _scalar(name: str, value: Any, problems: list[str]) -> str | None:
    if not isinstance(value, str):
        problems.append(f"{name} is {_kind(value)}")
        return None
    text = _clean(value)
    if text is not None and len(text) > MAX_VALUE_CHARS:
        problems.append(f"{name} is over {MAX_VALUE_CHARS:,} characters")
        return None
    return text


def _strings(name: str, value: Any, problems: list[str]) -> list[str]:
    """A string or the strings of a list; anything else in it is reported and left out."""
    items = value if isinstance(value, list) else [value]
    try:
        texts = [" ".join(item.split()) for item in items]  # whitespace runs: one space
    except (AttributeError, TypeError):  # not all strings: the careful way below
        pass
    else:
        if max(map(len, texts)) <= MAX_VALUE_CHARS:
            return [text for text in texts if text]
    texts = []
    odd: object = None
    too_long = False
    for item in items:
        if not isinstance(item, str):
            odd = item if odd is None else odd
        elif len(text := " ".join(item.split())) > MAX_VALUE_CHARS:
            too_long = True
        elif text:
            texts.append(text)
    if odd is not None:
        problems.append(f"{name} {'holds' if items is value else 'is'} {_kind(odd)}")
    if too_long:
        problems.append(f"{name} has a value over {MAX_VALUE_CHARS:,} characters")
    return texts


def _unique(name: str, values: list[str], problems: list[str]) -> tuple[str, ...]:
    """Duplicates dropped (first kept); at most MAX_VALUES, so one record cannot flood a field."""
    unique = tuple(values) if len(values) == 1 else tuple(dict.fromkeys(values))
    if len(unique) > MAX_VALUES:
        problems.append(f"{name} has {len(unique):,} values, kept the first {MAX_VALUES:,}")
        unique = unique[:MAX_VALUES]
    return unique


def _clean(text: str) -> str | None:
    """Whitespace runs (newlines too) become one space; '' is no value."""
    return " ".join(text.split()) or None


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"
