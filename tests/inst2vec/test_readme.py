"""The README's Python example runs as printed, on a real kernel of the thread-coarsening data."""
import re
import shutil
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs(data_root, tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example; this test runs it"
    shutil.copy(data_root / "threadcoarsening" / "kernels_ir" / "blackscholes.ll", tmp_path / "kernel.ll")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(blocks[0], str(README), "exec"), names)  # the README's own text, not data
    statements, vectors, pooled = names["statements"], names["vectors"], names["pooled"]
    assert len(statements) > 10 and vectors.shape == (len(statements), names["emb"].dim)
    assert names["graph"].number_of_edges() > 0 and sum(names["pairs"].values()) > 0
    assert pooled.flow.shape == (names["emb"].dim,) and np.isfinite(pooled.flow).all() and pooled.functions
