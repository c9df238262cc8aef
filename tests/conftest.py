from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import searchlib

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"
DATASETS = SHARED / "datasets"
SEED_ID = "north-korea-ukraine-war.txt"


def need_datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip("../shared/datasets not found (only present in the dev/CI workspace)")
    return DATASETS


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> searchlib.Index:
    """The seed article, indexed once per test session (read-only use)."""
    root = tmp_path_factory.mktemp("seed") / "index"
    return searchlib.Index.build([SEEDS], root)


@pytest.fixture
def seed_copy(tmp_path) -> Path:
    """A writable copy of the seeds folder."""
    dst = tmp_path / "articles"
    shutil.copytree(SEEDS, dst)
    return dst
