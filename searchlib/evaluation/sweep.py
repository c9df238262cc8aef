"""Parameter grids for ``searchlib bench --sweep``: parse specs, expand the grid, group it.

A spec is ``name=values`` where values is a range ``start:stop:step`` (stop included), a comma
list, or one value. BM25's ``k1``, ``b`` and ``title_boost``, the proximity bonus's weight
(``proximity``, 0: off) and RM3 feedback (``prf=on,off`` with ``fb_docs``, ``fb_terms`` and the
original query's weight ``fb_weight``) are query-time parameters of ``Index.search``;
``stemmer`` and ``stopwords`` change the analyzer and so need their own index.
``analyzer_groups`` orders the grid so each analyzer is built once and searched many times.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from searchlib.evaluation.errors import EvaluationError

MAX_POINTS = 10_000  # a typo'd step (0.0001) must not start a day-long run
NUMERIC = ("k1", "b", "title_boost", "proximity", "fb_docs", "fb_terms", "fb_weight")
WHOLE = ("fb_docs", "fb_terms")  # counts: whole numbers
SWITCHES = ("stopwords", "prf")
STEMMERS = ("snowball", "porter", "none")
_BOOLEAN = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}
_LIMITS = {"k1": (0.0, 100.0), "b": (0.0, 1.0), "title_boost": (0.0, 100.0),
           "proximity": (0.0, 100.0), "fb_docs": (1.0, 1000.0), "fb_terms": (1.0, 1000.0),
           "fb_weight": (0.0, 1.0)}
FEEDBACK = ("fb_docs", "fb_terms", "fb_weight")  # shown only for settings with prf on


class SweepError(EvaluationError):
    """A ``--sweep`` spec cannot be understood (one line, naming the bad part)."""


@dataclass(frozen=True)
class Setting:
    """One point of the grid: BM25 parameters plus the analyzer they run on."""

    k1: float
    b: float
    title_boost: float
    stemmer: str
    stopwords: bool
    proximity: float = 0.0
    prf: bool = False
    fb_docs: int | None = None  # None: the library's (`searchlib.ranking.prf.Feedback`)
    fb_terms: int | None = None
    fb_weight: float | None = None

    @property
    def analyzer(self) -> tuple[str, bool]:
        """What the index depends on: settings sharing it share one build."""
        return self.stemmer, self.stopwords

    def as_dict(self) -> dict[str, float | str | bool]:
        """Its columns (feedback's parameters only where feedback is on)."""
        out = asdict(self)
        return out if self.prf else {k: v for k, v in out.items() if k not in FEEDBACK}

    def search_params(self) -> dict[str, float | bool]:
        """What ``SearchlibEngine.set_params`` takes to search with this setting."""
        params = {"k1": self.k1, "b": self.b, "title_boost": self.title_boost,
                  "proximity": self.proximity, "prf": self.prf, "fb_docs": self.fb_docs,
                  "fb_terms": self.fb_terms, "fb_weight": self.fb_weight}
        return {k: v for k, v in params.items() if v is not None}


def frange(start: float, stop: float, step: float) -> list[float]:
    """``start``, ``start + step``, ... up to ``stop`` inclusive, rounded so 0.6 + 0.2 * 2 is 1.0
    and not 0.9999999999999999."""
    if step <= 0:
        raise SweepError(f"step must be positive, got {step:g}")
    if stop < start:
        raise SweepError(f"range end {stop:g} is below its start {start:g}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_POINTS:
        raise SweepError(f"{count} values in {start:g}:{stop:g}:{step:g} (at most {MAX_POINTS})")
    return [round(start + i * step, 10) for i in range(count)]


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"{name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"{name}: {text!r} is not a finite number")
    return value


def _numeric_values(name: str, text: str) -> list[float]:
    parts = text.split(":")
    if len(parts) == 3:
        values = frange(*(_number(p, name) for p in parts))
    elif len(parts) == 1:
        values = [_number(p, name) for p in text.split(",")]
    else:
        raise SweepError(f"{name}: expected start:stop:step or a comma list, got {text!r}")
    low, high = _LIMITS[name]
    for value in values:
        if not low <= value <= high:
            raise SweepError(f"{name}={value:g} is outside [{low:g}, {high:g}]")
        if name in WHOLE and value != int(value):
            raise SweepError(f"{name}={value:g} is not a whole number")
    return [int(v) for v in values] if name in WHOLE else values


def _word_values(name: str, text: str) -> list[str] | list[bool]:
    words = [w.strip().lower() for w in text.split(",")]
    if name == "stemmer":
        for word in words:
            if word not in STEMMERS:
                raise SweepError(f"stemmer: unknown {word!r} (use {', '.join(STEMMERS)})")
        return words
    for word in words:
        if word not in _BOOLEAN:
            raise SweepError(f"{name}: expected on or off, got {word!r}")
    return [_BOOLEAN[w] for w in words]


def parse_spec(spec: str) -> tuple[str, list]:
    """``"k1=0.6:1.6:0.2"`` -> ``("k1", [0.6, 0.8, ..., 1.6])``; raises ``SweepError``."""
    name, eq, text = spec.strip().partition("=")
    name = name.strip().lower().replace("-", "_")
    if not eq or not name or not text.strip():
        raise SweepError(f"bad sweep spec {spec!r}: expected name=values, e.g. k1=0.6:1.6:0.2")
    if name in NUMERIC:
        values: list = _numeric_values(name, text.strip())
    elif name in ("stemmer", *SWITCHES):
        values = _word_values(name, text.strip())
    else:
        known = ", ".join((*NUMERIC, "stemmer", *SWITCHES))
        raise SweepError(f"cannot sweep {name!r} (use {known})")
    return name, list(dict.fromkeys(values))


def parse_specs(specs: Iterable[str]) -> dict[str, list]:
    """All specs (each may hold several, separated by spaces); a name may appear once."""
    grid: dict[str, list] = {}
    for spec in (part for chunk in specs for part in chunk.split()):
        name, values = parse_spec(spec)
        if name in grid:
            raise SweepError(f"{name} is swept twice")
        grid[name] = values
    if not grid:
        raise SweepError("empty sweep: give at least one spec such as k1=0.6:1.6:0.2")
    return grid


def expand(grid: Mapping[str, Sequence], base: Setting) -> list[Setting]:
    """Every combination of the grid, other parameters taken from ``base``; analyzer-major order
    (stemmer, stopwords, then the search-time ones) so one analyzer's settings are contiguous."""
    order = ("stemmer", "stopwords", "k1", "b", "title_boost", "proximity", "prf", *FEEDBACK)
    axes = [grid.get(name, [getattr(base, name)]) for name in order]
    points = [dict(zip(order, combo)) for combo in itertools.product(*axes)]
    if len(points) > MAX_POINTS:
        raise SweepError(f"the grid has {len(points)} settings (at most {MAX_POINTS})")
    return [Setting(**point) for point in points]


def analyzer_groups(settings: Sequence[Setting]) -> dict[tuple[str, bool], list[Setting]]:
    """Settings per analyzer, in first-seen order: one index build serves each group."""
    groups: dict[tuple[str, bool], list[Setting]] = {}
    for setting in settings:
        groups.setdefault(setting.analyzer, []).append(setting)
    return groups
