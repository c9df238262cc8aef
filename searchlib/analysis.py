"""Text analysis: one analyzer for indexing and querying, so both sides agree on every term.

The chain is: split the *original* text into word tokens (keeping character offsets and
positions) → normalize each token (NFKC, case fold, accent fold, curly → straight apostrophes,
possessive ``'s`` removed, abbreviations and contractions resolved) → drop stopwords (their
positions still count, so phrases keep their gaps) → stem (Snowball English by default, via
PyStemmer: the C libstemmer, cheap to import and to call).

Normalization is done per token rather than on the whole text so that offsets always point
into the text as written (highlighting depends on it). Token → term results are cached: a
news archive has far fewer distinct words than tokens, so the hot loop is one dict lookup.
Hyphenated words split into their parts at consecutive positions; a query word like
``jong-un`` therefore becomes the two-term phrase "jong un", matching the hyphenated form and
the parts written apart.

Names a reader sees as one word are one token: ``AT&T`` and ``S&P`` (word characters joined by
``&``) and abbreviations of single letters with dots (``U.S.``, ``U.K.``, ``e.g.``). Their term
is the letters joined (``att``, ``uk``: the same as ``ATT`` and ``UK``) unless those spell a
stopword: ``U.S.`` → ``u.s``, which the capitalized ``US`` also gives, while the pronoun ``us``
stays a stopword (likewise ``M&A`` → ``m&a``, not the stopword ``ma``). A lone ``&`` is the word
"and". Contractions keep their apostrophe, so ``we'll`` never becomes ``well``; those of
stopwords (``we'll``, ``she'll``, ``can't``) are stopwords themselves.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

from .errors import IncompatibleIndex

STEMMERS = ("snowball", "porter", "none")
# Bump whenever a text can give different terms: an index built by another version would
# otherwise answer with silently mismatched terms.
ANALYZER_VERSION = 2
# language → (its Snowball algorithm, its packaged stopword file). Another language is one
# more entry here and one more value of `AnalyzerSettings`, not another code path.
LANGUAGES = {"en": ("english", "stopwords_en.txt")}

_APOSTROPHES = "'’‘ʼ"
_LETTER = r"[^\W\d_]"


def _token_pattern(word: str) -> re.Pattern[str]:
    r"""A token: `word` characters, joined by apostrophes (Korea's, don't) or `&` (AT&T), or a
    single-letter abbreviation (U.S., e.g.), or a lone `&`. Everything else separates tokens:
    "Jong-un" is two tokens, and so is "5.93" ("5", "93") — a query for 5.93 becomes the
    phrase "5 93", which finds it. The abbreviation part is tried only at a dot after a
    one-letter word, so ordinary words pay little for it (this is the indexing hot loop)."""
    abbreviation = rf"(?:\.(?<=\b{_LETTER}\.)(?:{_LETTER}\.)*{_LETTER}\b\.?)?"
    return re.compile(f"{word}(?:[&{_APOSTROPHES}]{word})*{abbreviation}|&")


TOKEN_RE = _token_pattern(r"\w+")


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
    return _token_pattern(f"[\\w{''.join(marks)}]+")


def token_re(text: str) -> re.Pattern[str]:
    """The token pattern for `text` (the plain one is faster and equivalent for ASCII)."""
    return TOKEN_RE if text.isascii() else _unicode_token_re()


_FOLD_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_CACHE_LIMIT = 1_000_000
# Contractions: the part before the suffix decides whether the whole is a stopword.
_CONTRACTION = re.compile(r"(.+?)(n't|'(?:ll|re|ve|d|m))")
# Capitalized forms that are abbreviations, not the stopword their letters spell.
_CAPITALIZED = {"US": "u.s"}


@dataclass(frozen=True, slots=True)
class Token:
    term: str | None  # None for a stopword (it still occupies a position)
    position: int
    start: int
    end: int


@dataclass(frozen=True)
class AnalyzerSettings:
    """Everything that decides which terms a text gives: stored in the manifest, so an index
    is always read with the analyzer it was written with."""

    language: str = "en"
    stemmer: str = "snowball"
    stopwords: bool = True
    version: int = ANALYZER_VERSION

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"unknown language {self.language!r} "
                             f"(choose from {', '.join(LANGUAGES)})")
        if self.stemmer not in STEMMERS:
            raise ValueError(f"unknown stemmer {self.stemmer!r} "
                             f"(choose from {', '.join(STEMMERS)})")

    @classmethod
    def from_manifest(cls, value: dict) -> AnalyzerSettings:
        """The settings of a manifest's "analyzer" object (checked by the schema first).
        Indexes from before languages are English; from before versions, version 1."""
        return cls(language=value.get("language", "en"), stemmer=value["stemmer"],
                   stopwords=value["stopwords"], version=value.get("version", 1))

    def to_manifest(self) -> dict:
        return asdict(self)

    def current(self) -> AnalyzerSettings:
        """The same choices under this searchlib's analyzer version (what a rebuild uses)."""
        return replace(self, version=ANALYZER_VERSION)

    def check_version(self, where: object) -> None:
        """Refuse an index whose terms came from another analyzer version."""
        if self.version == ANALYZER_VERSION:
            return
        older = isinstance(self.version, int) and self.version < ANALYZER_VERSION
        raise IncompatibleIndex(
            f"index at {where} was built by {'an older' if older else 'another'} analyzer "
            f"(version {self.version}; this searchlib uses {ANALYZER_VERSION}): it needs a rebuild"
        )


@lru_cache(maxsize=len(LANGUAGES))
def stopword_list(language: str = "en") -> frozenset[str]:
    """The packaged stopwords of a language; ``#`` starts a comment that runs to the end of
    its line (a comment's words must not become stopwords)."""
    name = LANGUAGES[language][1]  # read beside this module: importlib.resources costs a
    text = (Path(__file__).parent / "data" / name).read_text("utf-8")  # one-shot 10 ms
    return frozenset(w for line in text.splitlines() for w in line.split("#", 1)[0].split())


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
        w = w.translate(_FOLD_APOSTROPHES)
    return w


def _make_stemmer(settings: AnalyzerSettings) -> Callable[[str], str]:
    if settings.stemmer == "none":
        return str
    import Stemmer  # PyStemmer: ~2 ms to import, so only an index that stems pays for it

    snowball = LANGUAGES[settings.language][0]
    return Stemmer.Stemmer(snowball if settings.stemmer == "snowball" else "porter").stemWord


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

    def __init__(self, settings: AnalyzerSettings | None = None) -> None:
        self.settings = settings = settings or AnalyzerSettings()
        self.stemmer = settings.stemmer
        self.stopwords = settings.stopwords
        self._stops = stopword_list(settings.language) if settings.stopwords else frozenset()
        self._stem_fn: Callable[[str], str] | None = None
        self._stems: dict[str, str] = {}
        self.cache = _TermCache(self._analyze_word)

    @property
    def stems(self) -> dict[str, str]:
        """Every word → stem pair this analyzer has computed (an index stores them: they are
        its vocabulary of words as written, for matching typed words against)."""
        return self._stems

    def stem(self, word: str) -> str:
        """The stem of a normalized word; words that are not all letters are kept as they
        are (Snowball would turn "u.s" into "u.")."""
        stem = self._stems.get(word)
        if stem is None:
            if not word.isalpha():
                return word
            if self._stem_fn is None:
                self._stem_fn = _make_stemmer(self.settings)
            stem = self._stems[word] = self._stem_fn(word)
        return stem

    def normalize(self, raw: str) -> str:
        """The word a raw token stands for, before stemming (what prefix and fuzzy matching
        compare): folded, possessive removed, abbreviations resolved, contractions kept."""
        if raw in _CAPITALIZED:
            return _CAPITALIZED[raw]
        w = fold(raw)
        if w == "&":
            return "and"
        if "." in w or "&" in w:  # U.K. → uk, AT&T → att; U.S. → u.s (not the pronoun us)
            w = w.rstrip(".")
            if w.endswith("'s"):
                w = w[:-2]
            joined = w.replace(".", "").replace("&", "")
            stops = stopword_list(self.settings.language)
            return joined if joined.isalpha() and joined not in stops else w
        if w.endswith("'s"):
            w = w[:-2]
        if "'" in w and not _CONTRACTION.fullmatch(w):
            w = w.replace("'", "")  # O'Brien, rock'n'roll
        return w

    def _analyze_word(self, raw: str) -> str | None:
        w = self.normalize(raw)
        if not w or w in self._stops:
            return None
        contraction = _CONTRACTION.fullmatch(w) if "'" in w else None
        if contraction:  # we'll, can't: stopwords; could've stays a term of its own
            base, suffix = contraction.groups()
            if base in self._stops or (suffix == "n't" and base + "n" in self._stops):
                return None
            return w
        return self.stem(w)  # numbers and codes are kept as written, not stemmed

    def term(self, raw_word: str) -> str | None:
        """The index term for one raw word (None if it is a stopword)."""
        return self.cache[raw_word]

    def words(self, text: str) -> list[str]:
        """The raw tokens of `text` by position: the keys of `cache` (and of any per-token
        table built on it, like the index writer's)."""
        return token_re(text).findall(text)

    def terms(self, text: str) -> list[str | None]:
        """Terms by position (None marks a stopword). The indexing fast path: no offsets."""
        return list(map(self.cache.__getitem__, self.words(text)))

    def tokens(self, text: str) -> list[Token]:
        """Tokens with positions and character offsets into `text` as written."""
        get = self.cache.__getitem__
        return [
            Token(get(m.group()), i, m.start(), m.end())
            for i, m in enumerate(token_re(text).finditer(text))
        ]

    def marks(self, text: str, terms: set[str]) -> list[tuple[int, int]]:
        """(start, end) offsets of every token of `text` whose term is in `terms`."""
        if not terms:
            return []
        get = self.cache.__getitem__
        pattern = token_re(text)
        wanted = [get(w) in terms for w in pattern.findall(text)]
        if not any(wanted):  # the common case for long paragraphs: no match objects made
            return []
        return [m.span() for m, hit in zip(pattern.finditer(text), wanted) if hit]
