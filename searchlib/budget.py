"""Caps on the work one query may cause.

A service passes user text to `search()`, so a pasted book, a word repeated thousands of times
or a page of wildcards must not cost gigabytes or minutes. Each cap bounds one resource that
grows with the query: parsing (characters), compiling (distinct clauses, expansions, fuzzy
look-ups over the vocabulary) and evaluation (postings read, phrase length). Normal queries
are far below every cap (the test collections' longest query has 63 clauses); when a cap is
hit, the query is answered without what exceeded it and a warning says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .query import shown


@dataclass(frozen=True)
class QueryBudget:
    """The caps, per query. Each compile of a search (exact, then the fuzzy fallback) has
    its own clause, expansion and postings allowance; fuzzy look-ups are shared by all."""

    max_chars: int = 100_000  # characters parsed; the rest of a longer query is ignored
    max_clauses: int = 1024  # distinct words/phrases/prefixes, and groups (Lucene's default)
    max_postings: int = 2_000_000  # postings read; the most frequent words are dropped first
    max_expansions: int = 2048  # terms added by prefix and fuzzy expansion, over the query
    max_fuzzy_words: int = 32  # words compared with the whole vocabulary (~5 ms each)
    max_fuzzy_length: int = 64  # longer words are never typos of an index word
    max_phrase_terms: int = 256  # words of one phrase matched (position checks grow as n²)


DEFAULT_BUDGET = QueryBudget()


@dataclass
class Spend:
    """What one search has used of its budget, and the warnings of the caps it hit."""

    budget: QueryBudget = DEFAULT_BUDGET
    clauses: int = 0
    expansions: int = 0
    fuzzy_words: int = 0
    warnings: dict[str, str] = field(default_factory=dict)  # which cap -> its warning
    # fuzzy look-ups already made, by (word, term, edits, limit): a later compile reuses them
    looked_up: dict[tuple, list] = field(default_factory=dict)

    def start(self) -> None:
        """A new compile of the query: a fresh allowance of clauses and expansions."""
        self.clauses = self.expansions = 0
        self.warnings = {}

    def warn(self, cap: str, message: str) -> None:
        """Say once per compile that `cap` was hit (the first message stays)."""
        self.warnings.setdefault(cap, message)

    def clause(self) -> bool:
        """Room for one more clause?"""
        self.clauses += 1
        if self.clauses <= self.budget.max_clauses:
            return True
        self.warn("clauses", f"query has more than {self.budget.max_clauses} clauses "
                  "(distinct words, phrases and groups); the rest are ignored")
        return False

    def expansion_room(self, label: str) -> int:
        """How many more expansion terms the query may add (0: warn that `label` gets none)."""
        room = self.budget.max_expansions - self.expansions
        if room <= 0:
            self.warn("expansions",
                      f"query expands to more than {self.budget.max_expansions} words; "
                      f"'{shown(label)}' and later prefixes or fuzzy words are ignored")
        return max(room, 0)

    def fuzzy(self, word: str) -> bool:
        """May `word` be compared with the vocabulary?"""
        if len(word) > self.budget.max_fuzzy_length:
            self.warn(f"long {word}", f"'{shown(word)}' is longer than "
                      f"{self.budget.max_fuzzy_length} characters: no fuzzy matching")
            return False
        self.fuzzy_words += 1
        if self.fuzzy_words <= self.budget.max_fuzzy_words:
            return True
        self.warn("fuzzy", "fuzzy matching was tried for the first "
                  f"{self.budget.max_fuzzy_words} words only")
        return False
