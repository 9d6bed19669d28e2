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


def test_platforms_in_any_case_and_short_reprs(data_root):
    """`task --platform fermi` was accepted while `load_threadcoarsening("fermi", …)` was refused; and the data
    classes printed every row of every column (tens of kilobytes for devmap) in a REPL."""
    devmap, coarsening = load_devmap("NVIDIA", data_root), load_threadcoarsening("fermi", data_root)
    assert (devmap.platform, coarsening.platform) == ("nvidia", "Fermi")  # as the tables' columns spell them
    assert repr(devmap) == "DevmapData<nvidia: 680 rows, 256 kernels, 7 suites, GPU best in 387>"
    assert repr(coarsening) == "CoarseningData<Fermi: 17 kernels>"
    with pytest.raises(Inst2vecError, match="unknown threadcoarsening platform 'Fermi2'; choose from Cypress, "):
        load_threadcoarsening("Fermi2", data_root)


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


def _damaged_copy(tmp_path, data_root, dataset: str, table: str, edit) -> None:
    """``tmp_path/dataset``: the real data set (its IR linked) with ``table``'s rows changed by ``edit``."""
    (tmp_path / dataset).mkdir()
    (tmp_path / dataset / "kernels_ir").symlink_to(data_root / dataset / "kernels_ir")
    for csv_file in (data_root / dataset).glob("*.csv"):
        with open(csv_file, newline="") as f:
            rows = list(csv.reader(f))
        with open(tmp_path / dataset / csv_file.name, "w", newline="") as f:
            csv.writer(f).writerows(edit(rows) if csv_file.name == table else rows)


def _set(column: str, value: str, row: int = 3):
    def edit(rows):
        rows[row][rows[0].index(column)] = value
        return rows
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set("runtime_cpu", "abc"), r"cgo17-amd.csv:\d+: runtime_cpu is 'abc', not a number"),
    (_set("transfer", "nan"), r"transfer is 'nan', not finite"),
    (_set("runtime_gpu", "0"), r"runtime_gpu is '0', not above 0"),
    (_set("comp", "-3"), r"comp is '-3', below 0"),
    (_set("oracle", "FPGA"), r"oracle is 'FPGA', not one of CPU, GPU"),
    (lambda rows: _set("oracle", {"CPU": "GPU", "GPU": "CPU"}[rows[3][rows[0].index("oracle")]])(rows),
     r"cgo17-amd.csv:\d+: oracle is (CPU|GPU), but it ran slower \(runtime_cpu .*\); 1 such row"),
    (_set("benchmark", ""), r"benchmark is '', not a name"),
    (lambda rows: [r[:-3] for r in rows], r"cgo17-amd.csv: no column runtime_gpu in its header line"),
    (lambda rows: [], r"cgo17-amd.csv: empty, no header line"),
    (lambda rows: rows[:4] + [rows[4][:10]] + rows[5:], r"cgo17-amd.csv:\d+: no \w+: the row has fewer fields"),
])
def test_damaged_devmap_fields_are_refused_naming_file_line_and_value(tmp_path, data_root, edit, message):
    _damaged_copy(tmp_path, data_root, "devmap", "cgo17-amd.csv", edit)
    with pytest.raises(Inst2vecError, match=message):
        load_devmap("amd", tmp_path)
    load_devmap("nvidia", tmp_path)  # the other platform's table is untouched


def test_damaged_field_names_the_line_it_starts_on(tmp_path, data_root):
    # The devmap tables hold each kernel's source in a quoted field of many lines; a blank line is no row.
    def edit(rows):
        rows = _set("oracle", "FPGA", row=5)(rows)
        return rows[:3] + [[]] + rows[3:]

    _damaged_copy(tmp_path, data_root, "devmap", "cgo17-amd.csv", edit)
    with pytest.raises(Inst2vecError, match=r"cgo17-amd.csv:(\d+): ") as caught:
        load_devmap("amd", tmp_path)
    line = int(caught.value.args[0].split(".csv:")[1].split(":")[0])
    lines = (tmp_path / "devmap" / "cgo17-amd.csv").read_text().split("\n")
    assert line > 6 and lines[line - 1].startswith("4,") and ",FPGA," in lines[line - 1]


@pytest.mark.parametrize("table, edit, message", [
    ("pact-2014-runtimes.csv", _set("cf", "3"), r"runtimes.csv:\d+: cf is '3', not a coarsening factor"),
    ("pact-2014-runtimes.csv", _set("PCA3", "x"), r"PCA3 is 'x', not a number"),
    ("pact-2014-runtimes.csv", _set("runtime_Kepler", "-5"), r"runtime_Kepler is '-5', not above 0"),
    ("pact-2014-runtimes.csv", lambda rows: rows + [rows[2]], r"kernel 'blackscholes' at factor 2 again \(first on"),
    ("pact-2014-oracles.csv", _set("cf_Kepler", "64.0"), r"oracles.csv:4: cf_Kepler is '64.0', not a coarsening"),
    ("pact-2014-oracles.csv", _set("cf_Kepler", "32.0", row=1),
     r"oracles.csv:2: cf_Kepler is 32 for binarySearch, but pact-2014-runtimes.csv has it fastest at factor 16"),
    ("pact-2014-oracles.csv", lambda rows: rows[:2] + rows[1:-1], r"oracles.csv:3: kernel 'binarySearch' again"),
])
def test_damaged_threadcoarsening_fields_are_refused(tmp_path, data_root, table, edit, message):
    _damaged_copy(tmp_path, data_root, "threadcoarsening", table, edit)
    with pytest.raises(Inst2vecError, match=message):
        load_threadcoarsening("Kepler", tmp_path)
