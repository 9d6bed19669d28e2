"""Loaders: row counts, files, and the thread-coarsening inputs joined by kernel name."""
import csv
import shutil

import numpy as np
import pytest

from inst2vec.errors import DataNotFoundError, Inst2vecError
from tasks.datasets import COARSENING_FACTORS, load_devmap, load_threadcoarsening


def test_devmap_rows_resolve_to_their_ir(data_root):
    data = load_devmap("amd", data_root)
    assert len(data.labels) == 680 and data.features.shape == (680, 8)
    assert data.labels.sum() == 680 - 400  # static mapping (CPU) is right for 400 rows: 58.82 %
    npb = [n for n in data.names if n.startswith("npb-")]
    assert npb and all("_" in n for n in npb)  # NPB rows name their data set class


def test_threadcoarsening_inputs_are_joined_by_kernel_name(data_root):
    data = load_threadcoarsening("Fermi", data_root)
    with open(data_root / "threadcoarsening" / "pact-2014-oracles.csv") as f:
        oracle = {r["kernel"]: int(float(r["cf_Fermi"])) for r in csv.DictReader(f)}
    with open(data_root / "threadcoarsening" / "pact-2014-runtimes.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(data.kernels) == sorted(oracle)
    for i, kernel in enumerate(data.kernels):
        assert data.files[i].endswith(f"/{kernel}.ll")
        assert data.oracle_factor[i] == oracle[kernel]
        mine = [r for r in rows if r["kernel"] == kernel]
        for r in mine:
            j = COARSENING_FACTORS.index(int(float(r["cf"])))
            assert np.array_equal(data.runtimes[i, j], float(r["runtime_Fermi"] or "nan"), equal_nan=True)
    # The runtimes table does not list kernels in oracle order: indexing it by oracle row (the
    # original's bug) would pair labels with other kernels' inputs.
    assert [r["kernel"] for r in rows][0] != data.kernels[0]


def test_oracle_speedups_match_the_published_upper_bounds(data_root):
    bounds = {"Cypress": 1.50, "Tahiti": 1.40, "Fermi": 1.34, "Kepler": 1.18}
    for platform, bound in bounds.items():
        data = load_threadcoarsening(platform, data_root)
        oracle = np.mean([data.speedup(i, data.labels[i]) for i in range(17)])
        assert round(oracle, 2) == bound


def test_missing_or_truncated_data_names_the_file(tmp_path, data_root):
    with pytest.raises(DataNotFoundError, match="devmap"):
        load_devmap("amd", tmp_path)
    (tmp_path / "devmap").mkdir()
    with open(data_root / "devmap" / "cgo17-amd.csv") as f:
        head = "".join(f.readlines()[:50])
    (tmp_path / "devmap" / "cgo17-amd.csv").write_text(head)
    with pytest.raises(Inst2vecError, match="cgo17-amd.csv: .* rows, expected 680"):
        load_devmap("amd", tmp_path)
    with pytest.raises(Inst2vecError, match="unknown devmap platform"):
        load_devmap("intel", data_root)


def test_missing_kernel_ir_is_reported(tmp_path, data_root):
    shutil.copytree(data_root / "threadcoarsening", tmp_path / "threadcoarsening")
    (tmp_path / "threadcoarsening" / "kernels_ir" / "sgemm.ll").unlink()
    with pytest.raises(DataNotFoundError, match="sgemm.ll"):
        load_threadcoarsening("Kepler", tmp_path)
