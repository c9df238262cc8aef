"""searchlib: full-text search for news articles, ranked at paragraph level.

    import searchlib
    idx = searchlib.Index.build(["seeds/"], "index/")
    res = idx.search('"artillery shells" AND russia', k=10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .budget import QueryBudget  # noqa: E402
from .errors import (  # noqa: E402
    CorruptIndex,
    IncompatibleIndex,
    IndexLocked,
    IndexNotFound,
    IndexWriteError,
    InvalidArgument,
    NotAnIndex,
    QuerySyntaxError,
    SearchlibError,
)

if TYPE_CHECKING:
    from .index.writer import UpdateReport
    from .search import Explanation, Hit, Index, IndexStats, SearchResults

# The engine (NumPy and the rest) loads on the first use of one of these names, not on
# `import searchlib`, so the command line can handle Ctrl-C before the heavy imports start.
# `UpdateReport` lives with the index writer, which a search does not need to import.
_FROM_SEARCH = ("Index", "Hit", "SearchResults", "Explanation", "IndexStats")
_loaded = False


def __getattr__(name: str) -> Any:
    global _loaded
    if name in _FROM_SEARCH and not _loaded:  # once: a name deleted later stays deleted
        from . import search

        globals().update({n: getattr(search, n) for n in _FROM_SEARCH})
        _loaded = True
        return globals()[name]
    if name == "UpdateReport":
        from .index.writer import UpdateReport

        return UpdateReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FROM_SEARCH) | {"UpdateReport"})

__all__ = [
    "Index", "Hit", "SearchResults", "Explanation", "IndexStats", "UpdateReport", "QueryBudget",
    "SearchlibError", "QuerySyntaxError", "IndexNotFound", "NotAnIndex", "IncompatibleIndex",
    "CorruptIndex", "IndexLocked", "IndexWriteError", "InvalidArgument", "__version__",
]
