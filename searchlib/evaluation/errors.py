"""Errors raised by the evaluation toolkit, all catchable as ``SearchlibError``."""

from __future__ import annotations

from searchlib.errors import SearchlibError


class EvaluationError(SearchlibError):
    """Base class for evaluation failures (one-line, actionable messages)."""


class DatasetError(EvaluationError):
    """A test collection is missing a file or a file is garbled."""


class RunFileError(EvaluationError):
    """A TREC run file cannot be parsed or written."""


class EngineUnavailable(EvaluationError):
    """An engine's backing library is missing or lacks the expected API."""
