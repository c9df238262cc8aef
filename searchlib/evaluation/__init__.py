"""Offline evaluation of paragraph-level search: test collections, trec_eval-exact metrics,
passage-to-article aggregation, TREC run files, engine adapters (whoosh, searchlib, peers) and
one benchmark runner (``suite``). Every engine reads the corpus through ``searchlib.corpus``.

Importing this package loads neither whoosh, searchlib's index nor tabulate: each is imported
inside the one function that needs it.
"""

from searchlib.evaluation.aggregate import METHODS, Method, aggregate, aggregate_scores
from searchlib.evaluation.common import Qrels, Run, paragraph_id, split_paragraph_id
from searchlib.evaluation.corpus import Article, iter_articles, paragraphs
from searchlib.evaluation.datasets import Dataset, load_dataset, qrels_level
from searchlib.evaluation.engines import (
    ENGINE_NAMES,
    Engine,
    SearchlibEngine,
    WhooshEngine,
    lowercase_operators,
    make_engine,
)
from searchlib.evaluation.errors import (
    DatasetError,
    EngineUnavailable,
    EvaluationError,
    RunFileError,
)
from searchlib.evaluation.metrics import (
    DEFAULT_METRICS,
    evaluate,
    evaluate_per_query,
    parse_metric,
    rank,
)
from searchlib.evaluation.runs import read_run, write_run
from searchlib.evaluation.suite import Options, Row, compare, cut, retrieve, table
from searchlib.evaluation.sweep import Setting, SweepError, parse_spec, parse_specs
from searchlib.evaluation.typos import add_typos, typo_queries

__all__ = [
    "DEFAULT_METRICS",
    "ENGINE_NAMES",
    "METHODS",
    "Article",
    "Dataset",
    "DatasetError",
    "Engine",
    "EngineUnavailable",
    "EvaluationError",
    "Method",
    "Options",
    "Qrels",
    "Run",
    "Row",
    "RunFileError",
    "SearchlibEngine",
    "Setting",
    "SweepError",
    "WhooshEngine",
    "add_typos",
    "aggregate",
    "aggregate_scores",
    "compare",
    "cut",
    "evaluate",
    "evaluate_per_query",
    "iter_articles",
    "load_dataset",
    "lowercase_operators",
    "make_engine",
    "paragraph_id",
    "paragraphs",
    "parse_metric",
    "parse_spec",
    "parse_specs",
    "qrels_level",
    "rank",
    "read_run",
    "retrieve",
    "split_paragraph_id",
    "table",
    "typo_queries",
    "write_run",
]
