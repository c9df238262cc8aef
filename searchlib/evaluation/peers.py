"""Optional peer engines for comparison: bm25s, tantivy and SQLite FTS5.

Each indexes one document per paragraph, exactly searchlib's (``corpus.paragraphs``, title
repeated in every paragraph, as WhooshEngine does), and serves both the effectiveness benchmark
(``search``: a prose query read as an OR of its words over title and text) and the speed
benchmark (``query``: OR/AND/phrase over the text field). bm25s and tantivy are imported only
when used and raise ``EngineUnavailable`` when missing; SQLite comes with Python, but FTS5 must
be compiled into its sqlite3 library.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from searchlib.evaluation.corpus import paragraphs
from searchlib.evaluation.errors import EngineUnavailable

Hit = tuple[str, int, float]
_WORDS = re.compile(r"\w+")


def words(query: str) -> list[str]:
    """A prose query's words, lower-cased so no engine reads AND/OR/NOT as operators."""
    return [w.lower() for w in _WORDS.findall(query)]


def require(module: str) -> Any:
    """Import an optional dependency or say, in one line, how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise EngineUnavailable(f"{module} is not installed (pip install {module})") from None


class Bm25sEngine:
    """bm25s (sparse-matrix BM25, Lucene variant, k1=1.5 b=0.75 by default), English stopwords,
    Snowball stemming via PyStemmer when installed. Bag of words only: no AND, no phrases."""

    kinds = frozenset({"or"})

    def __init__(self, name: str = "bm25s") -> None:
        self.name = name
        self._model: Any = None
        self._ids: list[tuple[str, int]] = []
        self._stemmer: Any = None

    def _tokenize(self, texts: list[str], ids: bool) -> Any:
        bm25s = require("bm25s")
        if self._stemmer is None:
            try:
                import Stemmer

                self._stemmer = Stemmer.Stemmer("english").stemWords
            except ImportError:
                self._stemmer = False
        return bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer or None, show_progress=False,
            return_ids=ids,
        )

    def build(self, corpus_path: str, workdir: str) -> None:
        bm25s = require("bm25s")
        rows = list(paragraphs(corpus_path))
        self._ids = [(article, number) for article, number, _, _ in rows]
        texts = [f"{title}\n{text}" for _, _, title, text in rows]
        self._model = bm25s.BM25()
        self._model.index(self._tokenize(texts, ids=True), show_progress=False)
        folder = Path(workdir) / "bm25s"
        self._model.save(str(folder), show_progress=False)
        (folder / "ids.json").write_text(json.dumps(self._ids), encoding="utf-8")

    def open(self, workdir: str) -> None:
        bm25s = require("bm25s")
        folder = Path(workdir) / "bm25s"
        self._model = bm25s.BM25.load(str(folder), show_progress=False)
        self._ids = [tuple(x) for x in json.loads((folder / "ids.json").read_text("utf-8"))]

    def _top(self, text: str, k: int) -> list[Hit]:
        import numpy as np

        tokens = self._tokenize([text], ids=False)[0]
        if not tokens or k <= 0:
            return []
        scores = self._model.get_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(*self._ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def search(self, query: str, k: int) -> list[Hit]:
        return self._top(" ".join(words(query)), k)

    def query(self, kind: str, terms: list[str], k: int) -> int:
        if kind not in self.kinds:
            raise EngineUnavailable(f"bm25s cannot run {kind} queries")
        return len(self._top(" ".join(terms), k))

    def close(self) -> None:
        self._model = None


class TantivyEngine:
    """tantivy (Rust, Lucene-like BM25 k1=1.2 b=0.75) with its ``en_stem`` tokenizer; the writer
    uses one thread so indexing speed compares with single-threaded Python engines."""

    kinds = frozenset({"or", "and", "phrase"})

    def __init__(self, name: str = "tantivy", heap_bytes: int = 256 * 2**20, threads: int = 1,
                 store_text: bool = False) -> None:
        self.name = name
        self.heap_bytes = heap_bytes
        self.threads = threads  # the scale benchmark gives it every core, as searchlib has
        self.store_text = store_text  # stored text too: index sizes compare like for like
        self._index: Any = None
        self._searcher: Any = None

    def build(self, corpus_path: str, workdir: str) -> None:
        tantivy = require("tantivy")
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("article", stored=True, tokenizer_name="raw")
        builder.add_integer_field("paragraph", stored=True)
        builder.add_text_field("title", tokenizer_name="en_stem")
        builder.add_text_field("text", stored=self.store_text, tokenizer_name="en_stem")
        folder = Path(workdir) / "tantivy"
        folder.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(builder.build(), path=str(folder))
        writer = self._index.writer(self.heap_bytes, self.threads)
        for article, number, title, text in paragraphs(corpus_path):
            writer.add_document(
                tantivy.Document(article=article, paragraph=number, title=title, text=text)
            )
        writer.commit()
        writer.wait_merging_threads()
        self._searcher = None

    def open(self, workdir: str) -> None:
        tantivy = require("tantivy")
        self._index = tantivy.Index.open(str(Path(workdir) / "tantivy"))
        self._searcher = None

    def _run(self, text: str, fields: list[str], k: int) -> list[Hit]:
        if self._searcher is None:
            self._index.reload()
            self._searcher = self._index.searcher()
        if not text.strip() or k <= 0:
            return []
        query = self._index.parse_query(text, fields)
        hits = []
        for score, address in self._searcher.search(query, k).hits:
            doc = self._searcher.doc(address)
            hits.append((doc["article"][0], int(doc["paragraph"][0]), float(score)))
        return hits

    def search(self, query: str, k: int) -> list[Hit]:
        return self._run(" ".join(words(query)), ["title", "text"], k)

    def query(self, kind: str, terms: list[str], k: int) -> int:
        text = {"or": " ".join(terms), "and": " AND ".join(terms)}.get(kind)
        text = text if text is not None else '"' + " ".join(terms) + '"'
        return len(self._run(text, ["text"], k))

    def close(self) -> None:
        self._searcher = None


def fts5_available() -> bool:
    """Whether this Python's sqlite3 library was compiled with FTS5."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.Error:
        return False
    return True


def _fts_quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


class SqliteEngine:
    """SQLite FTS5 (stdlib ``sqlite3``): ``porter unicode61`` tokenizer, ranked by its built-in
    ``bm25()`` (k1=1.2, b=0.75); no stopword list."""

    kinds = frozenset({"or", "and", "phrase"})

    def __init__(self, name: str = "sqlite-fts5") -> None:
        if not fts5_available():
            raise EngineUnavailable("this Python's SQLite was built without FTS5")
        self.name = name
        self._db: sqlite3.Connection | None = None

    def build(self, corpus_path: str, workdir: str) -> None:
        path = Path(workdir) / "fts5.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.execute(
            "CREATE VIRTUAL TABLE p USING fts5(article UNINDEXED, paragraph UNINDEXED, title, "
            "text, tokenize='porter unicode61')"
        )
        with self._db:
            self._db.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", paragraphs(corpus_path))
        self._db.execute("INSERT INTO p(p) VALUES ('optimize')")
        self._db.commit()

    def open(self, workdir: str) -> None:
        self._db = sqlite3.connect(str(Path(workdir) / "fts5.db"))

    def _run(self, match: str, k: int) -> list[Hit]:
        if self._db is None:
            raise EngineUnavailable("SqliteEngine used before build/open")
        rows = self._db.execute(
            "SELECT article, paragraph, rank FROM p WHERE p MATCH ? ORDER BY rank LIMIT ?",
            (match, k),
        )
        return [(article, int(number), -float(rank)) for article, number, rank in rows]

    def search(self, query: str, k: int) -> list[Hit]:
        terms = words(query)
        if not terms or k <= 0:
            return []
        return self._run("{title text} : (" + " OR ".join(map(_fts_quote, terms)) + ")", k)

    def query(self, kind: str, terms: list[str], k: int) -> int:
        if kind == "phrase":
            match = "text : " + _fts_quote(" ".join(terms))
        else:
            joiner = " AND " if kind == "and" else " OR "
            match = "text : (" + joiner.join(map(_fts_quote, terms)) + ")"
        return len(self._run(match, k))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
