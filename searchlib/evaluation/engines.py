"""Engines under evaluation: a small protocol plus adapters for whoosh and searchlib.

Every engine indexes the corpus at paragraph level and returns ``(article_id, paragraph_no,
score)`` hits, best first, with 1-based paragraph numbers as in searchlib's index (the peers
read the corpus through ``corpus.paragraphs``, which uses searchlib's own reader).
Both libraries are imported lazily so ``import searchlib.evaluation`` stays light.
"""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from searchlib.evaluation.corpus import paragraphs
from searchlib.evaluation.errors import EngineUnavailable

Hit = tuple[str, int, float]
"""(article_id, paragraph number 1-based, score)."""

_OPERATORS = re.compile(r"\b(AND|OR|NOT)\b")
# whoosh 2.7.4 has invalid escapes in its sources: compiling them warns (DeprecationWarning on
# 3.11, SyntaxWarning on 3.12+). Compile-time warnings carry the file path as their "module".
_WHOOSH_MODULE = r"(whoosh(\.|$)|.*[\\/]whoosh[\\/])"


@runtime_checkable
class Engine(Protocol):
    """What the benchmark needs from a search engine."""

    name: str

    def build(self, corpus_path: str, workdir: str) -> None:
        """Index the corpus (a file or folder) at paragraph level inside ``workdir``."""
        ...

    def search(self, query: str, k: int) -> list[Hit]:
        """The top ``k`` paragraphs for ``query``, best first."""
        ...


def lowercase_operators(query: str) -> str:
    """Make upper-case AND/OR/NOT plain words.

    Test-collection queries are prose, and some are all upper case (NPL: "... PHASE AND
    ATTENUATION ..."): read as operators they would turn a ranked OR query into a strict
    conjunction or exclusion that the assessors never intended.
    """
    return _OPERATORS.sub(lambda m: m.group(1).lower(), query)


# Everything whoosh imports while indexing and searching: it imports some modules lazily (e.g.
# the codec when a writer opens), so they are compiled here, inside the warning filter.
_WHOOSH_MODULES = (
    "whoosh.analysis",
    "whoosh.fields",
    "whoosh.index",
    "whoosh.qparser",
    "whoosh.query",
    "whoosh.scoring",
    "whoosh.automata.lev",
    "whoosh.classify",
    "whoosh.codec.whoosh3",
    "whoosh.collectors",
    "whoosh.externalsort",
    "whoosh.filedb.compound",
    "whoosh.filedb.filetables",
    "whoosh.highlight",
    "whoosh.searching",
    "whoosh.sorting",
    "whoosh.writing",
)


def _import_whoosh() -> Any:
    """Import whoosh, silencing only whoosh's own compile-time warnings."""
    with warnings.catch_warnings():
        for category in (SyntaxWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=_WHOOSH_MODULE)
        for module in _WHOOSH_MODULES:
            importlib.import_module(module)
    return importlib.import_module("whoosh")


class WhooshEngine:
    """Reference engine: whoosh 2.7.4, StemmingAnalyzer, BM25F with its defaults (B=0.75, K1=1.2).

    One whoosh document per paragraph: ``article`` (ID, stored), ``paragraph`` (stored number),
    ``title`` and ``text`` (TEXT with StemmingAnalyzer); the article title is repeated in each of
    its paragraphs. The paragraphs are exactly searchlib's (``corpus.paragraphs``): a
    headline-only article is its title as paragraph 1 (1617 CACM documents are title-only).

    Queries go through ``MultifieldParser(["title", "text"], schema, group=OrGroup)``, so every
    query word becomes ``(title:w OR text:w)`` and the words are OR-ed. With
    ``query_syntax=False`` (default, for prose queries) every syntax plugin is removed (quotes,
    fields, wildcards, ranges, groups, operators, boosts, ``*``): whoosh would otherwise read
    "computers?" as a wildcard and "(TSS)" as a group. ``query_syntax=True`` keeps whoosh's full
    default syntax (phrases, AND/OR/NOT...) for hand-written queries.
    """

    def __init__(
        self, *, query_syntax: bool = False, limitmb: int = 1024, name: str | None = None
    ) -> None:
        self.name = name or "whoosh-bm25f" + ("-syntax" if query_syntax else "")
        self.query_syntax = query_syntax
        self.limitmb = limitmb
        self._index: Any = None
        self._searcher: Any = None
        self._parser: Any = None

    def build(self, corpus_path: str, workdir: str) -> None:
        whoosh = _import_whoosh()
        stem = whoosh.analysis.StemmingAnalyzer
        schema = whoosh.fields.Schema(
            article=whoosh.fields.ID(stored=True),
            paragraph=whoosh.fields.STORED(),
            title=whoosh.fields.TEXT(analyzer=stem()),
            text=whoosh.fields.TEXT(analyzer=stem()),
        )
        folder = Path(workdir) / "whoosh"
        folder.mkdir(parents=True, exist_ok=True)
        self.close()
        self._index = whoosh.index.create_in(str(folder), schema)
        writer = self._index.writer(limitmb=self.limitmb, procs=1)
        for article, number, title, text in paragraphs(corpus_path):
            writer.add_document(article=article, paragraph=number, title=title, text=text)
        writer.commit()
        self._parser = self._make_parser(whoosh, schema)

    def open(self, workdir: str) -> None:
        """Open an index ``build`` wrote earlier (maybe in another process)."""
        whoosh = _import_whoosh()
        self.close()
        self._index = whoosh.index.open_dir(str(Path(workdir) / "whoosh"))
        self._parser = self._make_parser(whoosh, self._index.schema)

    def query(self, kind: str, words: list[str], k: int) -> int:
        """Speed benchmark: Or/And/Phrase over the text field, analyzed like the index, with the
        searcher kept open between queries."""
        whoosh = _import_whoosh()
        if self._searcher is None:
            self._searcher = self._index.searcher(weighting=whoosh.scoring.BM25F())
        analyzer = self._index.schema["text"].analyzer
        terms = [t.text for word in words for t in analyzer(word)]
        if not terms:
            return 0
        query_module = whoosh.query
        if kind == "phrase":
            query = query_module.Phrase("text", terms)
        else:
            leaves = [query_module.Term("text", t) for t in terms]
            query = (query_module.And if kind == "and" else query_module.Or)(leaves)
        return len(self._searcher.search(query, limit=k))

    def _make_parser(self, whoosh: Any, schema: Any) -> Any:
        qparser = whoosh.qparser
        parser = qparser.MultifieldParser(["title", "text"], schema, group=qparser.OrGroup)
        if not self.query_syntax:
            for plugin in parser.plugins[:]:
                if not isinstance(plugin, (qparser.WhitespacePlugin, qparser.MultifieldPlugin)):
                    parser.remove_plugin(plugin)
        return parser

    def search(self, query: str, k: int) -> list[Hit]:
        if self._index is None:
            raise EngineUnavailable("WhooshEngine.search called before build")
        if self._searcher is None:
            self._searcher = self._index.searcher(weighting=_import_whoosh().scoring.BM25F())
        results = self._searcher.search(self._parser.parse(query), limit=k)
        return [(hit["article"], hit["paragraph"], float(hit.score)) for hit in results]

    def close(self) -> None:
        """Release the searcher's open files (also done by the next ``build``)."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None


class SearchlibEngine:
    """The engine under test: ``searchlib.Index`` built with BM25 ``k1``/``b`` and a stemmer.

    k1/b default to the library's own defaults (None).
    Queries are passed as-is to the lenient parser (it copes with prose punctuation) except that,
    with ``query_syntax=False`` (default), upper-case AND/OR/NOT become plain words (see
    ``lowercase_operators``); set ``query_syntax=True`` for hand-written boolean queries.
    Assumes ``Hit.paragraph`` is the 1-based paragraph number, as in paragraph qrels.

    ``set_params`` changes k1/b/title_boost/fuzzy between searches without rebuilding: they are
    query-time arguments of ``Index.search``, so a parameter sweep indexes once per analyzer.
    """

    def __init__(
        self,
        k1: float | None = None,
        b: float | None = None,
        stemmer: str = "snowball",
        *,
        query_syntax: bool = False,
        fuzzy: bool = False,
        name: str | None = None,
        **options: Any,
    ) -> None:
        default = f"searchlib-{stemmer}-k1={k1}-b={b}" + ("-syntax" if query_syntax else "")
        self.name = name or default
        self.k1, self.b, self.stemmer = k1, b, stemmer
        self.query_syntax, self.fuzzy = query_syntax, fuzzy
        self.options = options
        self.overrides: dict[str, float] = {}
        self.builds = 0
        self._index: Any = None

    def prepare(self) -> None:
        """Import the stemmer (NLTK takes ~1-2 s to import) so build times measure indexing."""
        if self.stemmer != "none":
            from searchlib.analysis import Analyzer, AnalyzerSettings

            Analyzer(AnalyzerSettings(stemmer=self.stemmer)).stem("warming")

    def build(self, corpus_path: str, workdir: str) -> None:
        import searchlib

        index_class = getattr(searchlib, "Index", None)
        if index_class is None:
            raise EngineUnavailable("searchlib.Index is not available in this checkout")
        self._index = index_class.build(
            [corpus_path], workdir, stemmer=self.stemmer, **self._bm25(), **self.options
        )
        self.builds += 1

    def open(self, workdir: str) -> None:
        """Open an index ``build`` wrote earlier (maybe in another process)."""
        import searchlib

        self._index = searchlib.Index.open(workdir, **self._bm25(), **self.options)

    def _bm25(self) -> dict[str, float]:
        return {k: v for k, v in (("k1", self.k1), ("b", self.b)) if v is not None}

    def set_params(self, *, fuzzy: bool | None = None, **overrides: float) -> None:
        """Search with other ``k1``/``b``/``title_boost``, proximity weight, feedback
        (``prf``, ``fb_docs``, ``fb_terms``, ``fb_weight``) and fuzzy from now on."""
        unknown = set(overrides) - SEARCH_PARAMS
        if unknown:
            raise EngineUnavailable(f"not a search-time parameter: {', '.join(sorted(unknown))}")
        self.overrides.update(overrides)
        if fuzzy is not None:
            self.fuzzy = fuzzy

    def search(self, query: str, k: int) -> list[Hit]:
        if self._index is None:
            raise EngineUnavailable("SearchlibEngine.search called before build")
        text = query if self.query_syntax else lowercase_operators(query)
        return rank_only(self._index, text, k, self.fuzzy, self.overrides)

    def query(self, kind: str, words: list[str], k: int) -> int:
        """Speed benchmark: an OR, AND or phrase query through the public search call."""
        text = {"or": " ".join(words), "and": " AND ".join(words)}.get(kind)
        text = text if text is not None else '"' + " ".join(words) + '"'
        return len(self._index.search(text, k=k, fuzzy=False).hits)

    def close(self) -> None:
        self._index = None


SEARCH_PARAMS = {"k1", "b", "title_boost", "proximity", "prf", "fb_docs", "fb_terms",
                 "fb_weight"}


def rank_only(index: Any, query: str, k: int, fuzzy: bool, overrides: dict) -> list[Hit]:
    """The hits ``Index.search`` would return, as (article, paragraph, score), without building
    their text and highlights (``Index.rank``): evaluation fetches up to 3000 paragraphs per
    query and needs only ids and scores."""
    params = {k: v for k, v in overrides.items() if k in ("k1", "b", "title_boost", "proximity")}
    if overrides.get("prf"):
        from searchlib.ranking.prf import Feedback

        named = {"fb_docs": "fb_docs", "fb_terms": "fb_terms", "fb_weight": "original_weight"}
        params["prf"] = Feedback(**{field: overrides[key] for key, field in named.items()
                                    if overrides.get(key) is not None})
    return index.rank(query, k, fuzzy=fuzzy, **params)


ENGINE_NAMES = ("searchlib", "whoosh", "bm25s", "tantivy", "sqlite")
_ALIASES = {"fts5": "sqlite", "sqlite-fts5": "sqlite", "whoosh-bm25f": "whoosh"}


def make_engine(name: str, *, query_syntax: bool = False, **searchlib_options: Any) -> Any:
    """An engine by its short name; ``searchlib_options`` (k1, b, stemmer, stopwords,
    title_boost...) configure searchlib only, ``query_syntax`` searchlib and whoosh (peers always
    read queries as bags of words). Unknown names and peers that are not installed raise
    ``EngineUnavailable`` with a one-line reason."""
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key == "searchlib":
        options = dict(searchlib_options)
        return SearchlibEngine(
            options.pop("k1", None), options.pop("b", None), options.pop("stemmer", "snowball"),
            name="searchlib", query_syntax=query_syntax, **options,
        )
    if key == "whoosh":
        _import_whoosh()
        return WhooshEngine(name="whoosh", query_syntax=query_syntax)
    from searchlib.evaluation import peers

    if key == "bm25s":
        peers.require("bm25s")
        return peers.Bm25sEngine()
    if key == "tantivy":
        peers.require("tantivy")
        return peers.TantivyEngine()
    if key == "sqlite":
        return peers.SqliteEngine()
    raise EngineUnavailable(f"unknown engine {name!r} (use {', '.join(ENGINE_NAMES)})")
