"""Shared fixtures: the real data sets under ``../shared/data`` (or ``$INST2VEC_DATA``)."""
from pathlib import Path

import pytest

from inst2vec.data import data_root as resolve_data_root



@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root; fails (never skips) when it is missing, naming where it looked."""
    root = resolve_data_root().resolve()
    if not (root / "devmap" / "kernels_ir").is_dir():
        pytest.fail(f"data sets not found at {root}: set INST2VEC_DATA to the folder holding devmap/, "
                    "threadcoarsening/, inst2vec-published/ (see README, Data)")
    return root


@pytest.fixture(scope="session")
def published_vocabulary(data_root) -> list:
    import json

    with open(data_root / "inst2vec-published" / "vocabulary.json", encoding="utf-8") as f:
        return json.load(f)
