"""Text analysis: one analyzer for indexing and querying, so both sides agree on every term.

The chain is: split the *original* text into word tokens (keeping character offsets and
positions) → normalize each token (NFKC, case fold, accent fold, curly → straight apostrophes,
possessive ``'s`` removed) → drop stopwords (their positions still count, so phrases keep
their gaps) → stem (NLTK Snowball English by default).

Normalization is done per token rather than on the whole text so that offsets always point
into the text as written (highlighting depends on it). Token → term results are cached: a
news archive has far fewer distinct words than tokens, so the hot loop is one dict lookup.
Hyphenated words split into their parts at consecutive positions; a query word like
``jong-un`` therefore becomes the two-term phrase "jong un", matching the hyphenated form and
the parts written apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

STEMMERS = ("snowball", "porter", "none")

# A token is a run of word characters with internal apostrophes (Korea's, don't, Korea’s).
# Everything else separates tokens: "Jong-un" is two tokens, and so is "5.93" ("5", "93") —
# a query for 5.93 becomes the phrase "5 93", which finds it. (This simple pattern is also
# the fastest Python's re module offers, and it is the indexing hot loop.)
TOKEN_RE = re.compile(r"\w+(?:['’‘ʼ]\w+)*")


@lru_cache(maxsize=1)
def _unicode_token_re() -> re.Pattern[str]:
    r"""TOKEN_RE plus combining marks as word characters: Python's \w excludes them, which
    would split decomposed "café" (e + ◌́), vowelled Arabic or Devanagari into pieces."""
    marks, start = [], None
    for cp in range(0x300, 0x10000):
        is_mark = unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            marks.append(f"{re.escape(chr(start))}-{re.escape(chr(cp - 1))}")
            start = None
    word = f"[\\w{''.join(marks)}]+"
    return re.compile(f"{word}(?:['’‘ʼ]{word})*")


def token_re(text: str) -> re.Pattern[str]:
    """The token pattern for `text` (the plain one is faster and equivalent for ASCII)."""
    return TOKEN_RE if text.isascii() else _unicode_token_re()
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_CACHE_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Token:
    term: str | None  # None for a stopword (it still occupies a position)
    position: int
    start: int
    end: int


@lru_cache(maxsize=1)
def stopword_list() -> frozenset[str]:
    text = resources.files("searchlib").joinpath("data/stopwords_en.txt").read_text("utf-8")
    return frozenset(w for w in text.split() if w and not w.startswith("#"))


def fold(word: str) -> str:
    """Unicode-normalize, case-fold and accent-fold one word; unify apostrophes."""
    if word.isascii():
        return word.lower()
    w = unicodedata.normalize("NFKC", word).casefold()
    if not w.isascii():
        decomposed = unicodedata.normalize("NFKD", w)
        w = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
        )
        w = w.translate(_APOSTROPHES)
    return w


def _make_stemmer(name: str) -> Callable[[str], str]:
    # NLTK is imported only when a word actually needs stemming: it is slow to import.
    if name == "snowball":
        from nltk.stem.snowball import SnowballStemmer

        return SnowballStemmer("english").stem
    if name == "porter":
        from nltk.stem.porter import PorterStemmer

        return PorterStemmer().stem
    return str


class _TermCache(dict):
    """raw token → term (or None); fills itself on a miss so the hot loop is `map(getitem)`."""

    def __init__(self, fn: Callable[[str], str | None]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, key: str) -> str | None:
        if len(self) > _CACHE_LIMIT:
            self.clear()
        value = self[key] = self.fn(key)
        return value


class Analyzer:
    """Turns text into terms. Construct with the settings stored in an index's manifest."""

    def __init__(self, stemmer: str = "snowball", stopwords: bool = True,
                 known_stems: Callable[[], dict[str, str]] | None = None) -> None:
        """`known_stems` lazily supplies word → stem pairs computed earlier (an index stores
        the ones it has seen): a query of known words then never needs to import NLTK."""
        if stemmer not in STEMMERS:
            raise ValueError(f"unknown stemmer {stemmer!r} (choose from {', '.join(STEMMERS)})")
        self.stemmer = stemmer
        self.stopwords = stopwords
        self._stops = stopword_list() if stopwords else frozenset()
        self._stem_fn: Callable[[str], str] | None = None
        self._stems: dict[str, str] = {}
        self._known_stems = known_stems
        self.cache = _TermCache(self._analyze_word)

    @property
    def stems(self) -> dict[str, str]:
        """Every word → stem pair this analyzer has computed or loaded."""
        return self._stems

    def stem(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            if self._known_stems is not None:
                loader, self._known_stems = self._known_stems, None
                self._stems.update(loader())
                return self.stem(word)
            if self._stem_fn is None:
                self._stem_fn = _make_stemmer(self.stemmer)
            stem = self._stems[word] = self._stem_fn(word)
        return stem

    def normalize(self, raw: str) -> str:
        """Folded word without stemming, possessive removed (what prefix/fuzzy compare)."""
        w = fold(raw)
        if w.endswith("'s"):
            w = w[:-2]
        return w.replace("'", "")

    def _analyze_word(self, raw: str) -> str | None:
        w = fold(raw)
        if w in self._stops:
            return None
        if w.endswith("'s"):
            w = w[:-2]
        w = w.replace("'", "")
        if not w or w in self._stops:
            return None
        if not w.isalpha():  # numbers and codes are kept as written, not stemmed
            return w
        return self.stem(w)

    def term(self, raw_word: str) -> str | None:
        """The index term for one raw word (None if it is a stopword)."""
        return self.cache[raw_word]

    def terms(self, text: str) -> list[str | None]:
        """Terms by position (None marks a stopword). The indexing fast path: no offsets."""
        if text.isascii():
            text = text.lower()  # length-preserving for ASCII; shrinks the cache
        return list(map(self.cache.__getitem__, token_re(text).findall(text)))

    def tokens(self, text: str) -> list[Token]:
        """Tokens with positions and character offsets into `text` as written."""
        get = self.cache.__getitem__
        lower = text.isascii()
        return [
            Token(get(m.group().lower() if lower else m.group()), i, m.start(), m.end())
            for i, m in enumerate(token_re(text).finditer(text))
        ]
