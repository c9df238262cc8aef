"""searchlib: full-text search for news articles, ranked at paragraph level.

    import searchlib
    idx = searchlib.Index.build(["seeds/"], "index/")
    res = idx.search('"artillery shells" AND russia', k=10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    CorruptIndex,
    IncompatibleIndex,
    IndexLocked,
    IndexNotFound,
    IndexWriteError,
    NotAnIndex,
    QuerySyntaxError,
    SearchlibError,
)

if TYPE_CHECKING:
    from .search import Explanation, Hit, Index, IndexStats, SearchResults, UpdateReport

# The engine (NumPy and the rest) loads on first use of these names, not on `import
# searchlib`: the command line can then handle Ctrl-C before the heavy imports start.
_FROM_SEARCH = ("Index", "Hit", "SearchResults", "Explanation", "IndexStats", "UpdateReport")


def __getattr__(name: str) -> Any:
    if name in _FROM_SEARCH:
        from . import search

        return getattr(search, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FROM_SEARCH))


__all__ = [
    "Index", "Hit", "SearchResults", "Explanation", "IndexStats", "UpdateReport",
    "SearchlibError", "QuerySyntaxError", "IndexNotFound", "NotAnIndex", "IncompatibleIndex",
    "CorruptIndex", "IndexLocked", "IndexWriteError", "__version__",
]
