"""scripts/compare_runs.py and scripts/coarsening_seeds.py on the committed ncc runs (three seeds per embedding)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ttest_ind

from tasks.datasets import load_devmap

PROJECT = Path(__file__).resolve().parents[2]
RUNS = ["ncc-50epochs", "ncc-50epochs-seed1", "ncc-50epochs-seed2"]


def side(embeddings: str) -> list[Path]:
    return [PROJECT / "docs" / "results" / run / f"devmap-amd-ncc-{embeddings}.json" for run in RUNS]


def test_compare_runs_pairs_rows_and_tests_the_seeds(data_root):
    published, ours = side("published"), side("ours")
    output = subprocess.run(
        [sys.executable, str(PROJECT / "scripts" / "compare_runs.py"), ",".join(map(str, published)),
         ",".join(map(str, ours)), str(data_root)], capture_output=True, text=True, check=True, cwd=PROJECT).stdout
    lines = [json.loads(line) for line in output.splitlines()]
    pairs = [line for line in lines if "pair" in line]
    assert [p["pair"] for p in pairs[:3]] == ["A vs B, seed 0", "A vs B, seed 1", "A vs B, seed 2"]
    assert len(pairs) == 3 + 3 + 3  # three seeds paired across, and three pairs within each side

    labels = load_devmap("amd", data_root).labels
    seed = json.loads(published[2].read_text())["seeds"][0]
    other = json.loads(ours[2].read_text())["seeds"][0]
    right_a, right_b = np.asarray(seed["predictions"]) == labels, np.asarray(other["predictions"]) == labels
    assert pairs[2]["right_only_in_a"] == int((right_a & ~right_b).sum())
    assert pairs[2]["right_only_in_b"] == int((~right_a & right_b).sum())
    assert pairs[2]["accuracy_a"] == pytest.approx(seed["accuracy"], abs=1e-4)

    accuracy = {name: [json.loads(f.read_text())["seeds"][0]["accuracy"] for f in files]
                for name, files in (("published", published), ("ours", ours))}
    welch = lines[-1]
    assert welch["seeds_a"] == welch["seeds_b"] == 3
    assert welch["p"] == pytest.approx(ttest_ind(accuracy["ours"], accuracy["published"], equal_var=False).pvalue,
                                       abs=1e-4)
    assert welch["mean_difference"] == pytest.approx(np.mean(accuracy["ours"]) - np.mean(accuracy["published"]),
                                                     abs=1e-4)


def test_no_welch_test_between_sides_that_every_seed_gives_the_same_figure(data_root):
    """The committed boost runs are deterministic (three identical seeds per side): the t-test printed
    t = 2.6e13 and p = 0 for a difference of 0.29 pp that McNemar's test finds p = 0.81 for."""
    files = [str(PROJECT / "docs" / "results" / f"devmap-amd-boost-{e}.json") for e in ("ours", "published")]
    output = subprocess.run([sys.executable, str(PROJECT / "scripts" / "compare_runs.py"), *files, str(data_root)],
                            capture_output=True, text=True, check=True, cwd=PROJECT).stdout
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["mcnemar_exact_p"] == pytest.approx(0.8145, abs=1e-4)
    assert lines[-1]["p"] is None and lines[-1]["t"] is None and "no seed noise" in lines[-1]["note"]
    assert lines[-1]["mean_difference"] == pytest.approx(0.0029, abs=1e-4)


def test_compare_runs_refuses_two_configurations_on_one_side(data_root):
    mixed = ",".join(map(str, [side("published")[0], side("ours")[1]]))
    result = subprocess.run([sys.executable, str(PROJECT / "scripts" / "compare_runs.py"), mixed,
                             str(side("ours")[0]), str(data_root)], capture_output=True, text=True, cwd=PROJECT)
    assert result.returncode != 0 and "one configuration" in result.stderr


def test_coarsening_seeds_against_the_result_files():
    """scripts/coarsening_seeds.py on the committed ncc coarsening runs: figures recomputed from the files."""
    runs = [PROJECT / "docs" / "results", *(PROJECT / "docs" / "results" / run for run in RUNS[1:])]
    output = subprocess.run([sys.executable, str(PROJECT / "scripts" / "coarsening_seeds.py"), "published", "ours",
                             "--runs", ",".join(map(str, runs))], capture_output=True, text=True, check=True,
                            cwd=PROJECT).stdout
    lines = [json.loads(line) for line in output.splitlines()]
    seeds = {name: [[json.loads((run / f"threadcoarsening-{p}-ncc-{name}.json").read_text())["seeds"][0]
                     for p in ("Cypress", "Tahiti", "Fermi", "Kepler")] for run in runs]
             for name in ("published", "ours")}
    means = {name: [np.mean([s["speedup"] for s in by_run]) for by_run in seeds[name]] for name in seeds}
    sides = {line["side"]: line for line in lines if "four_platform_mean" in line}
    assert sides["ours"]["four_platform_mean"] == pytest.approx(means["ours"], abs=1e-3)
    assert sides["published"]["std"] == pytest.approx(np.std(means["published"], ddof=1), abs=1e-3)
    fermi = next(line for line in lines if line.get("within") == "ours" and line["platform"] == "Fermi"
                 and line["seeds"] == [0, 2])
    assert fermi["factors_changed"] == sum(a["predicted_factor"] != b["predicted_factor"]
                                           for a, b in zip(seeds["ours"][0][2]["folds"], seeds["ours"][2][2]["folds"]))
    assert lines[-1]["p"] == pytest.approx(ttest_ind(means["ours"], means["published"], equal_var=False).pvalue,
                                           abs=1e-4)
