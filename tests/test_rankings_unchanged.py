"""Refactors must not move a single ranking: the top-100 of every query of the four test
collections, recorded before the scoring-path redesign, must come back identical (ids in
order, scores to 1e-9). Regenerate only when a change is *meant* to alter ranking:
`python tests/data/record_rankings.py`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import searchlib
from searchlib.evaluation.datasets import load_dataset
from searchlib.evaluation.engines import lowercase_operators

from .conftest import need_datasets

BASELINE = Path(__file__).parent / "data" / "rankings-before.json.gz"
COLLECTIONS = ("cranfield", "npl", "cacm", "med")
DEPTH = 100


def current_rankings(dataset_dir: Path, workdir: Path) -> dict[str, list]:
    dataset = load_dataset(dataset_dir)
    idx = searchlib.Index.build([dataset.corpus_path], workdir)
    try:
        return {qid: [list(h) for h in idx.rank(lowercase_operators(text), DEPTH, fuzzy=False)]
                for qid, text in dataset.queries.items()}
    finally:
        idx.close()


@pytest.mark.parametrize("name", COLLECTIONS)
def test_rankings_match_recorded_baseline(name, tmp_path):
    root = need_datasets()
    expected = json.loads(gzip.decompress(BASELINE.read_bytes()))[name]
    got = current_rankings(root / name, tmp_path / "idx")
    assert got.keys() == expected.keys()
    for qid, hits in expected.items():
        assert [h[:2] for h in got[qid]] == [h[:2] for h in hits], f"{name} query {qid}"
        for (_, _, score), (_, _, want) in zip(got[qid], hits):
            assert score == pytest.approx(want, rel=0, abs=1e-9), f"{name} query {qid}"
