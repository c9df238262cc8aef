"""A sharded index served by Ray (the optional extra `searchlib[ray]`).

`layout` (cluster.json, partition rule) and `stats` (global statistics) import no Ray;
`runtime`, `index` and `writer` do, and load only when a sharded index is opened or built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layout import CLUSTER, is_cluster

if TYPE_CHECKING:
    from .index import ShardedIndex


def __getattr__(name: str) -> Any:
    if name == "ShardedIndex":
        try:
            from .index import ShardedIndex
        except ImportError as exc:  # ray missing: say how to get it
            from ..errors import SearchlibError

            raise SearchlibError(f"a sharded index needs Ray ({exc}); install "
                                 "searchlib[ray]") from None
        return ShardedIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CLUSTER", "ShardedIndex", "is_cluster"]
