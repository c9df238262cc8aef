"""searchlib: full-text search for news articles, ranked at paragraph level.

    import searchlib
    idx = searchlib.Index.build(["seeds/"], "index/")
    res = idx.search('"artillery shells" AND russia', k=10)
"""

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
from .search import (  # noqa: E402
    Explanation,
    Hit,
    Index,
    IndexStats,
    SearchResults,
    UpdateReport,
)

__all__ = [
    "Index", "Hit", "SearchResults", "Explanation", "IndexStats", "UpdateReport", "QueryBudget",
    "SearchlibError", "QuerySyntaxError", "IndexNotFound", "NotAnIndex", "IncompatibleIndex",
    "CorruptIndex", "IndexLocked", "IndexWriteError", "InvalidArgument", "__version__",
]
