"""One exception hierarchy for everything searchlib raises on purpose.

Every message is a single line a user can act on; the CLI prints it and exits 2.
Names avoid clashing with builtins (no ``IndexError``/``FileNotFoundError``).
"""

from __future__ import annotations


class SearchlibError(Exception):
    """Base class: catch this to handle any searchlib failure."""


class InvalidArgument(SearchlibError, ValueError):
    """A bad argument to the library (k < 1, an unknown operator or stemmer, k1 < 0...).

    Also a ``ValueError``, so code written against the standard convention still catches it."""


class IndexNotFound(SearchlibError):
    """No index exists at the given path."""


class NotAnIndex(SearchlibError):
    """The path exists but is not a searchlib index."""


class IncompatibleIndex(SearchlibError):
    """The index was written by an incompatible (usually newer) format version."""


class CorruptIndex(SearchlibError):
    """An index file is missing, truncated or fails its checksum."""


class IndexLocked(SearchlibError):
    """Another live process holds the writer lock."""


class IndexWriteError(SearchlibError):
    """Writing failed (disk full, read-only location...); the previous commit is intact."""


class QuerySyntaxError(SearchlibError):
    """Strict-mode parse failure, carrying the 0-based character position in the query."""

    def __init__(self, message: str, position: int, query: str = "") -> None:
        self.message = message
        self.position = position
        self.query = query
        super().__init__(f"{message} (at position {position})")

    def caret(self, context: int = 40) -> str:
        """The query around the offending character with a caret line under it (for
        terminals): at most `context` characters either side, on one line, so a pasted page
        does not come back whole."""
        lo = max(0, self.position - context)
        hi = self.position + context + 1
        before = self.query[lo:self.position]
        shown = ("…" if lo else "") + before + self.query[self.position:hi]
        shown += "…" if hi < len(self.query) else ""
        shown = shown.translate({ord(c): " " for c in "\n\r\t"})  # one line, caret aligned
        return f"{shown}\n{' ' * (len(before) + (1 if lo else 0))}^"
