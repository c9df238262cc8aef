"""Load a test collection (corpus + queries + qrels) from disk.

Two layouts are understood, file by file:

* corpus: ``corpus.jsonl`` (records with ``id`` or ``_id``, ``title``, ``text``), or whatever
  ``dataset.json``'s ``"corpus"`` names (a path relative to the dataset folder: any file or
  folder ``searchlib index`` reads, read the same way);
* queries: ``queries.tsv`` (``qid<TAB>text``) or BEIR ``queries.jsonl`` (``_id``, ``text``);
* qrels: TREC ``qrels.txt`` (``qid 0 docid rel``) or BEIR ``qrels/test.tsv``
  (header ``query-id corpus-id score``, tab separated).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from searchlib.evaluation.common import Qrels, split_paragraph_id
from searchlib.evaluation.errors import DatasetError

Level = Literal["article", "paragraph"]


@dataclass(frozen=True)
class Dataset:
    """A test collection.

    ``queries`` holds every query, judged or not; only queries present in ``qrels`` count in
    metric averages (the trec_eval convention: unjudged queries say nothing about quality).
    ``level`` is "paragraph" when every qrels docid has the form ``<article_id>#<n>``.
    """

    name: str
    corpus_path: str
    queries: dict[str, str]
    qrels: Qrels
    level: Level
    judged: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "judged", frozenset(self.qrels))


def load_dataset(path: str | Path) -> Dataset:
    """Read the collection in folder ``path``; raises ``DatasetError`` on missing/garbled files."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    meta = _read_meta(root / "dataset.json")
    queries = _load_queries(root)
    qrels = _load_qrels(root)
    unknown = sorted(set(qrels) - set(queries))
    if unknown:
        raise DatasetError(f"{root}: qrels judge query {unknown[0]!r}, which has no query text")
    return Dataset(
        name=str(meta.get("name") or root.resolve().name),
        corpus_path=str(_corpus_path(root, meta)),
        queries=queries,
        qrels=qrels,
        level=qrels_level(qrels),
    )


def qrels_level(qrels: Qrels) -> Level:
    """'paragraph' if every judged docid is ``<article>#<n>``, else 'article'."""
    docids = [docid for judged in qrels.values() for docid in judged]
    if docids and all(split_paragraph_id(d) is not None for d in docids):
        return "paragraph"
    return "article"


def _read_meta(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    return meta


def _corpus_path(root: Path, meta: dict[str, object]) -> Path:
    corpus = meta.get("corpus", "corpus.jsonl")
    if not isinstance(corpus, str):
        raise DatasetError(f"{root / 'dataset.json'}: 'corpus' must be a path string")
    resolved = (root / corpus).resolve()
    if not resolved.exists():
        raise DatasetError(f"{root}: corpus not found at {resolved}")
    return resolved


def _load_queries(root: Path) -> dict[str, str]:
    if (root / "queries.tsv").exists():
        return read_queries_tsv(root / "queries.tsv")
    if (root / "queries.jsonl").exists():
        return read_queries_jsonl(root / "queries.jsonl")
    raise DatasetError(f"{root}: no queries.tsv or queries.jsonl")


def _load_qrels(root: Path) -> Qrels:
    if (root / "qrels.txt").exists():
        return read_trec_qrels(root / "qrels.txt")
    if (root / "qrels" / "test.tsv").exists():
        return read_beir_qrels(root / "qrels" / "test.tsv")
    raise DatasetError(f"{root}: no qrels.txt or qrels/test.tsv")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with 1-based line numbers; I/O and decoding errors become DatasetError."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line.rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None


def _add_query(queries: dict[str, str], qid: str, text: str, where: str) -> None:
    if not qid:
        raise DatasetError(f"{where}: empty query id")
    if qid in queries:
        raise DatasetError(f"{where}: duplicate query id {qid!r}")
    queries[qid] = text


def read_queries_tsv(path: Path) -> dict[str, str]:
    """``qid<TAB>text`` per line."""
    queries: dict[str, str] = {}
    for number, line in _lines(path):
        qid, tab, text = line.partition("\t")
        if not tab:
            raise DatasetError(f"{path}:{number}: expected 'qid<TAB>text'")
        _add_query(queries, qid.strip(), text.strip(), f"{path}:{number}")
    return queries


def read_queries_jsonl(path: Path) -> dict[str, str]:
    """BEIR queries: one JSON object per line with ``_id`` and ``text``."""
    queries: dict[str, str] = {}
    for number, line in _lines(path):
        record = _json_record(line, f"{path}:{number}")
        if "_id" not in record or not isinstance(record.get("text"), str):
            raise DatasetError(f"{path}:{number}: query record needs '_id' and 'text'")
        _add_query(queries, str(record["_id"]), record["text"].strip(), f"{path}:{number}")
    return queries


def _json_record(line: str, where: str) -> dict[str, object]:
    try:
        record = json.loads(line)
    except ValueError:
        raise DatasetError(f"{where}: not valid JSON") from None
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected a JSON object")
    return record


def _add_judgment(qrels: Qrels, qid: str, docid: str, rel: str, where: str) -> None:
    try:
        grade = int(rel)
    except ValueError:
        raise DatasetError(f"{where}: relevance {rel!r} is not an integer") from None
    judged = qrels.setdefault(qid, {})
    if docid in judged:
        raise DatasetError(f"{where}: duplicate judgment for query {qid!r}, doc {docid!r}")
    judged[docid] = grade


def read_trec_qrels(path: Path) -> Qrels:
    """TREC qrels: ``qid iteration docid rel``, whitespace separated (iteration is ignored)."""
    qrels: Qrels = {}
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) != 4:
            raise DatasetError(f"{path}:{number}: expected 'qid 0 docid rel' (4 fields)")
        qid, _, docid, rel = fields
        _add_judgment(qrels, qid, docid, rel, f"{path}:{number}")
    return qrels


def read_beir_qrels(path: Path) -> Qrels:
    """BEIR qrels: a ``query-id corpus-id score`` header, then tab-separated rows."""
    qrels: Qrels = {}
    for index, (number, line) in enumerate(_lines(path)):
        fields = [f.strip() for f in line.split("\t")]
        if index == 0 and fields[0] == "query-id":
            continue
        if len(fields) != 3:
            raise DatasetError(f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
        qid, docid, rel = fields
        _add_judgment(qrels, qid, docid, rel, f"{path}:{number}")
    return qrels
