"""searchlib: full-text search for news articles, ranked at paragraph level.

    import searchlib
    idx = searchlib.Index.build(["seeds/"], "index/")
    res = idx.search('"artillery shells" AND russia', k=10)
"""

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
from .search import (  # noqa: E402
    Explanation,
    Hit,
    Index,
    IndexStats,
    SearchResults,
)


def __getattr__(name: str):
    """`UpdateReport` lives with the index writer, which a search does not need to import."""
    if name == "UpdateReport":
        from .index.writer import UpdateReport

        return UpdateReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Index", "Hit", "SearchResults", "Explanation", "IndexStats", "UpdateReport",
    "SearchlibError", "QuerySyntaxError", "IndexNotFound", "NotAnIndex", "IncompatibleIndex",
    "CorruptIndex", "IndexLocked", "IndexWriteError", "__version__",
]
