"""TREC run files: ``qid Q0 docid rank score tag``, one retrieved document per line."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from searchlib.evaluation.common import Run
from searchlib.evaluation.errors import RunFileError
from searchlib.evaluation.metrics import rank


def format_run(run: Run, tag: str = "searchlib") -> Iterable[str]:
    """Run lines, each query ranked as trec_eval will rank it (so the rank column agrees)."""
    if not tag or any(c.isspace() for c in tag):
        raise RunFileError(f"run tag must be one non-empty word, got {tag!r}")
    for qid, scores in run.items():
        for position, docid in enumerate(rank(scores), start=1):
            if not docid or any(c.isspace() for c in qid + docid):
                raise RunFileError(f"ids must be non-empty and without spaces: {qid!r} {docid!r}")
            yield f"{qid} Q0 {docid} {position} {scores[docid]!r} {tag}"


def write_run(path: str | Path, run: Run, tag: str = "searchlib") -> None:
    """Write ``run`` as a TREC run file (scores in full float precision, so reading is exact)."""
    lines = list(format_run(run, tag))
    try:
        Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise RunFileError(f"cannot write run file {path}: {exc}") from None


def read_run(path: str | Path) -> Run:
    """Parse a TREC run file; the rank column is ignored (trec_eval re-ranks by score)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFileError(f"cannot read run file {path}: {exc}") from None
    run: Run = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 6:
            raise RunFileError(f"{path}:{number}: expected 'qid Q0 docid rank score tag'")
        qid, _, docid, _, score_text, _ = fields
        try:
            score = float(score_text)
        except ValueError:
            raise RunFileError(f"{path}:{number}: score {score_text!r} is not a number") from None
        if math.isnan(score):
            raise RunFileError(f"{path}:{number}: score is NaN")
        scores = run.setdefault(qid, {})
        if docid in scores:
            raise RunFileError(f"{path}:{number}: {docid!r} listed twice for query {qid!r}")
        scores[docid] = score
    return run
